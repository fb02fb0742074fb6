"""The host C loops of convolution windows and batch normalization (_cpu_windows.c, _cpu_normalization.c)
equal the generic NumPy code bit for bit, through the backend's own conv and normalize entry points."""

from __future__ import annotations

import numpy as np
import pytest

from gpukeras.backend.fused import host
from gpukeras.backend.numpy_backend import NumpyOps

pytestmark = pytest.mark.skipif(host.host_kernels is None or not hasattr(host.host_kernels, "col2im2d"),
                                reason="gpukeras.backend._cpu_kernels is not built from these sources")


def _twins(monkeypatch, run):
    """run(ops) with the C loops, then with them switched off; returns both results."""
    fast = run(NumpyOps())
    monkeypatch.setattr(host, "host_kernels", None)
    slow = run(NumpyOps())
    return fast, slow


def _assert_same(fast, slow) -> None:
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        if a is None or b is None:
            assert a is None and b is None
            continue
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


# (input NHWC, kernel, strides, dilation, padding, filters): ResNet-20's 3x3 "same" and strided 1x1 shortcut,
# odd sizes with a stride, dilation, a kernel wider than its stride, explicit uneven padding.
CONVS = [
    ((4, 32, 32, 16), (3, 3), (1, 1), (1, 1), "same", 16),
    ((4, 32, 32, 16), (1, 1), (2, 2), (1, 1), "same", 32),
    ((4, 16, 16, 16), (3, 3), (2, 2), (1, 1), "same", 32),
    ((3, 17, 15, 5), (3, 2), (2, 1), (1, 2), "same", 7),
    ((2, 10, 10, 4), (5, 3), (3, 2), (2, 1), "valid", 3),
    ((2, 8, 8, 3), (3, 3), (2, 2), (1, 1), ((2, 1), (0, 3)), 5),
    ((3, 8, 8, 16), (1, 1), (1, 1), (1, 1), "valid", 24),
    ((3, 5, 5, 4), (1, 1), (1, 1), (1, 1), ((1, 0), (0, 1)), 6),
]


@pytest.mark.parametrize("x_shape,ksz,strides,dilation,padding,filters", CONVS)
def test_conv_forward_and_backward_match_numpy_twin(monkeypatch, x_shape, ksz, strides, dilation, padding,
                                                     filters) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    kernel = rng.standard_normal((*ksz, x_shape[-1], filters), dtype=np.float32)

    def run(ops):
        ops.col2im_chunk_bytes = 1 << 16  # several batch chunks even for these small shapes
        y, cols = ops.conv(x, kernel, None, strides, padding, dilation)
        dy = np.random.default_rng(4).standard_normal(y.shape, dtype=np.float32)
        dx, dkernel, _ = ops.conv_backward(dy, x.shape, kernel, cols, strides, padding, dilation, has_bias=False)
        return y, dx, dkernel

    (y, dx, dkernel), (y_twin, dx_twin, dkernel_twin) = _twins(monkeypatch, run)
    assert dx.flags.c_contiguous  # the C paths write dx unpadded: no cropped view downstream
    if strides != (1, 1):  # GEMM + the C gather: the twin's strided adds in their order
        _assert_same((dx,), (dx_twin,))
    else:  # a convolution of dy with the flipped kernel: the same sum in the GEMM's order
        _assert_close(dx, dx_twin)
    # The host path multiplies a batch chunk at a time: OpenBLAS picks its kernel by the GEMM's size (a
    # small-matrix one for small chunks), so y may round differently from the twin's one GEMM; dkernel sums
    # the chunks' GEMMs in batch order where the twin makes one. Equal to float32 rounding.
    _assert_close(y, y_twin)
    _assert_close(dkernel, dkernel_twin)


def _assert_close(a, b) -> None:
    """Equal to float32 rounding of sums of a few hundred terms."""
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * np.abs(b).max())


def test_pointwise_convolution_multiplies_x_itself(monkeypatch) -> None:
    """A 1x1 stride-1 unpadded convolution's columns are x: one GEMM each way, the twin's bits (MobileNetV2's
    expand and project layers)."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((6, 7, 5, 16), dtype=np.float32)
    kernel = rng.standard_normal((1, 1, 16, 40), dtype=np.float32)

    def run(ops):
        y, cols = ops.conv(x, kernel, None, (1, 1), "same", (1, 1))
        dy = np.random.default_rng(13).standard_normal(y.shape, dtype=np.float32)
        return (y,) + ops.conv_backward(dy, x.shape, kernel, cols, (1, 1), "same", (1, 1), has_bias=False)[:2]

    fast, slow = _twins(monkeypatch, run)
    _assert_same(fast, slow)


def test_col2im_chunks_cover_the_batch(monkeypatch) -> None:
    """conv_input_grad's batch chunks (small here) each gather into their own slice of dx."""
    rng = np.random.default_rng(5)
    dy = rng.standard_normal((5, 3, 3, 8), dtype=np.float32)
    kernel = rng.standard_normal((3, 3, 4, 8), dtype=np.float32)

    def run(ops):
        ops.col2im_chunk_bytes = 3 * 3 * 9 * 4 * 4 * 2  # two samples per chunk, a partial last chunk
        return (ops.conv_input_grad(dy, kernel, (5, 6, 6, 4), (2, 2), "same", (1, 1)),)

    fast, slow = _twins(monkeypatch, run)
    _assert_same(fast, slow)


