"""Data-parallel training across processes (keras.distribution): the API in one process, the gradient
buckets on every backend, and real jobs under `mpirun` (Open MPI and mpi4py come with the test extra).

The jobs run tests/data_parallel_program.py: N ranks on one global batch must reach the weights,
losses and metrics of one process on the same batch, to float32 rounding; a rank that raises or dies
ends the job within 30 s; a model that differs between ranks is refused at the start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend, distribution
from gpukeras.backend import collectives
from gpukeras.trainers import data_parallel

PROGRAM = Path(__file__).with_name("data_parallel_program.py")
MPIRUN = shutil.which("mpirun", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))

try:
    import mpi4py  # noqa: F401

    HAVE_MPI4PY = True
except ImportError:
    HAVE_MPI4PY = False

needs_mpi = pytest.mark.skipif(MPIRUN is None or not HAVE_MPI4PY,
                               reason="needs mpirun and mpi4py: pip install -e '.[test]' installs both")


# ---------------------------------------------------------------------- one process
@pytest.mark.any_backend
def test_one_process_distribution_is_a_no_op():
    distribution.initialize()
    assert distribution.num_processes() == 1 and distribution.process_id() == 0 and distribution.is_chief()
    kind = "gpu" if backend.backend() == "cupy" else "cpu"
    assert distribution.list_devices() == [f"{kind}:0"]
    dp = distribution.DataParallel()
    assert dp.device_mesh.shape == (1,) and dp.batch_dim_name == "batch" and dp.auto_shard_dataset
    with dp.scope():
        assert distribution.distribution() is dp
        assert distribution.process_group() is None  # one process: nothing is summed
    assert distribution.distribution() is None


@pytest.mark.any_backend
def test_bad_distribution_arguments_are_named():
    with pytest.raises(ValueError, match="job_addresses"):
        distribution.initialize(job_addresses="10.0.0.1:1234,10.0.0.2:1234")
    with pytest.raises(ValueError, match="not started by an MPI launcher"):
        distribution.initialize(num_processes=2, process_id=1)
    with pytest.raises(ValueError, match="2 devices, but the job has 1 process"):
        distribution.DataParallel(devices=["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="shape .* and axis_names"):
        distribution.DeviceMesh((1, 1), ["batch"])
    with pytest.raises(NotImplementedError, match="data-parallel training only"):
        distribution.ModelParallel()
    with pytest.raises(TypeError, match="Distribution such as DataParallel"):
        distribution.set_distribution("data")
    with pytest.raises(ValueError, match="No 'gpu' devices|No 'cpu' devices"):
        distribution.list_devices("tpu" if backend.backend() == "cupy" else "gpu")


@pytest.mark.any_backend
def test_rows_split_contiguously_and_completely():
    for n in (45, 64, 7):
        for size in (1, 2, 3, 4):
            parts = [data_parallel.rows(n, r, size) for r in range(size)]
            assert parts[0][0] == 0 and parts[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
            assert max(h - lo for lo, h in parts) - min(h - lo for lo, h in parts) <= 1


@pytest.mark.any_backend
def test_buckets_group_gradients_up_to_the_byte_limit():
    arrays = [np.zeros(10), None, np.zeros(30), np.zeros(5), np.zeros(100), np.zeros(1)]
    assert collectives._buckets(arrays, bucket_bytes=160) == [[0, 2], [3], [4], [5]]
    assert collectives._buckets(arrays, bucket_bytes=1 << 20) == [[0, 2, 3, 4, 5]]


class _TwinRanksComm:
    """An MPI communicator standing in for two ranks holding the same values: a sum doubles them."""

    def __init__(self):
        self.started = []

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 2

    def Allreduce(self, _in_place, buf):
        buf *= 2

    def Iallreduce(self, _in_place, buf):
        self.started.append(buf.size)
        comm = self

        class Request:
            def Wait(self):
                comm.Allreduce(None, buf)

        return Request()

    def Bcast(self, buf, root=0):
        pass


@pytest.mark.skipif(not HAVE_MPI4PY, reason="needs mpi4py (the test extra installs it)")
def test_gradient_buckets_sum_weighted_shares_and_keep_shapes_and_dtypes(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "0")
    B = backend.active
    group = collectives.ProcessGroup(_TwinRanksComm(), B, bucket_bytes=64, use_nccl=False)
    group.set_share(3, 4)
    rng = np.random.default_rng(0)
    grads = [B.asarray(rng.normal(size=(3, 5)).astype("float32")), None,
             B.asarray(rng.normal(size=(7,)).astype("float16")), B.asarray(rng.normal(size=(2, 2)).astype("float32"))]
    out = group.reduce_gradients(grads)
    assert out[1] is None
    for g, r in zip(grads, out):
        if g is None:
            continue
        assert r.shape == g.shape and str(r.dtype) == str(g.dtype)
        want = (B.to_numpy(g).astype("float32") * np.float32(0.75)) * 2
        np.testing.assert_allclose(B.to_numpy(r).astype("float32"), want.astype(str(g.dtype)), rtol=1e-3)


@pytest.mark.skipif(not HAVE_MPI4PY, reason="needs mpi4py (the test extra installs it)")
def test_overlapped_buckets_start_as_gradients_finish_and_sum_like_the_plain_path(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "0")
    B = backend.active
    comm = _TwinRanksComm()
    group = collectives.ProcessGroup(comm, B, bucket_bytes=40, use_nccl=False)
    group.set_share(1, 4)
    rng = np.random.default_rng(1)
    shapes = [(3, 2), (2,), (2, 5), (5,)]
    grads = [B.asarray(rng.normal(size=s).astype("float32")) for s in shapes]
    reduction = collectives.OverlappedReduction(group, shapes)
    assert reduction.buckets == [[3], [2], [1, 0]]  # reverse order: the last layer's bucket first
    reduction.ready(3, grads[3])
    assert comm.started == [5]  # started before the earlier layers' gradients exist
    reduction.ready(2, grads[2])
    assert comm.started == [5, 10]
    reduction.ready(0, grads[0])  # variable 1 never gets a gradient (unreached): its bucket waits for finish
    assert comm.started == [5, 10]
    out = reduction.finish(len(shapes))
    assert comm.started == [5, 10, 6]
    assert isinstance(out, collectives.ReducedGradients) and out[1] is None
    for i in (0, 2, 3):
        np.testing.assert_allclose(B.to_numpy(out[i]), B.to_numpy(grads[i]) * np.float32(0.25) * 2, rtol=1e-6)
    assert distribution.reduce_gradients(out) is out  # never summed twice


class _OneRankComm:
    """mpi4py's communicator for a one-process job, without MPI: what the NCCL transport asks of it."""

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def bcast(self, value, root=0):
        return value


