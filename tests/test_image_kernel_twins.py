"""kernels/affine_sample.cu against its NumPy twin (ImageFusions.affine_transform in
gpukeras/backend/fused/image.py), and the twin against an independent float64 formula.

CPU (always): the generic affine_transform (NumpyOps) against a float64 per-pixel loop written from
the definition (projective map, round-half-away nearest, bilinear taps, each fill mode). GPU (marked
`gpu`; on a machine without one they run on cupy-emulated, the kernel compiled for the CPU):
CupyOps.affine_transform against the generic code on the same arrays, float32 (equal to rounding) and
float16/bfloat16, both layouts, every fill mode and interpolation, each wrapped in a launch check so a
silent fallback fails; the cases the kernel leaves to the generic code; and the augmentation layers
running on it.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest

from gpukeras import backend, layers, ops
from gpukeras.backend import kernels as K
from gpukeras.backend.base import Ops
from gpukeras.backend.numpy_backend import NumpyOps

NP = NumpyOps()
FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
TRANSFORMS = np.float32([[0.9, -0.35, 1.3, 0.3, 1.15, -0.8, 0, 0],
                         [1.25, 0.2, -2.2, -0.15, 0.85, 1.7, 0, 0],
                         [0.7, 0.7, -3.1, -0.7, 0.7, 4.4, 0.01, -0.02],  # projective: k != 1
                         [1.0, 0.0, 2.5, 0.0, 1.0, -1.5, 0, 0]])  # half-pixel shifts: rounding ties


def _images(shape=(4, 7, 9, 3), seed=0, dtype="float32"):
    return np.random.default_rng(seed).uniform(-2.0, 2.0, size=shape).astype(dtype)


# ---------------------------------------------------------------------------------- CPU: twin vs float64
def _fold(index: int, size: int, mode: str) -> int | None:
    """Where `index` reads from in an axis of `size` (None: outside, the fill value), by the definition."""
    if 0 <= index < size:
        return index
    if mode == "constant":
        return None
    if mode == "nearest":
        return min(max(index, 0), size - 1)
    if mode == "wrap":
        return index % size
    period = 2 * size - 2 if mode == "mirror" else 2 * size  # mirror: c d c b | a b c d; reflect: d c b a | a b c d
    if period == 0:
        return 0
    m = index % period
    if mode == "mirror":
        return m if m < size else period - m
    return m if m < size else period - 1 - m


def _reference(x: np.ndarray, t: np.ndarray, interpolation: str, mode: str, fill: float) -> np.ndarray:
    n, h, w, c = x.shape
    out = np.zeros(x.shape)
    f = np.float32
    for b in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = (f(v) for v in t[b])
        for r in range(h):
            for s in range(w):
                # the sampled point in float32, as Keras 3 computes it (ties of nearest depend on it)
                k = (f(s) * c0 + f(r) * c1) + f(1)
                row = float(((f(r) * b1 + f(s) * b0) + b2) / k)
                col = float(((f(r) * a1 + f(s) * a0) + a2) / k)
                if interpolation == "nearest":
                    taps = [(math.floor(abs(row) + 0.5) * (1 if row >= 0 else -1), 1.0)], \
                           [(math.floor(abs(col) + 0.5) * (1 if col >= 0 else -1), 1.0)]
                else:
                    fr, fc = math.floor(row), math.floor(col)
                    taps = [(fr, 1 - (row - fr)), (fr + 1, row - fr)], [(fc, 1 - (col - fc)), (fc + 1, col - fc)]
                for i, wi in taps[0]:
                    for j, wj in taps[1]:
                        ii, jj = _fold(i, h, mode), _fold(j, w, mode)
                        value = fill if ii is None or jj is None else x[b, ii, jj].astype(np.float64)
                        out[b, r, s] += wi * wj * value
    return out


@pytest.mark.any_backend
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("mode", FILL_MODES)
def test_twin_matches_float64_definition(mode, interpolation):
    x = _images()
    got = NP.affine_transform(x, TRANSFORMS, interpolation, mode, 0.25)
    want = _reference(x, TRANSFORMS, interpolation, mode, 0.25)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)


@pytest.mark.any_backend
def test_twin_size_one_axes_and_far_coordinates():
    x = _images((2, 1, 5, 2))
    t = np.float32([[1, 0, 40.3, 0, 1, -17.6, 0, 0], [-1, 0, 3.2, 0, 1, 0.4, 0, 0]])
    for mode in FILL_MODES:
        got = NP.affine_transform(x, t, "bilinear", mode, -1.0)
        np.testing.assert_allclose(got, _reference(x, t, "bilinear", mode, -1.0), rtol=1e-5, atol=2e-5)


# ---------------------------------------------------------------------------------- GPU: kernel vs twin
def _cupy_ops():
    if backend.backend() != "cupy":
        pytest.skip("kernel tests run under the cupy backend (a GPU, or cupy-emulated on the CPU)")
    from gpukeras.backend.cupy_backend import CupyOps

    return CupyOps()


class _Generic(Ops):
    """The generic code on CuPy arrays (no kernels): the twin, on the same device arrays."""

    name = "generic-cupy"

    def __init__(self, cupy_ops) -> None:
        self.xp = cupy_ops.xp

    def scatter_add(self, out, idx, values):
        import cupyx

        cupyx.scatter_add(out, idx, values)


@contextlib.contextmanager
def _launches(*names: str):
    """Fail unless each kernel ran inside the block (a build failure falls back to generic code silently)."""
    before = K.launch_counts.copy()
    yield
    missing = [n for n in names if K.launch_counts[n] == before[n]]
    assert not missing, f"these kernels never ran (generic fallback?): {missing}"


def _sfx(dtype: str) -> str:
    return K.DTYPE_SUFFIX[dtype]


@pytest.mark.gpu
@pytest.mark.parametrize("channels_first", [False, True])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("mode", FILL_MODES)
def test_gpu_affine_sample_equals_twin_float32(mode, interpolation, channels_first):
    cp = _cupy_ops()
    x = _images()
    if channels_first:
        x = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))
    xd, td = cp.asarray(x), cp.asarray(TRANSFORMS)
    with _launches("gk_affine_sample_f32"):
        got = cp.affine_transform(xd, td, interpolation, mode, 0.375, channels_first)
    want = _Generic(cp).affine_transform(xd, td, interpolation, mode, 0.375, channels_first)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(cp.to_numpy(got), cp.to_numpy(want), rtol=1e-6, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_gpu_affine_sample_half_precision(dtype):
    cp = _cupy_ops()
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
    x32 = _images()
    x = x32.astype(dtype)
    xd, td = cp.asarray(x), cp.asarray(TRANSFORMS)
    for mode in ("constant", "reflect"):
        with _launches(f"gk_affine_sample_{_sfx(dtype)}"):
            got = cp.affine_transform(xd, td, "bilinear", mode, 0.5, False)
        assert got.dtype == x.dtype
        want = NP.affine_transform(x.astype("float32"), TRANSFORMS, "bilinear", mode, 0.5)
        np.testing.assert_allclose(cp.to_numpy(got).astype("float64"), want, rtol=2e-2, atol=2e-2)


@pytest.mark.gpu
def test_gpu_cases_left_to_the_generic_code():
    cp = _cupy_ops()
    before = K.launch_counts.copy()
    x = _images((2, 5, 6, 3))
    t = TRANSFORMS[:2]
    ints = (x * 50 + 100).astype("uint8")  # integer images: the kernel is built for float types only
    got = cp.affine_transform(cp.asarray(ints), cp.asarray(t), "bilinear", "nearest", 0, False)
    np.testing.assert_array_equal(cp.to_numpy(got), NP.affine_transform(ints, t, "bilinear", "nearest", 0))
    cp.use_kernels = False
    got = cp.affine_transform(cp.asarray(x), cp.asarray(t), "bilinear", "wrap", 0.0, False)
    np.testing.assert_allclose(cp.to_numpy(got), NP.affine_transform(x, t, "bilinear", "wrap", 0.0), rtol=1e-6)
    assert K.launch_counts == before


@pytest.mark.gpu
def test_gpu_augmentation_layers_run_on_the_kernel():
    _cupy_ops()
    x = _images((3, 9, 8, 3))
    cases = [layers.RandomRotation((0.1, 0.1), fill_mode="reflect"), layers.RandomZoom((0.2, 0.2), fill_mode="wrap"),
             layers.RandomTranslation((0.1, 0.1), (-0.2, -0.2), fill_mode="constant", interpolation="nearest")]
    for layer in cases:
        with _launches("gk_affine_sample_f32"):
            got = layer(x, training=True)
        transformation = layer.get_random_transformation(ops.convert_to_tensor(x))  # fixed factors: the same
        host = {k: ops.convert_to_numpy(v) if hasattr(v, "shape") else v for k, v in transformation.items()}
        backend.set_backend("numpy")
        try:
            want = ops.convert_to_numpy(layer.transform_images(x, host))
        finally:
            backend.set_backend("cupy")
        np.testing.assert_allclose(ops.convert_to_numpy(got), want, rtol=1e-5, atol=1e-5)
