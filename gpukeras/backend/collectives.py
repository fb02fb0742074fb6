"""Communication among the processes of one data-parallel job: MPI, and NCCL for GPU arrays.

One process per device. MPI (mpi4py, started by `mpirun`) is the process group: it carries small
host values (seeds, signatures, metric states) and, on the NumPy backend, the gradients
themselves. On the CuPy backend gradients never leave the GPU: they are summed by an NCCL
communicator whose id rank 0 hands out over MPI (Horovod's and ChainerMN's arrangement), or,
where CuPy has no NCCL, staged through host memory and MPI.

Gradients travel in flat float32 buckets (`bucket_bytes` each): one collective per bucket instead of
one per weight, and 16-bit gradients are summed in float32.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras.backend.base import Ops

DEFAULT_BUCKET_BYTES = 25 << 20


def mpi_launched() -> bool:
    """True when this process was started by an MPI launcher (Open MPI, MPICH, Intel MPI, Slurm PMI)."""
    return any(name in os.environ for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"))


def import_mpi() -> Any:
    """mpi4py's MPI module, or an ImportError saying what to install."""
    try:
        from mpi4py import MPI
    except ImportError as exc:  # optional dependency: gpukeras[mpi]
        raise ImportError("gpukeras.distribution needs mpi4py and an MPI library to run on several processes: "
                          "pip install 'gpukeras[mpi]' (mpi4py and Open MPI), then start the program with "
                          "`mpirun -n N python train.py`.") from exc
    return MPI


class HostTransport:
    """Sums and broadcasts flat buffers with MPI, through host memory (NumPy arrays stay in place)."""

    name = "mpi"

    def __init__(self, comm: Any, ops: Ops):
        self.comm, self.ops = comm, ops

    def allreduce_(self, flat: Any) -> Any:
        host = self.ops.to_numpy(flat)
        host = np.ascontiguousarray(host)
        self.comm.Allreduce(_in_place(), host)
        if self.ops.is_array(host):  # the NumPy backend: summed where it lies
            return host
        return self.ops.asarray(host)

    def broadcast_(self, flat: Any, root: int = 0) -> Any:
        host = np.ascontiguousarray(self.ops.to_numpy(flat))
        self.comm.Bcast(host, root=root)
        return host if self.ops.is_array(host) else self.ops.asarray(host)

    def start_allreduce(self, flat: Any) -> tuple[Any, Any]:
        """Begin summing `flat` (MPI Iallreduce); `finish_allreduce` waits and returns the sum."""
        host = np.ascontiguousarray(self.ops.to_numpy(flat))
        return host, self.comm.Iallreduce(_in_place(), host)

    def finish_allreduce(self, pending: tuple[Any, Any]) -> Any:
        host, request = pending
        request.Wait()
        return host if self.ops.is_array(host) else self.ops.asarray(host)


class NcclTransport:
    """Sums and broadcasts device buffers with NCCL on the current CUDA stream (CuPy backend)."""

    name = "nccl"

    def __init__(self, comm: Any, ops: Ops, rank: int, size: int):
        from cupy.cuda import nccl  # CuPy's NCCL binding: only where CuPy is (this transport's backend)

        self.nccl, self.ops, self.cuda = nccl, ops, ops.xp.cuda
        uid = comm.bcast(nccl.get_unique_id() if rank == 0 else None, root=0)
        self.communicator = nccl.NcclCommunicator(size, uid, rank)

    def _args(self, flat: Any) -> tuple:
        kinds = {"float32": self.nccl.NCCL_FLOAT32, "float64": self.nccl.NCCL_FLOAT64,
                 "int64": self.nccl.NCCL_INT64, "int32": self.nccl.NCCL_INT32}
        return flat.data.ptr, flat.size, kinds[str(flat.dtype)], self.cuda.get_current_stream().ptr

    def allreduce_(self, flat: Any) -> Any:
        ptr, count, kind, stream = self._args(flat)
        self.communicator.allReduce(ptr, ptr, count, kind, self.nccl.NCCL_SUM, stream)
        return flat

    def broadcast_(self, flat: Any, root: int = 0) -> Any:
        ptr, count, kind, stream = self._args(flat)
        self.communicator.bcast(ptr, count, kind, root, stream)
        return flat

    def start_allreduce(self, flat: Any) -> tuple[Any, Any]:
        """Sum `flat` on a side stream once the main stream has made it, so the backward pass goes on."""
        main = self.cuda.get_current_stream()
        if not hasattr(self, "side"):
            self.side = self.cuda.Stream(non_blocking=True)
        made = self.cuda.Event()
        made.record(main)
        self.side.wait_event(made)
        ptr, count, kind, _ = self._args(flat)
        self.communicator.allReduce(ptr, ptr, count, kind, self.nccl.NCCL_SUM, self.side.ptr)
        done = self.cuda.Event()
        done.record(self.side)
        return flat, done

    def finish_allreduce(self, pending: tuple[Any, Any]) -> Any:
        flat, done = pending
        self.cuda.get_current_stream().wait_event(done)
        return flat