def test_the_device_transport_sums_broadcasts_and_overlaps_in_a_one_rank_job(monkeypatch):
    """On CuPy (the emulator's NCCL stands in for a GPU's) the gradients go through NCCL, with the
    overlapped buckets on a side stream; on NumPy through MPI's host path. One rank: a sum is the share."""
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "0")
    B = backend.active
    group = collectives.ProcessGroup(_OneRankComm(), B, bucket_bytes=64)
    assert group.device.name == ("nccl" if backend.backend() == "cupy" else "mpi")
    if group.device.name == "mpi":
        pytest.skip("NumPy's path is the host transport, run under mpirun by the tests below")
    rng = np.random.default_rng(2)
    shapes = [(4, 3), (3,), (3, 2)]
    grads = [B.asarray(rng.normal(size=s).astype("float32")) for s in shapes]
    for got, want in zip(group.reduce_gradients(grads), grads):
        np.testing.assert_array_equal(B.to_numpy(got), B.to_numpy(want))
    reduction = collectives.OverlappedReduction(group, shapes)
    for i in (2, 1, 0):
        reduction.ready(i, grads[i])
    for got, want in zip(reduction.finish(3), grads):
        np.testing.assert_array_equal(B.to_numpy(got), B.to_numpy(want))
    weights = [B.asarray(np.arange(6, dtype=dtype).reshape(2, 3)) for dtype in ("float32", "int64", "float32")]
    for got, want in zip(group.broadcast_arrays(weights), weights):
        np.testing.assert_array_equal(B.to_numpy(got), B.to_numpy(want))


