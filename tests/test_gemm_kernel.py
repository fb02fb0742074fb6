"""kernels/gemm.cu through its launcher (CupyOps.kernels.gemm) against NumPy's float64 matmul.

Runs on the CuPy backend: a GPU, or the emulated CuPy on the CPU. The kernel sums in float32 in its
own order, so results are compared with the float32 error bound of a K-term dot product:
|got - exact| <= (K + 2) * eps32 * (|A| @ |B|), elementwise (a wrong element is off by far more).
"""

from __future__ import annotations

import numpy as np
import pytest

from gpukeras import backend
from gpukeras.backend import kernels as K

pytest.importorskip("cupy", reason="the launchers import CuPy (real, or the emulator of tests/emulation)")
from gpukeras.backend.launchers.base import Device  # noqa: E402
from gpukeras.backend.launchers.gemm import Gemm, merged_batch  # noqa: E402

EPS32 = float(np.finfo(np.float32).eps)
RNG = np.random.default_rng(13)


@pytest.fixture
def ops():
    if backend.backend() != "cupy":
        pytest.skip("the GEMM kernel runs under the cupy backend (a GPU, or cupy-emulated on the CPU)")
    from gpukeras.backend.cupy_backend import CupyOps

    return CupyOps()


@pytest.fixture
def gemm(ops):
    stand_ins = _stand_ins()
    was, stand_ins.enabled = stand_ins.enabled, False  # the kernel's own build, at every size
    launcher = ops.kernels.gemm
    yield launcher
    launcher.tile = None
    stand_ins.enabled = was


def _stand_ins():
    """The emulator's NumPy stand-ins (a module with `enabled`; a plain namespace on a real GPU)."""
    try:
        from emulation import stand_ins
    except ImportError:
        import types

        return types.SimpleNamespace(enabled=False)
    return stand_ins


def host(*shape: int, dtype=np.float32) -> np.ndarray:
    return RNG.normal(size=shape).astype(dtype)


