"""kernels/depthwise_conv.cu, upsampling.cu and conv_input_grad.cu against their NumPy twins
(gpukeras/backend/fused/depthwise.py, resampling.py, windows.py), and the twins against float64 loops.

CPU (always): the generic depthwise convolution (forward, input and kernel gradients) and bilinear
up-sampling (forward, backward) against direct float64 loops written out here. GPU (marked `gpu`;
without one they run on cupy-emulated, the kernels compiled for the CPU): CupyOps against the generic
code on the same inputs, float32 and float16, each inside a launch check so that a silent fallback
fails; the cases the kernels leave to the generic code; and layers' training steps running them.
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend
from gpukeras.backend import kernels as K
from gpukeras.backend.base import Ops
from gpukeras.backend.convolution import conv_padding
from gpukeras.backend.fused.resampling import bilinear_phase_weights
from gpukeras.backend.numpy_backend import NumpyOps

NP = NumpyOps()
F32 = dict(rtol=1e-5, atol=3e-6)
F16 = dict(rtol=2e-2, atol=2e-2)


# ---------------------------------------------------------------------------------- float64 references
def _depthwise_ref(x, k, strides, padding, dilation, dy=None):
    """y[b, o, c*M + m] = sum over offsets of x[b, o*s + off*d - pad, c] * k[off, c, m], one output at a time;
    with dy, also (dx, dk) of sum(y * dy), accumulated in the same loops."""
    rank = x.ndim - 2
    pads, out = conv_padding(x.shape[1:-1], k.shape[:rank], strides, dilation, padding)
    c, m = k.shape[-2:]
    y = np.zeros((x.shape[0], *out, c, m))
    dx, dk = np.zeros(x.shape), np.zeros(k.shape)
    g = None if dy is None else dy.reshape(y.shape)
    for o in itertools.product(*map(range, out)):
        for off in itertools.product(*map(range, k.shape[:rank])):
            pos = [o[i] * strides[i] + off[i] * dilation[i] - pads[i][0] for i in range(rank)]
            if all(0 <= p < n for p, n in zip(pos, x.shape[1:-1])):
                y[(slice(None), *o)] += x[(slice(None), *pos)][..., None] * k[off]
                if g is not None:
                    dx[(slice(None), *pos)] += np.sum(g[(slice(None), *o)] * k[off], axis=-1)
                    dk[off] += np.sum(x[(slice(None), *pos)][..., None] * g[(slice(None), *o)], axis=0)
    y = y.reshape(x.shape[0], *out, c * m)
    return y if dy is None else (y, dx, dk)


def _linear_map_grads(fn, x_shape, dy):
    """Gradient of sum(fn(x) * dy) w.r.t. x for a linear fn, by applying it to each basis vector."""
    grad = np.zeros(x_shape)
    for j in range(grad.size):
        e = np.zeros(x_shape)
        e.reshape(-1)[j] = 1.0
        grad.reshape(-1)[j] = np.sum(fn(e) * dy)
    return grad


def _bilinear_ref(x, factors, axes):
    """Each output the half-pixel interpolation of its two nearest inputs per axis, edges clamped."""
    for axis, f in zip(axes, factors):
        n = x.shape[axis]
        pieces = []
        for o in range(n * f):
            src = (o + 0.5) / f - 0.5
            lo = int(np.floor(src))
            t = src - lo
            a, b = min(max(lo, 0), n - 1), min(max(lo + 1, 0), n - 1)
            pieces.append((1 - t) * np.take(x, [a], axis) + t * np.take(x, [b], axis))
        x = np.concatenate(pieces, axis)
    return x


DEPTHWISE_CASES = [  # (x shape, kernel shape, strides, padding, dilation)
    ((2, 6, 5, 3), (3, 3, 3, 1), (1, 1), "same", (1, 1)),
    ((2, 7, 6, 2), (3, 2, 2, 2), (2, 2), "valid", (1, 1)),
    ((1, 7, 7, 2), (3, 3, 2, 3), (1, 1), "same", (2, 2)),
    ((1, 8, 7, 2), (2, 2, 2, 1), (2, 1), "same", (2, 1)),
    ((2, 9, 3), (3, 3, 2), (2,), "same", (1,)),
    ((1, 5, 6, 2), (2, 3, 2, 2), (1, 1), "valid", (1, 1)),
]
GENERIC_ONLY = [((1, 4, 3, 4, 2), (2, 2, 3, 2, 1), (1, 1, 1), "same", (1, 2, 1))]  # 3-D: no kernel


@pytest.mark.any_backend  # NumpyOps' generic code, whatever the backend
@pytest.mark.parametrize("case", DEPTHWISE_CASES + GENERIC_ONLY, ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}")
def test_generic_depthwise_matches_float64_loops(case):
    x_shape, k_shape, strides, padding, dilation = case
    rng = np.random.default_rng(3)
    x, k = rng.normal(size=x_shape), rng.normal(size=k_shape)
    y = Ops.depthwise_conv(NP, x, k, strides, padding, dilation)
    np.testing.assert_allclose(y, _depthwise_ref(x, k, strides, padding, dilation), atol=1e-12)
    dy = rng.normal(size=y.shape)
    dx, dk = Ops.depthwise_conv_backward(NP, dy, x, k, strides, padding, dilation)
    _, want_dx, want_dk = _depthwise_ref(x, k, strides, padding, dilation, dy)
    np.testing.assert_allclose(dx, want_dx, atol=1e-10)
    np.testing.assert_allclose(dk, want_dk, atol=1e-10)
    none_dx, dk_again = Ops.depthwise_conv_backward(NP, dy, x, k, strides, padding, dilation, need_dx=False)
    assert none_dx is None and np.array_equal(dk, dk_again)


@pytest.mark.any_backend
@pytest.mark.parametrize("shape,factors,axes", [((2, 3, 4, 2), (2, 2), (1, 2)), ((1, 2, 3, 4), (3, 2), (2, 3)),
                                                ((1, 1, 3, 2), (4, 1), (1, 2)), ((2, 5, 3), (3,), (1,))])
def test_generic_bilinear_matches_float64_loops(shape, factors, axes):
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape)
    y = Ops.upsample_bilinear(NP, x, factors, axes)
    np.testing.assert_allclose(y, _bilinear_ref(x, factors, axes), atol=1e-12)
    dy = rng.normal(size=y.shape)
    dx = Ops.upsample_bilinear_backward(NP, dy, factors, axes)
    np.testing.assert_allclose(dx, _linear_map_grads(lambda e: _bilinear_ref(e, factors, axes), shape, dy),
                               atol=1e-10)
    assert all(abs(sum(w) - 1.0) < 1e-15 for f in range(1, 7) for w in bilinear_phase_weights(f))


# ---------------------------------------------------------------------------------- GPU
def _cupy_ops():
    if backend.backend() != "cupy":
        pytest.skip("kernel tests run under the cupy backend (a GPU, or cupy-emulated on the CPU)")
    from gpukeras.backend.cupy_backend import CupyOps

    return CupyOps()


@contextlib.contextmanager
def _launches(*names: str, expect: bool = True):
    """Fail unless each kernel ran inside the block (with expect=False: unless none of them ran)."""
    before = K.launch_counts.copy()
    yield
    ran = [n for n in names if K.launch_counts[n] != before[n]]
    if expect:
        missing = sorted(set(names) - set(ran))
        assert not missing, f"these kernels never ran (generic fallback?): {missing}"
    else:
        assert not ran, f"these kernels ran where the generic code was expected: {ran}"


def _sfx(dtype: str) -> str:
    return K.DTYPE_SUFFIX[dtype]


def _tol(dtype: str) -> dict:
    return F32 if dtype == "float32" else F16


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}")
def test_gpu_depthwise_matches_the_generic_twin(case, dtype):
    cp = _cupy_ops()
    x_shape, k_shape, strides, padding, dilation = case
    rng = np.random.default_rng(5)
    x, k = rng.normal(size=x_shape).astype(dtype), rng.normal(size=k_shape).astype(dtype)
    y = Ops.depthwise_conv(NP, x, k, strides, padding, dilation)
    dy = rng.normal(size=y.shape).astype(dtype)
    dx, dk = Ops.depthwise_conv_backward(NP, dy, x, k, strides, padding, dilation)
    s = _sfx(dtype)
    names = [f"gk_depthwise_conv_{k}_{s}" for k in ("fwd", "bwd_input", "bwd_kernel")]
    with _launches(*names):
        gy = cp.depthwise_conv(cp.asarray(x), cp.asarray(k), strides, padding, dilation)
        gdx, gdk = cp.depthwise_conv_backward(cp.asarray(dy), cp.asarray(x), cp.asarray(k), strides, padding,
                                              dilation)
    for got, want in ((gy, y), (gdx, dx), (gdk, dk)):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(cp.to_numpy(got).astype(float), want.astype(float), **_tol(dtype))
    with _launches(f"gk_depthwise_conv_bwd_kernel_{s}"), _launches(f"gk_depthwise_conv_bwd_input_{s}", expect=False):
        none_dx, gdk2 = cp.depthwise_conv_backward(cp.asarray(dy), cp.asarray(x), cp.asarray(k), strides, padding,
                                                   dilation, need_dx=False)
    assert none_dx is None
    np.testing.assert_array_equal(cp.to_numpy(gdk2), cp.to_numpy(gdk))


@pytest.mark.gpu
def test_gpu_depthwise_kernel_gradient_splits_the_positions():
    """More positions than one block walks: several partial sums per (offset, channel), added in order."""
    cp = _cupy_ops()
    launcher = cp.kernels.vision.depthwise.kernel_grad
    rng = np.random.default_rng(6)
    x, k = rng.normal(size=(4, 20, 16, 3)).astype("float32"), rng.normal(size=(2, 1, 3, 2)).astype("float32")
    assert launcher.splits(1 * 2, 4 * 20 * 16) > 1  # one channel tile, two kernel offsets
    dy = rng.normal(size=(4, 20, 16, 6)).astype("float32")
    _, dk = Ops.depthwise_conv_backward(NP, dy, x, k, (1, 1), "same", (1, 1), need_dx=False)
    with _launches("gk_depthwise_conv_bwd_kernel_f32"):
        _, gdk = cp.depthwise_conv_backward(cp.asarray(dy), cp.asarray(x), cp.asarray(k), (1, 1), "same", (1, 1),
                                            need_dx=False)
    np.testing.assert_allclose(cp.to_numpy(gdk), dk, rtol=1e-5, atol=2e-5)


@pytest.mark.gpu
def test_gpu_depthwise_3d_and_float64_use_the_generic_code():
    cp = _cupy_ops()
    rng = np.random.default_rng(7)
    names = ("gk_depthwise_conv_fwd_f32",)
    x, k = rng.normal(size=(1, 3, 4, 4, 2)).astype("float32"), rng.normal(size=(2, 2, 2, 2, 1)).astype("float32")
    with _launches(*names, expect=False):
        y = cp.depthwise_conv(cp.asarray(x), cp.asarray(k), (1, 1, 1), "valid", (1, 1, 1))
    np.testing.assert_allclose(cp.to_numpy(y), Ops.depthwise_conv(NP, x, k, (1, 1, 1), "valid", (1, 1, 1)), **F32)
    x64, k64 = rng.normal(size=(1, 4, 4, 2)), rng.normal(size=(3, 3, 2, 1))
    with _launches(*names, expect=False):
        y64 = cp.depthwise_conv(cp.asarray(x64), cp.asarray(k64), (1, 1), "same", (1, 1))
    np.testing.assert_allclose(cp.to_numpy(y64), Ops.depthwise_conv(NP, x64, k64, (1, 1), "same", (1, 1)),
                               atol=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape,factors,axes", [((2, 3, 4, 2), (2, 2), (1, 2)), ((1, 2, 3, 4), (3, 2), (2, 3)),
                                                ((1, 1, 3, 2), (4, 1), (1, 2)), ((2, 2, 2, 3), (1, 5), (2, 3))])
def test_gpu_bilinear_matches_the_generic_twin(shape, factors, axes, dtype):
    cp = _cupy_ops()
    rng = np.random.default_rng(8)
    x = rng.normal(size=shape).astype(dtype)
    y = Ops.upsample_bilinear(NP, x, factors, axes)
    dy = rng.normal(size=y.shape).astype(dtype)
    dx = Ops.upsample_bilinear_backward(NP, dy, factors, axes)
    s = _sfx(dtype)
    with _launches(f"gk_upsample_bilinear2d_fwd_{s}", f"gk_upsample_bilinear2d_bwd_{s}"):
        gy = cp.upsample_bilinear(cp.asarray(x), factors, axes)
        gdx = cp.upsample_bilinear_backward(cp.asarray(dy), factors, axes)
    for got, want in ((gy, y), (gdx, dx)):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(cp.to_numpy(got).astype(float), want.astype(float), **_tol(dtype))


@pytest.mark.gpu
def test_gpu_bilinear_other_ranks_use_the_generic_code():
    cp = _cupy_ops()
    x = np.random.default_rng(9).normal(size=(2, 5, 3)).astype("float32")
    with _launches("gk_upsample_bilinear2d_fwd_f32", "gk_upsample_bilinear2d_bwd_f32", expect=False):
        y = cp.upsample_bilinear(cp.asarray(x), (3,), (1,))
        dx = cp.upsample_bilinear_backward(y, (3,), (1,))
    np.testing.assert_allclose(cp.to_numpy(y), Ops.upsample_bilinear(NP, x, (3,), (1,)), **F32)
    assert dx.shape == x.shape


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("x_shape,kernel,strides,dilation,padding,groups,cout", [
    ((2, 7, 6, 4), (3, 3), (2, 2), (1, 1), "same", 1, 5), ((2, 7, 6, 4), (3, 2), (1, 1), (2, 1), "valid", 2, 6),
    ((1, 6, 6, 2), (2, 2), (2, 2), (1, 1), "valid", 1, 32), ((2, 9, 3), (3,), (2,), (1,), "causal", 1, 4),
    ((1, 5, 5, 3), (1, 1), (1, 1), (1, 1), "valid", 3, 3),
])
def test_gpu_direct_conv_input_grad_matches_the_generic_twin(x_shape, kernel, strides, dilation, padding, groups,
                                                              cout, dtype):
    cp = _cupy_ops()
    rng = np.random.default_rng(10)
    w = rng.normal(size=(*kernel, x_shape[-1] // groups, cout)).astype(dtype)
    out_shape = Ops.conv(NP, np.zeros(x_shape, dtype), w, None, strides, padding, dilation, groups)[0].shape
    dy = rng.normal(size=out_shape).astype(dtype)
    ref = Ops.conv_input_grad(NP, dy, w, x_shape, strides, padding, dilation, groups)
    s = _sfx(dtype)
    with _launches(f"gk_conv_input_grad_direct_{s}"), _launches(f"gk_col2im_add_{s}", expect=False):
        got = cp.conv_input_grad(cp.asarray(dy), cp.asarray(w), x_shape, strides, padding, dilation, groups)
    assert got.shape == ref.shape
    tol = F32 if dtype == "float32" else dict(rtol=2e-2, atol=5e-2)
    np.testing.assert_allclose(cp.to_numpy(got).astype(float), ref.astype(float), **tol)


@pytest.mark.gpu
def test_gpu_wide_conv_input_grad_keeps_the_gemm_path():
    cp = _cupy_ops()
    rng = np.random.default_rng(11)
    w = rng.normal(size=(3, 3, 2, 33)).astype("float32")
    dy = rng.normal(size=(1, 4, 4, 33)).astype("float32")
    with _launches("gk_col2im_add_f32"), _launches("gk_conv_input_grad_direct_f32", expect=False):
        got = cp.conv_input_grad(cp.asarray(dy), cp.asarray(w), (1, 4, 4, 2), (1, 1), "same", (1, 1), 1)
    np.testing.assert_allclose(cp.to_numpy(got), Ops.conv_input_grad(NP, dy, w, (1, 4, 4, 2), (1, 1), "same",
                                                                      (1, 1), 1), **F32)


@pytest.mark.gpu
def test_gpu_layers_train_through_the_kernels():
    """A MobileNet-style block and a decoder take training steps on the kernels and lower their loss."""
    _cupy_ops()
    rng = np.random.default_rng(12)
    x = rng.uniform(size=(4, 6, 6, 3)).astype("float32")
    y = rng.uniform(size=(4, 12, 12, 1)).astype("float32")
    model = keras.Sequential([
        keras.Input((6, 6, 3)), keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu"),
        keras.layers.SeparableConv2D(4, 3, padding="same"),
        keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
        keras.layers.UpSampling2D(2, interpolation="bilinear"), keras.layers.Conv2D(1, 3, strides=2, padding="same"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    names = [f"gk_{k}_f32" for k in ("depthwise_conv_fwd", "depthwise_conv_bwd_input", "depthwise_conv_bwd_kernel",
                                     "upsample_bilinear2d_fwd", "upsample_bilinear2d_bwd", "conv_input_grad_direct")]
    with _launches(*names):
        first = float(model.train_on_batch(x, y))
        for _ in range(4):
            last = float(model.train_on_batch(x, y))
    assert last < first