@pytest.mark.parametrize("padding,dilation", [("same", (1, 1)), ("valid", (2, 1)), ("causal_rows", (1, 1)),
                                              (((3, 0), (1, 1)), (1, 1))])
def test_stride1_input_grad_as_a_flipped_convolution(monkeypatch, padding, dilation) -> None:
    """Stride 1: conv_backward's dx is dy convolved with the flipped kernel, padded to full width, in batch
    chunks; padding wider than the kernel's reach ((3, 0) with 3 taps) goes through GEMM + gather (exact), and
    so does conv_input_grad itself (the generic twin the CUDA kernels are held to)."""
    padding = ((2, 0), (0, 0)) if padding == "causal_rows" else padding
    rng = np.random.default_rng(10)
    x_shape = (5, 9, 8, 6)
    x = rng.standard_normal(x_shape, dtype=np.float32)
    kernel = rng.standard_normal((3, 2, 6, 7), dtype=np.float32)

    def run(ops):
        ops.col2im_chunk_bytes = 1 << 12  # one sample per chunk
        y, cols = ops.conv(x, kernel, None, (1, 1), padding, dilation)
        dy = np.random.default_rng(11).standard_normal(y.shape, dtype=np.float32)
        dx, _, _ = ops.conv_backward(dy, x_shape, kernel, cols, (1, 1), padding, dilation, has_bias=False)
        return dx, ops.conv_input_grad(dy, kernel, x_shape, (1, 1), padding, dilation)

    (dx, gathered), (dx_twin, gathered_twin) = _twins(monkeypatch, run)
    _assert_same((gathered,), (gathered_twin,))
    if padding == ((3, 0), (1, 1)):
        _assert_same((dx,), (dx_twin,))
    else:
        _assert_close(dx, dx_twin)


def test_window_kernels_refuse_mismatched_shapes() -> None:
    geometry = ((2, 4, 4, 3), (4, 4), (3, 3), (1, 1), (1, 1), (1, 1))
    x = np.zeros((2, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="cols"):
        host.host_kernels.im2col2d(x, np.zeros((32, 26), np.float32), geometry)
    with pytest.raises(ValueError, match="positive"):
        host.host_kernels.col2im2d(np.zeros((32, 27), np.float32), x, geometry[:3] + ((0, 1),) + geometry[4:])
    with pytest.raises(TypeError, match="float32"):
        host.host_kernels.im2col2d(x.astype(np.float64), np.zeros((32, 27), np.float32), geometry)


def test_float64_and_3d_convolutions_take_the_generic_path(monkeypatch) -> None:
    """Only 2-D float32 windows have C loops; the rest still computes (and equals itself with them off)."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 6, 4, 3))
    kernel = rng.standard_normal((2, 3, 2, 3, 4))

    def run(ops):
        y, cols = ops.conv(x, kernel, None, (1, 2, 1), "same", (1, 1, 1))
        dx, dk, _ = ops.conv_backward(np.ones_like(y), x.shape, kernel, cols, (1, 2, 1), "same", (1, 1, 1),
                                      has_bias=False)
        return y, dx, dk

    fast, slow = _twins(monkeypatch, run)
    _assert_same(fast, slow)


# (shape, gamma, beta): BatchNormalization after a convolution (NHWC) and after a Dense layer (N, C), with and
# without center/scale, many channels.
NORMS = [((32, 16, 16, 16), True, True), ((8, 8, 8, 64), True, False), ((32, 10), False, True),
         ((5, 3, 7), False, False), ((16, 4, 4, 160), True, True)]


@pytest.mark.parametrize("shape,scale,center", NORMS)
def test_batch_norm_matches_numpy_twin(monkeypatch, shape, scale, center) -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape, dtype=np.float32) * 3 + 0.5
    dy = rng.standard_normal(shape, dtype=np.float32)
    params = (1,) * (len(shape) - 1) + (shape[-1],)
    gamma = rng.standard_normal(params, dtype=np.float32) if scale else None
    beta = rng.standard_normal(params, dtype=np.float32) if center else None
    axes = tuple(range(len(shape) - 1))

    def run(ops):
        forward = ops.normalize(x, axes, 1e-3, gamma, beta)
        return forward + ops.normalize_backward(dy, forward[3], forward[4], axes, params, gamma, center)

    fast, slow = _twins(monkeypatch, run)
    _assert_same(fast, slow)


def test_batch_norm_on_a_strided_input_and_other_axes(monkeypatch) -> None:
    """A non-contiguous input is normalized as its contiguous copy; statistics over other axes (layer
    normalization, channels_first) stay on the generic code."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 10, 9), dtype=np.float32)[:, ::2]

    def run(ops):
        per_channel = ops.normalize(x, (0, 1), 1e-3, np.ones((1, 1, 9), np.float32), None)
        per_row = ops.normalize(x, (2,), 1e-5, None, None)
        return per_channel + per_row

    fast, slow = _twins(monkeypatch, run)
    _assert_same(fast, slow)