def assert_matmul(got, a: np.ndarray, b: np.ndarray, add: np.ndarray | None = None, eps: float = EPS32) -> None:
    """`got` (device) equals a @ b (+ add) within the float32 summation bound."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    want = a64 @ b64 + (0.0 if add is None else add.astype(np.float64))
    bound = (a.shape[-1] + 2) * eps * (np.abs(a64) @ np.abs(b64) + (0.0 if add is None else np.abs(add))) + 1e-30
    result = got.get()
    assert result.shape == want.shape and result.dtype == a.dtype and result.flags.c_contiguous
    excess = np.abs(result.astype(np.float64) - want) - bound
    assert excess.max(initial=-1.0) <= 0, f"max error over the bound {excess.max()}"


def launches(prefix: str = "gk_gemm_t") -> int:
    """Launches so far of the tile kernels (or of the kernels named `prefix`...)."""
    return sum(v for name, v in K.launch_counts.items() if name.startswith(prefix))


@pytest.mark.parametrize("tile", [None, "t128", "t64", "t32"])
@pytest.mark.parametrize("mkn", [(1, 1, 1), (3, 5, 7), (33, 65, 17), (64, 64, 64), (130, 70, 200)])
def test_matches_float64_matmul(ops, gemm, mkn, tile):
    m, k, n = mkn
    gemm.tile = tile
    a, b = host(m, k), host(k, n)
    before = launches()
    assert_matmul(gemm(ops.asarray(a), ops.asarray(b)), a, b)
    assert launches() == before + 1  # our kernel ran, not a fallback


def test_k_zero_gives_zeros_and_empty_sides_give_empty(ops, gemm):
    c = gemm(ops.asarray(host(4, 0)), ops.asarray(host(0, 6)))
    np.testing.assert_array_equal(c.get(), np.zeros((4, 6), np.float32))
    assert gemm(ops.asarray(host(0, 3)), ops.asarray(host(3, 5))).shape == (0, 5)
    assert gemm(ops.asarray(host(0, 3, 4)), ops.asarray(host(1, 4, 5))).shape == (0, 3, 5)
    out = ops.asarray(np.full((4, 6), 2.5, np.float32))
    assert gemm(ops.asarray(host(4, 0)), ops.asarray(host(0, 6)), out=out, accumulate=True) is out
    np.testing.assert_array_equal(out.get(), np.full((4, 6), 2.5, np.float32))


@pytest.mark.parametrize("tile", [None, "t32"])
def test_transposed_and_sliced_views_need_no_copy(ops, gemm, tile):
    gemm.tile = tile
    at, bt = host(70, 33), host(45, 70)  # a = at.T (33, 70), b = bt.T (70, 45): both column-major
    assert_matmul(gemm(ops.asarray(at).T, ops.asarray(bt).T), at.T, bt.T)
    b = host(70, 45)
    assert_matmul(gemm(ops.asarray(at).T, ops.asarray(b)), at.T, b)
    wide, tall = host(40, 150), host(141, 50)
    a_view = ops.asarray(wide)[3:38:2, 5:145:2]  # both strides > 1
    b_view = ops.asarray(tall)[1:, 7:30]  # rows of 50, 23 used
    assert a_view.shape == (18, 70) and b_view.shape == (140, 23)
    assert_matmul(gemm(a_view, ops.asarray(tall)[:140:2, 7:30]), wide[3:38:2, 5:145:2], tall[:140:2, 7:30])
    a2 = host(9, 140)
    assert_matmul(gemm(ops.asarray(a2), b_view), a2, tall[1:, 7:30])


def test_batched_broadcasting_follows_numpy(ops, gemm):
    a, b = host(1, 19, 23), host(5, 23, 11)
    got = gemm(ops.asarray(a), ops.asarray(b))
    assert got.shape == (5, 19, 11)
    assert_matmul(got, np.broadcast_to(a, (5, 19, 23)), b)
    w = host(23, 7)  # (B, M, K) @ (K, N): one weight for every batch
    assert_matmul(gemm(ops.asarray(b.transpose(0, 2, 1)), ops.asarray(w)), b.transpose(0, 2, 1), w)
    x, y = host(3, 1, 6, 8), host(4, 8, 5)  # batch axes (3, 1) x (4,) -> (3, 4): not one stride for x
    assert_matmul(gemm(ops.asarray(x), ops.asarray(y)), np.broadcast_to(x, (3, 4, 6, 8)),
                  np.broadcast_to(y, (3, 4, 8, 5)))
    z = host(4, 3, 8, 6)  # a transposed batch: axes (3, 4) with strides that do not merge
    zt = ops.asarray(z).transpose(1, 0, 3, 2)
    v = host(8, 2)
    assert_matmul(gemm(zt, ops.asarray(v)), z.transpose(1, 0, 3, 2), np.broadcast_to(v, (3, 4, 8, 2)))


@pytest.mark.any_backend
@pytest.mark.parametrize("splits", [2, 3, 7])
def test_split_k_sums_the_parts_in_order(ops, gemm, splits):
    gemm.splits = splits
    a, b, c0 = host(45, 301), host(301, 19), host(45, 19)
    finished = launches("gk_gemm_split_sum")
    assert_matmul(gemm(ops.asarray(a), ops.asarray(b)), a, b)
    assert launches("gk_gemm_split_sum") == finished + 1
    assert_matmul(gemm(ops.asarray(b).T, ops.asarray(a).T), b.T, a.T)  # transposed operands
    out = ops.asarray(c0)
    assert gemm(ops.asarray(a), ops.asarray(b), out=out, accumulate=True) is out
    assert_matmul(out, a, b, add=c0)
    x, w = host(3, 1, 9, 40), host(2, 40, 6)  # an outer batch axis walked on the host, the inner one on z
    assert_matmul(gemm(ops.asarray(x), ops.asarray(w)), np.broadcast_to(x, (3, 2, 9, 40)),
                  np.broadcast_to(w, (3, 2, 40, 6)))


@pytest.mark.parametrize("splits", [None, 3])
def test_blocks_of_z_stride_over_a_batch_longer_than_the_grid(ops, gemm, splits, monkeypatch):
    import gpukeras.backend.launchers.gemm as launcher_module

    monkeypatch.setattr(launcher_module, "MAX_GRID_Y", 2)  # grid z (and y) capped at 2 blocks
    gemm.splits = splits
    a, b = host(7, 40, 50), host(50, 9)
    assert_matmul(gemm(ops.asarray(a), ops.asarray(b)), a, np.broadcast_to(b, (7, 50, 9)))
    assert gemm(ops.asarray(host(65, 3)), ops.asarray(host(3, 2))) is None  # 3 row tiles of 32 > 2


@pytest.mark.any_backend
@pytest.mark.parametrize("k", [1, 16, 17, 64, 300, 784])
@pytest.mark.parametrize("splits", [1, 2, 5, 16, 40])
def test_split_k_parts_cover_k_and_none_is_empty(k, splits):
    kchunk, parts = Gemm._split(k, splits)
    assert 1 <= parts <= max(1, splits) and (parts == 1 or kchunk % 16 == 0)
    assert (parts - 1) * kchunk < k <= parts * kchunk


@pytest.mark.any_backend
def test_the_plan_fills_an_h200_with_blocks():
    device = Device()
    device._sm_count = 132  # an H200's SMs
    gemm = Gemm(device)
    assert gemm.plan(32, 128, 784, 1) == ("t32", 80, 10)  # W1's x @ W1: 4 tiles of C, k split in 10
    assert gemm.plan(4096, 4096, 4096, 1) == ("t128", 4096, 1)  # 1024 tiles: no split
    assert gemm.plan(32, 128, 784, 200)[2] == 1  # a batch of them fills the GPU by itself
    gemm.tile, gemm.splits = "t64", 4
    assert gemm.plan(32, 128, 784, 1) == ("t64", 208, 4)  # forced (tests, benchmarks)


@pytest.mark.any_backend
def test_merged_batch_walks_trailing_axes_with_one_stride():
    # C-contiguous (2, 3) batch of 4x5 matrices, and a broadcast operand (stride 0)
    assert merged_batch((2, 3), [(60, 20), (0, 0)]) == (0, 6, (20, 0))
    assert merged_batch((2, 3), [(20, 40), (0, 0)]) == (1, 3, (40, 0))  # transposed batch axes
    assert merged_batch((2, 1, 3), [(60, 0, 20), (0, 0, 7)]) == (1, 3, (20, 7))  # a length-1 axis joins
    assert merged_batch((), []) == (0, 1, ())


def test_out_and_accumulate(ops, gemm):
    a, b, c0 = host(37, 29), host(29, 41), host(37, 41)
    out = ops.asarray(np.zeros((37, 41), np.float32) + np.float32(np.nan))  # overwritten, never read
    assert gemm(ops.asarray(a), ops.asarray(b), out=out) is out
    assert_matmul(out, a, b)
    out = ops.asarray(c0)
    assert gemm(ops.asarray(a).T.T, ops.asarray(b), out=out, accumulate=True) is out
    assert_matmul(out, a, b, add=c0)
    batched = ops.asarray(np.zeros((2, 37, 41), np.float32))
    assert gemm(ops.asarray(a), ops.asarray(np.stack([b, b])), out=batched) is batched
    assert_matmul(batched, np.stack([a, a]), np.stack([b, b]))


def test_cases_it_does_not_cover_return_none(ops, gemm):
    a, b = ops.asarray(host(6, 4)), ops.asarray(host(4, 5))
    before = launches()
    assert gemm(ops.asarray(host(6, 4, dtype=np.float64)), ops.asarray(host(4, 5, dtype=np.float64))) is None
    assert gemm(a, ops.asarray(host(4, 5, dtype=np.float64))) is None  # mixed dtypes
    assert gemm(a[::-1], b) is None and gemm(a, b[:, ::-1]) is None  # negative strides
    assert gemm(a, ops.asarray(host(5, 5))) is None  # inner sizes differ: the fallback raises NumPy's error
    assert gemm(ops.asarray(host(2, 6, 4)), ops.asarray(host(3, 4, 5))) is None  # batch axes do not broadcast
    assert gemm(a, ops.asarray(host(4))) is None  # 1-D operand
    assert gemm(a, b, out=ops.asarray(host(5, 6))) is None  # wrong out shape
    assert gemm(a, b, out=ops.asarray(host(5, 6)).T) is None  # out not C-contiguous
    wide = ops.asarray(host(6, 9))
    assert gemm(wide[:, :4], b, out=wide[:, 4:]) is None  # out overlaps an operand
    assert Gemm(Device(enabled=False))(a, b) is None
    assert launches() == before
    with pytest.raises(ValueError, match="accumulate"):
        gemm(a, b, accumulate=True)


def test_no_host_reads_inside_the_call(ops, gemm, backend_name):
    if backend_name != "cupy-emulated":
        pytest.skip("counts host reads of the emulated CuPy")
    from emulation import cupy_on_numpy

    a, b, out = ops.asarray(host(3, 8, 16)), ops.asarray(host(16, 8)), ops.asarray(host(3, 8, 8))
    before = sum(cupy_on_numpy.host_reads.values())
    gemm(a, b)
    gemm(a.transpose(0, 2, 1), a, out=ops.asarray(host(3, 16, 16)))
    gemm(a, b, out=out, accumulate=True)
    assert sum(cupy_on_numpy.host_reads.values()) == before


def test_float16_accumulates_in_float32(ops, gemm):
    a, b = host(21, 300, dtype=np.float16), host(300, 13, dtype=np.float16)
    got = gemm(ops.asarray(a), ops.asarray(b))
    assert got.dtype == np.float16
    exact = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    # one float16 rounding of the result, plus float32 summation (far below it)
    assert np.all(np.abs(got.get().astype(np.float64) - exact) <= 2**-11 * np.abs(exact) + 302 * EPS32 * scale + 1e-7)


def test_the_training_shapes_of_w1(ops, gemm):
    x, w1, w2 = host(32, 784), host(784, 128) * 0.05, host(128, 10) * 0.1
    h = gemm(ops.asarray(x), ops.asarray(w1))  # forward, layer 1
    assert_matmul(h, x, w1)
    hh = h.get()
    assert_matmul(gemm(h, ops.asarray(w2)), hh, w2)  # forward, layer 2
    dy, dh = host(32, 10), host(32, 128)
    assert_matmul(gemm(ops.asarray(x).T, ops.asarray(dh)), x.T, dh)  # dW1 = x.T @ dh
    assert_matmul(gemm(ops.asarray(dy), ops.asarray(w2).T), dy, w2.T)  # dh = dy @ W2.T
    assert_matmul(gemm(h.T, ops.asarray(dy)), hh.T, dy)  # dW2 = h.T @ dy


@pytest.mark.parametrize("splits", [None, 3])
def test_the_emulators_stand_in_equals_the_build(ops, gemm, splits, backend_name):
    """The suite's large matrix products run the emulator's NumPy stand-in (tests/emulation/stand_ins.py): it
    must read and write what the kernel's own build does, layouts, splits and accumulation included."""
    if backend_name != "cupy-emulated":
        pytest.skip("about the emulator")
    stand_ins = _stand_ins()
    gemm.splits = splits
    a, b, c0 = host(70, 200), host(200, 40), host(70, 40)
    results = []
    for enabled in (False, True):
        stand_ins.enabled = enabled
        out = ops.asarray(c0)
        runs = stand_ins.runs
        a_t = ops.asarray(np.ascontiguousarray(a.T)).T  # a transposed view
        assert gemm(a_t, ops.asarray(b), out=out, accumulate=True) is out
        batched = gemm(ops.asarray(np.stack([a, a * 2, a * 3])[:, None]), ops.asarray(b))
        results.append((ops.to_numpy(out), ops.to_numpy(batched), ops.to_numpy(gemm(ops.asarray(a), ops.asarray(b)))))
        assert (stand_ins.runs > runs) == enabled
    stand_ins.enabled = False
    for built, standing_in in zip(*results):
        np.testing.assert_allclose(standing_in, built, rtol=1e-5, atol=2e-4)  # sums of |x| ~ 40 in float32