def _in_place() -> Any:
    return import_mpi().IN_PLACE


def nccl_available(ops: Ops) -> bool:
    """Whether device arrays can be summed by NCCL here (the CuPy backend with CuPy's NCCL binding)."""
    if ops.name != "cupy":
        return False
    try:
        from cupy.cuda import nccl
    except ImportError:
        return False
    return bool(getattr(nccl, "available", True))


class ProcessGroup:
    """The processes of one job, seen from one of them: rank, size, and the collectives a trainer needs."""

    def __init__(self, comm: Any, ops: Ops, bucket_bytes: int = DEFAULT_BUCKET_BYTES, use_nccl: bool = True):
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.local_rank = _local_rank(comm)
        self.ops = ops
        self.bucket_bytes = int(bucket_bytes)
        self.host = HostTransport(comm, ops)
        nccl = use_nccl and nccl_available(ops)
        self.device = NcclTransport(comm, ops, self.rank, self.size) if nccl else self.host
        self.share = 1.0 / self.size

    # ---------------------------------------------------------------- host values
    def allgather(self, value: Any) -> list[Any]:
        """Every rank's `value` (a small picklable object), in rank order."""
        return self.comm.allgather(value)

    def broadcast_object(self, value: Any, root: int = 0) -> Any:
        return self.comm.bcast(value, root=root)

    def abort(self, code: int = 1) -> None:
        """End every process of the job now (MPI_Abort): no rank is left waiting in a collective."""
        self.comm.Abort(code)

    # ---------------------------------------------------------------- arrays
    def set_share(self, local_rows: int, global_rows: int) -> None:
        """This rank's part of the global batch: its gradients count `local_rows / global_rows`."""
        self.share = local_rows / global_rows

    def reduce_gradients(self, grads: Sequence[Any]) -> list[Any]:
        """Σ over ranks of share × gradient, in float32 buckets; None stays None (the same on every rank)."""
        return self._reduce(grads, self.share, self.device)

    def sum_arrays(self, arrays: Sequence[Any]) -> list[Any]:
        """Σ over ranks of each array (metric states), as float64 on the host: small, and exact for counts."""
        host = [np.asarray(self.ops.to_numpy(a), dtype=np.float64) for a in arrays]
        if not host:
            return []
        flat = np.concatenate([h.ravel() for h in host])
        self.comm.Allreduce(_in_place(), flat)
        return _split(flat, host)

    def broadcast_arrays(self, arrays: Sequence[Any], root: int = 0) -> list[Any]:
        """Rank `root`'s values of `arrays` (same shapes and dtypes on every rank), bucketed by dtype."""
        out: list[Any] = list(arrays)
        for dtype in sorted({str(a.dtype) for a in arrays}):
            index = [i for i, a in enumerate(arrays) if str(a.dtype) == dtype]
            xp = self.ops.xp
            flat = xp.concatenate([xp.ravel(arrays[i]) for i in index])
            transport = self.device if dtype in ("float32", "float64", "int32", "int64") else self.host
            flat = transport.broadcast_(flat, root)
            for i, part in zip(index, _split(flat, [arrays[i] for i in index])):
                out[i] = part
        return out

    def _reduce(self, grads: Sequence[Any], weight: float, transport: Any) -> list[Any]:
        xp = self.ops.xp
        out: list[Any] = [None] * len(grads)
        for bucket in _buckets(grads, self.bucket_bytes):
            parts = [grads[i] for i in bucket]
            flat = xp.concatenate([xp.ravel(p).astype("float32", copy=False) for p in parts])
            flat *= np.float32(weight)
            flat = transport.allreduce_(flat)
            for i, part in zip(bucket, _split(flat, parts)):
                out[i] = part if part.dtype == grads[i].dtype else part.astype(grads[i].dtype)
        return out


class ReducedGradients(list):
    """Gradients already summed over the ranks (`Optimizer.apply` must not sum them again)."""


