"""keras.distribution: data-parallel training, one process per device, started by `mpirun`.

    mpirun -n 4 python train.py      # train.py calls keras.distribution.initialize() first

`initialize()` reads the process group from MPI (no addresses to pass), picks this process's GPU
by its local rank, and makes an uncaught exception on any rank end the whole job. With a
`DataParallel` distribution set, `fit`/`evaluate` give each rank its slice of every global batch,
sum the gradients over ranks before each update, start every rank from rank 0's weights, and
report metrics over the whole batch (see docs/distributed.md). In one process everything here is a
no-op: the same script runs unchanged on one CPU or one GPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.backend import collectives
from gpukeras.tensor import Tensor

_group: collectives.ProcessGroup | None = None
_distribution: Distribution | None = None


# ---------------------------------------------------------------------- the process group
def initialize(job_addresses: Any = None, num_processes: int | None = None, process_id: int | None = None,
               bucket_bytes: int = collectives.DEFAULT_BUCKET_BYTES) -> None:
    """Join the job `mpirun` started (once per process; later calls do nothing).

    Keras 3's arguments are accepted as checks: MPI already knows the processes, so
    `num_processes`/`process_id` must agree with it and `job_addresses` must be None."""
    global _group
    if job_addresses is not None:
        raise ValueError("gpukeras reads the process group from MPI: start the program with "
                         "`mpirun -n N [-H host1,host2] python train.py` instead of passing `job_addresses`.")
    if _group is None:
        if not collectives.mpi_launched():
            if num_processes not in (None, 1) or process_id not in (None, 0):
                raise ValueError(f"initialize(num_processes={num_processes}, process_id={process_id}): this process "
                                 "was not started by an MPI launcher; run `mpirun -n N python train.py`.")
            return  # one process, no launcher: nothing to join
        _group = collectives.world(_backend.active, bucket_bytes)
        collectives.install_abort_on_error(_group)
        _backend.active.use_device(_group.local_rank)
    for name, want, have in (("num_processes", num_processes, _group.size), ("process_id", process_id, _group.rank)):
        if want is not None and want != have:
            raise ValueError(f"initialize({name}={want}) disagrees with MPI, which started this process as "
                             f"{'rank ' + str(have) if name == 'process_id' else str(have) + ' processes'}.")


def num_processes() -> int:
    """How many processes the job has (1 without `mpirun`)."""
    return 1 if _group is None else _group.size


def process_id() -> int:
    """This process's rank (0 without `mpirun`); rank 0 prints progress and writes checkpoints."""
    return 0 if _group is None else _group.rank


def is_chief() -> bool:
    """True on the process that writes files and prints (rank 0, or the only process)."""
    return process_id() == 0


def process_group() -> collectives.ProcessGroup | None:
    """The group training runs across: set when a DataParallel distribution spans several processes."""
    if _group is None or _group.size == 1 or not isinstance(_distribution, DataParallel):
        return None
    return _group


def reduce_gradients(grads: Sequence[Any]) -> Sequence[Any]:
    """The gradients summed over ranks (each weighted by its share of the batch); as given in one process."""
    group = process_group()
    if group is None or isinstance(grads, collectives.ReducedGradients):  # summed already, during backward
        return grads
    B = _backend.active
    arrays = [g.data if isinstance(g, Tensor) else (g if g is None or B.is_array(g) else B.asarray(g)) for g in grads]
    return group.reduce_gradients(arrays)


# ---------------------------------------------------------------------- devices and distributions
def list_devices(device_type: str | None = None) -> list[str]:
    """The job's devices, one per process: 'gpu:<rank>' on the CuPy backend, 'cpu:<rank>' on NumPy."""
    kind = "gpu" if _backend.backend() == "cupy" else "cpu"
    if device_type is not None and device_type.lower() != kind:
        raise ValueError(f"No {device_type!r} devices: this job runs on {kind} (backend {_backend.backend()!r}).")
    return [f"{kind}:{i}" for i in range(num_processes())]


class DeviceMesh:
    """Devices arranged on named axes (data parallelism uses one axis: the batch)."""

    def __init__(self, shape: Sequence[int], axis_names: Sequence[str], devices: Sequence[str] | None = None):
        shape, axis_names = tuple(int(s) for s in shape), tuple(axis_names)
        if len(shape) != len(axis_names):
            raise ValueError(f"DeviceMesh: shape {shape} and axis_names {axis_names} must have the same length.")
        devices = list(list_devices() if devices is None else devices)
        size = 1
        for s in shape:
            size *= s
        if size != len(devices):
            raise ValueError(f"DeviceMesh: shape {shape} holds {size} devices, but {len(devices)} were given.")
        self.shape, self.axis_names, self.devices = shape, axis_names, devices


class Distribution:
    """Base of the distributions; `scope()` sets one for a block."""

    def __init__(self, device_mesh: DeviceMesh):
        self.device_mesh = device_mesh

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        global _distribution
        previous, _distribution = _distribution, self
        try:
            yield
        finally:
            _distribution = previous


class DataParallel(Distribution):
    """Replicate the model on every device and split each batch among them (one process per device).

    Under `mpirun` the process group is joined here if `initialize()` was not called."""

    def __init__(self, device_mesh: DeviceMesh | None = None, devices: Sequence[str] | None = None,
                 auto_shard_dataset: bool = True):
        if device_mesh is not None and devices is not None:
            raise ValueError("DataParallel: pass `device_mesh` or `devices`, not both.")
        initialize()
        if device_mesh is None:
            devices = list(list_devices() if devices is None else devices)
            device_mesh = DeviceMesh((len(devices),), ("batch",), devices)
        if len(device_mesh.shape) != 1:
            raise ValueError(f"DataParallel needs a 1-D device mesh, got shape {device_mesh.shape}.")
        if len(device_mesh.devices) != num_processes():
            raise ValueError(f"DataParallel over {len(device_mesh.devices)} devices, but the job has "
                             f"{num_processes()} process(es): gpukeras runs one process per device "
                             f"(`mpirun -n {len(device_mesh.devices)} python train.py`).")
        super().__init__(device_mesh)
        self.batch_dim_name = device_mesh.axis_names[0]
        self.auto_shard_dataset = bool(auto_shard_dataset)


class ModelParallel(Distribution):
    """Sharding weights across devices is not implemented in gpukeras: only data parallelism is."""

    def __init__(self, *args: Any, **kwargs: Any):
        raise NotImplementedError("gpukeras supports data-parallel training only (DataParallel); "
                                  "ModelParallel (sharded weights) is not available.")


def set_distribution(value: Distribution | None) -> None:
    """Make `value` the distribution every later fit/evaluate uses (None: back to one process)."""
    global _distribution
    if value is not None and not isinstance(value, Distribution):
        raise TypeError(f"set_distribution expects a Distribution such as DataParallel, got {type(value).__name__}.")
    _distribution = value


def distribution() -> Distribution | None:
    """The distribution set now (None when training runs in one process)."""
    return _distribution


__all__ = ["DataParallel", "DeviceMesh", "Distribution", "ModelParallel", "distribution", "initialize",
           "is_chief", "list_devices", "num_processes", "process_group", "process_id", "reduce_gradients",
           "set_distribution"]