@pytest.mark.any_backend
def test_only_rank_zero_keeps_callbacks_that_print_or_write(monkeypatch, tmp_path):
    class Rank1:
        rank, size = 1, 2

    monkeypatch.setattr(distribution, "_group", Rank1())
    mine = keras.callbacks.EarlyStopping()
    kept = keras.callbacks.CallbackList([keras.callbacks.ModelCheckpoint(str(tmp_path / "w.keras")),
                                         keras.callbacks.CSVLogger(str(tmp_path / "log.csv")), mine],
                                        add_progbar=True)
    assert kept.callbacks == [mine]


# ---------------------------------------------------------------------- jobs under mpirun
def _run(ranks: int | None, mode: str, out: Path, **env_vars: str) -> tuple[int, str, float]:
    env = dict(os.environ, GPUKERAS_BACKEND="numpy", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **env_vars)
    command = [sys.executable, str(PROGRAM), mode, str(out)]
    if ranks is not None:
        command = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks)] + command
    start = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("dp") / "one.npz"
    code, log, _ = _run(None, "train", out)
    assert code == 0, log
    return np.load(out)


@needs_mpi
@pytest.mark.any_backend
@pytest.mark.parametrize("ranks, bucket_bytes", [(2, "64"), (4, str(25 << 20))])
def test_ranks_on_a_global_batch_match_one_process(ranks, bucket_bytes, one_process, tmp_path):
    """2 ranks with 64-byte buckets (each weight's sum starts as soon as backward finishes it), 4 with one."""
    out = tmp_path / f"ranks{ranks}.npz"
    code, log, _ = _run(ranks, "train", out, BUCKET_BYTES=bucket_bytes)
    assert code == 0, log
    got = np.load(out)
    assert int(got["size"]) == ranks
    for key in set(one_process.files) - {"size"}:
        np.testing.assert_allclose(got[key], one_process[key], rtol=2e-6, atol=2e-7, err_msg=key)
    assert len([k for k in got.files if k.startswith("arr_")]) == 4  # kernels and biases compared above


@needs_mpi
@pytest.mark.any_backend
@pytest.mark.parametrize("mode, says", [("raise", "injected failure on rank 1"), ("die", "signal 9")])
def test_a_failing_rank_ends_the_job_within_30_seconds(mode, says, tmp_path):
    code, log, seconds = _run(2, mode, tmp_path / "never.npz")
    assert code != 0 and seconds < 30, (code, seconds, log)
    assert says in log.replace("\x00", ""), log
    assert not (tmp_path / "never.npz").exists()


@needs_mpi
@pytest.mark.any_backend
def test_a_model_that_differs_between_ranks_is_refused_at_the_start(tmp_path):
    code, log, seconds = _run(2, "mismatch", tmp_path / "never.npz")
    assert code != 0 and seconds < 30, log
    assert "The model differs between the processes" in log and "(12, 17)" in log and "(12, 16)" in log, log


@needs_mpi
@pytest.mark.any_backend
def test_backup_and_restore_resumes_every_rank_from_rank_zeros_backup(one_process, tmp_path):
    code, log, _ = _run(2, "backup-raise", tmp_path / "never.npz")
    assert code != 0 and "injected failure on rank 1" in log.replace("\x00", ""), log
    assert (tmp_path / "backup").is_dir()  # rank 0 saved epochs 0 and 1 before rank 1 failed in epoch 2
    code, log, _ = _run(2, "backup-resume", tmp_path / "resumed.npz")
    assert code == 0, log
    got = np.load(tmp_path / "resumed.npz")
    for key in ("arr_0", "arr_1", "arr_2", "arr_3", "eval_loss"):
        np.testing.assert_allclose(got[key], one_process[key], rtol=2e-6, atol=2e-7, err_msg=key)
    np.testing.assert_allclose(got["loss"], one_process["loss"][2:], rtol=2e-6, err_msg="epochs 2 and 3 only")
    assert not (tmp_path / "backup").exists()  # deleted by rank 0 once training finished


@needs_mpi
@pytest.mark.any_backend
def test_streams_that_end_at_different_batches_end_the_epoch_everywhere(tmp_path):
    code, log, seconds = _run(2, "short-stream", tmp_path / "short.npz")
    assert code == 0 and seconds < 30, log
    assert "ended at different batches (ranks with a batch left: [0])" in log
    assert int(np.load(tmp_path / "short.npz")["steps"]) == 6  # 3 agreed batches in each of 2 epochs