class OverlappedReduction:
    """Sums one step's gradients over the ranks while the backward pass is still running.

    Buckets hold the variables in reverse order (the backward pass finishes the last layers first), each
    up to `bucket_bytes`; a bucket's sum starts as soon as its last gradient is final (`ready`) and
    `finish` waits for all of them. The buckets are the same on every rank (same model, same order), and
    a bucket with a variable the loss does not reach starts only in `finish`, on every rank alike.
    """

    def __init__(self, group: ProcessGroup, shapes: Sequence[tuple]):
        self.group = group
        order = list(range(len(shapes)))[::-1]
        like = [_Shape(shapes[i]) for i in order]
        self.buckets = [[order[j] for j in bucket] for bucket in _buckets(like, group.bucket_bytes)]
        self.bucket_of = {i: b for b, bucket in enumerate(self.buckets) for i in bucket}
        self.begin()

    def begin(self) -> None:
        """Forget the previous step."""
        self.grads: dict[int, Any] = {}
        self.started: set[int] = set()
        self.pending: dict[int, Any] = {}

    def ready(self, index: int, grad: Any) -> None:
        """The gradient of variable `index` is final: start its bucket's sum when the bucket is complete."""
        self.grads[index] = grad
        b = self.bucket_of[index]
        if b not in self.started and all(i in self.grads for i in self.buckets[b]):
            self._start(b)

    def finish(self, count: int) -> ReducedGradients:
        """Every bucket summed (those still waiting start now); the gradients in variable order."""
        for b in range(len(self.buckets)):
            if b not in self.started:
                self._start(b)
        out: list[Any] = [None] * count
        for parts, started in self.pending.values():
            flat = self.group.device.finish_allreduce(started)
            for i, part in zip(parts, _split(flat, [self.grads[i] for i in parts])):
                out[i] = part if part.dtype == self.grads[i].dtype else part.astype(self.grads[i].dtype)
        return ReducedGradients(out)

    def _start(self, b: int) -> None:
        self.started.add(b)
        parts = [i for i in self.buckets[b] if self.grads.get(i) is not None]
        if not parts:  # no gradient reaches these variables, on any rank
            return
        xp = self.group.ops.xp
        flat = xp.concatenate([xp.ravel(self.grads[i]).astype("float32", copy=False) for i in parts])
        flat *= np.float32(self.group.share)
        self.pending[b] = (parts, self.group.device.start_allreduce(flat))


class _Shape:
    """Stands in for an array where only the shape matters (bucket sizes)."""

    def __init__(self, shape: tuple):
        self.shape = tuple(shape)


def _buckets(arrays: Sequence[Any], bucket_bytes: int) -> list[list[int]]:
    """Indices of the non-None arrays in consecutive groups of at most `bucket_bytes` float32 bytes
    (an array larger than that is a bucket of its own)."""
    buckets: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, a in enumerate(arrays):
        if a is None:
            continue
        nbytes = int(np.prod(a.shape)) * 4
        if current and size + nbytes > bucket_bytes:
            buckets.append(current)
            current, size = [], 0
        current.append(i)
        size += nbytes
    if current:
        buckets.append(current)
    return buckets


def _split(flat: Any, like: Sequence[Any]) -> list[Any]:
    """Views of `flat` shaped as each of `like`, in order."""
    out, start = [], 0
    for a in like:
        n = int(np.prod(a.shape))
        out.append(flat[start:start + n].reshape(a.shape))
        start += n
    return out


def _local_rank(comm: Any) -> int:
    """This process's index among the job's processes on the same machine (its GPU's index)."""
    for name in ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"):
        if name in os.environ:
            return int(os.environ[name])
    MPI = import_mpi()
    return comm.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()


def install_abort_on_error(group: ProcessGroup) -> None:
    """An exception no one catches on any rank prints its traceback (with the rank) and aborts the whole
    job, instead of leaving the other ranks blocked in their next collective."""
    previous = sys.excepthook

    def hook(kind: type, value: BaseException, tb: Any) -> None:
        sys.stderr.write(f"gpukeras: rank {group.rank} of {group.size} failed; ending the job.\n")
        sys.stderr.write("".join(traceback.format_exception(kind, value, tb)))
        sys.stderr.flush()
        if previous is not sys.__excepthook__:
            previous(kind, value, tb)
        group.abort(1)

    sys.excepthook = hook


def world(ops: Ops, bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> ProcessGroup:
    """The process group of every process `mpirun` started (MPI_COMM_WORLD)."""
    return ProcessGroup(import_mpi().COMM_WORLD, ops, bucket_bytes)
