"""Differentiable neural-network ops: activations, fused Dense, fused losses, dropout."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.ops import linalg as _linalg
from gpukeras.ops import math as _math
from gpukeras.ops import numpy as _np
from gpukeras.ops.convolution import normalize_data_format
from gpukeras.ops.core import data_of, promote_to
from gpukeras.tensor import Tensor


def activation(name: str, x: Any, params: tuple = ()) -> Tensor:
    """Apply the backend activation primitive `name` with its fused backward."""
    B = _backend.active
    a = data_of(x)
    out = B.activation(name, a, params)
    return attach(out, (x,), lambda g: (B.activation_backward(name, g, a, out, params),))


def relu(x: Any) -> Tensor:
    return activation("relu", x)


def relu6(x: Any) -> Tensor:
    return activation("relu6", x)


def sigmoid(x: Any) -> Tensor:
    return activation("sigmoid", x)


def tanh(x: Any) -> Tensor:
    return activation("tanh", x)


def softplus(x: Any) -> Tensor:
    return activation("softplus", x)


def softsign(x: Any) -> Tensor:
    return activation("softsign", x)


def silu(x: Any) -> Tensor:
    return activation("silu", x)


swish = silu


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    return activation("elu", x, (alpha,))


def selu(x: Any) -> Tensor:
    return activation("selu", x)


def gelu(x: Any, approximate: bool = True) -> Tensor:
    """GELU; keras.ops.gelu defaults to the tanh approximation (the activation does not)."""
    return activation("gelu_tanh" if approximate else "gelu", x)


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Tensor:
    return activation("leaky_relu", x, (negative_slope,))


def hard_sigmoid(x: Any) -> Tensor:
    return activation("hard_sigmoid", x)


def hard_silu(x: Any) -> Tensor:
    return activation("hard_silu", x)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return activation("softmax", x, (axis,))


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return activation("log_softmax", x, (axis,))


def dense(x: Any, kernel: Any, bias: Any = None, activation: str = "linear", params: tuple = ()) -> Tensor:
    """activation(x @ kernel + bias) as one fused primitive with one fused backward."""
    B = _backend.active
    w = data_of(kernel)
    a = promote_to(data_of(x), w.dtype)
    b = None if bias is None else data_of(bias)
    y, z = B.dense(a, w, b, activation, params)
    need_dx = isinstance(x, Tensor) and x.needs_grad

    def backward(g):
        dx, dw, db = B.dense_backward(g, a, w, z, y, activation, params, b is not None, need_dx)
        return (dx, dw) if b is None else (dx, dw, db)

    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return attach(y, inputs, backward)


def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = "float32") -> Tensor:
    out = _backend.active.one_hot(data_of(x), num_classes, dtype=dtype)
    if axis != -1:
        out = _backend.active.xp.moveaxis(out, -1, axis)
    return Tensor(out)


def sparse_softmax_cross_entropy(labels: Any, logits: Any) -> Tensor:
    """Per-sample -log softmax(logits)[label], fused forward and fused backward."""
    B = _backend.active
    z = data_of(logits)
    idx = data_of(labels)
    loss, probs = B.sparse_softmax_cross_entropy(z, idx)
    return attach(loss, (labels, logits),
                  lambda g: (None, B.sparse_softmax_cross_entropy_backward(g, probs, idx)))


def sparse_crossentropy_from_probs(labels: Any, probs: Any, epsilon: float) -> Tensor:
    """Per-sample -log(clip(p / sum(p), eps, 1 - eps))[label], one fused call forward and one backward."""
    B = _backend.active
    loss, residuals = B.sparse_crossentropy_from_probs(data_of(probs), data_of(labels), epsilon)
    return attach(loss, (labels, probs), lambda g: (None, B.sparse_crossentropy_from_probs_backward(g, residuals)))


def dropout(x: Any, rate: float, rng: Any) -> Tensor:
    """Inverted dropout: zero a `rate` fraction and scale the rest by 1/(1-rate)."""
    B = _backend.active
    a = data_of(x)
    mask = B.dropout_mask(a.shape, rate, rng, dtype=a.dtype)
    return attach(B.multiply(a, mask), (x,), lambda g: (B.multiply(g, mask),))


# ---------------------------------------------------------------------------- more of keras.ops.nn
# Composed from keras.ops' numpy-style ops, which carry the gradients.
_EPSILON = 1e-7  # Keras's backend.epsilon(), the default of the losses and normalizations below


def log_sigmoid(x: Any) -> Tensor:
    return _np.negative(softplus(_np.negative(x)))


def celu(x: Any, alpha: float = 1.0) -> Tensor:
    return _np.add(relu(x), _np.multiply(_np.expm1(_np.divide(_np.minimum(x, 0.0), alpha)), alpha))


def glu(x: Any, axis: int = -1) -> Tensor:
    a, b = _np.split(x, 2, axis=axis)
    return _np.multiply(a, sigmoid(b))


def hard_tanh(x: Any) -> Tensor:
    return _np.clip(x, -1.0, 1.0)


def hard_shrink(x: Any, threshold: float = 0.5) -> Tensor:
    return _np.where(_np.greater(_np.abs(x), threshold), x, 0.0)


def soft_shrink(x: Any, threshold: float = 0.5) -> Tensor:
    shrunk = _np.where(_np.greater(x, threshold), _np.subtract(x, threshold), 0.0)
    return _np.where(_np.less(x, -threshold), _np.add(x, threshold), shrunk)


def tanh_shrink(x: Any) -> Tensor:
    return _np.subtract(x, tanh(x))


def squareplus(x: Any, b: float = 4) -> Tensor:
    return _np.divide(_np.add(x, _np.sqrt(_np.add(_np.square(x), float(b)))), 2.0)


def sparse_plus(x: Any) -> Tensor:
    """0 below -1, x above 1, (x + 1)^2 / 4 between."""
    middle = _np.divide(_np.square(_np.add(x, 1.0)), 4.0)
    return _np.where(_np.less_equal(x, -1.0), 0.0, _np.where(_np.greater_equal(x, 1.0), x, middle))


def threshold(x: Any, threshold: float, default_value: float) -> Tensor:
    return _np.where(_np.greater(x, threshold), x, default_value)


def sparsemax(x: Any, axis: int = -1) -> Tensor:
    """The Euclidean projection of x onto the probability simplex along `axis` (Martins & Astudillo, 2016)."""
    z = _np.moveaxis(x, axis, -1)
    ordered = _np.flip(_np.sort(z, axis=-1), axis=-1)
    n = _np.shape(z)[-1]
    ks = _np.arange(1, n + 1, dtype=data_of(ordered).dtype)
    bound = _np.add(_np.multiply(ks, ordered), 1.0)
    running = _np.cumsum(ordered, axis=-1)
    support = _np.cast(_np.greater(bound, running), data_of(ordered).dtype)
    k = _np.sum(support, axis=-1, keepdims=True)
    tau = _np.divide(_np.subtract(_np.sum(_np.multiply(support, ordered), axis=-1, keepdims=True), 1.0), k)
    return _np.moveaxis(_np.maximum(_np.subtract(z, tau), 0.0), -1, axis)


def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> Tensor:
    """x divided by its `order`-norm along `axis`, the norm taken as at least `epsilon`."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1, not {order!r}.")
    eps = _EPSILON if epsilon is None else epsilon
    if order == 2:
        inverse = _math.rsqrt(_np.sum(_np.square(x), axis=axis, keepdims=True))
        return _np.multiply(x, _np.minimum(inverse, 1.0 / eps))
    return _np.divide(x, _np.maximum(_linalg.norm(x, ord=order, axis=axis, keepdims=True), eps))


def multi_hot(inputs: Any, num_classes: int | None = None, axis: int = -1, dtype: Any = None, sparse: bool = False,
              **kwargs: Any) -> Tensor:
    """1 at every class listed along the last axis of `inputs` (a 1-D input is one sample)."""
    if sparse:
        raise ValueError("multi_hot(sparse=True): gpukeras has no sparse tensors.")
    num_classes = kwargs.pop("num_tokens", num_classes)
    B = _backend.active
    labels = data_of(inputs)
    single = labels.ndim == 1
    labels = B.expand_dims(labels, 0) if single else labels
    hot = B.max(B.one_hot(labels, num_classes, dtype=dtype or "float32"), axis=-2)
    if axis != -1:
        hot = B.transpose(hot, _moved_last(hot.ndim, axis))
    return Tensor(B.squeeze(hot, 0) if single else hot)


def _moved_last(ndim: int, axis: int) -> list[int]:
    order = list(range(ndim - 1))
    order.insert(axis % ndim, ndim - 1)
    return order


def layer_normalization(x: Any, gamma: Any = None, beta: Any = None, axis: int = -1, epsilon: float | None = None,
                        **kwargs: Any) -> Tensor:
    eps = _EPSILON if epsilon is None else epsilon
    centered = _np.subtract(x, _np.mean(x, axis=axis, keepdims=True))
    out = _np.multiply(centered, _math.rsqrt(_np.add(_np.mean(_np.square(centered), axis=axis, keepdims=True), eps)))
    out = out if gamma is None else _np.multiply(out, gamma)
    return out if beta is None else _np.add(out, beta)


def rms_normalization(x: Any, scale: Any = None, axis: int = -1, epsilon: float | None = None) -> Tensor:
    eps = _EPSILON if epsilon is None else epsilon
    out = _np.multiply(x, _math.rsqrt(_np.add(_np.mean(_np.square(x), axis=axis, keepdims=True), eps)))
    return out if scale is None else _np.multiply(out, scale)


def psnr(x1: Any, x2: Any, max_val: float) -> Tensor:
    """Peak signal-to-noise ratio in dB: 20 log10(max_val) - 10 log10(mean((x1 - x2)^2))."""
    mse = _np.mean(_np.square(_np.subtract(x1, x2)))
    return _np.subtract(20.0 * float(np.log10(max_val)), _np.multiply(_np.log10(mse), 10.0))


def categorical_crossentropy(target: Any, output: Any, from_logits: bool = False, axis: int = -1) -> Tensor:
    """-sum(target * log p) along `axis`; probabilities are renormalized and clipped to [1e-7, 1 - 1e-7]."""
    if from_logits:
        log_p = log_softmax(output, axis=axis)
    else:
        p = _np.divide(output, _np.sum(output, axis=axis, keepdims=True))
        log_p = _np.log(_np.clip(p, _EPSILON, 1.0 - _EPSILON))
    return _np.negative(_np.sum(_np.multiply(_np.cast(target, data_of(log_p).dtype), log_p), axis=axis))


def sparse_categorical_crossentropy(target: Any, output: Any, from_logits: bool = False, axis: int = -1) -> Tensor:
    """categorical_crossentropy with integer class targets (a trailing axis of size 1 is dropped)."""
    labels = data_of(target)
    if labels.ndim == len(_np.shape(output)) and labels.shape[-1] == 1:
        labels = _backend.active.squeeze(labels, -1)
    n = _np.shape(output)[axis]
    hot = one_hot(Tensor(labels), n, axis=axis, dtype=str(data_of(output).dtype))
    return categorical_crossentropy(hot, output, from_logits=from_logits, axis=axis)


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Tensor:
    """Elementwise -(t log p + (1 - t) log(1 - p)), p clipped to [1e-7, 1 - 1e-7] (or sigmoid(logits))."""
    t = _np.cast(target, data_of(output).dtype) if hasattr(data_of(output), "dtype") else target
    if from_logits:  # max(z, 0) - z t + log(1 + exp(-|z|))
        return _np.add(_np.subtract(relu(output), _np.multiply(output, t)),
                       _np.log1p(_np.exp(_np.negative(_np.abs(output)))))
    p = _np.clip(output, _EPSILON, 1.0 - _EPSILON)
    return _np.negative(_np.add(_np.multiply(t, _np.log(p)),
                                _np.multiply(_np.subtract(1.0, t), _np.log(_np.subtract(1.0, p)))))


def hard_swish(x: Any) -> Tensor:
    return hard_silu(x)


def sparse_sigmoid(x: Any) -> Tensor:
    """0 below -1, 1 above 1, (x + 1) / 2 between."""
    return _np.clip(_np.divide(_np.add(x, 1.0), 2.0), 0.0, 1.0)


def depth_to_space(x: Any, block_size: int, data_format: str = "channels_last") -> Tensor:
    """Channels moved into block_size x block_size spatial blocks. As Keras 3: channels_last reads the channel
    as (row, col, c) (TensorFlow's order), channels_first as (c, row, col) (PyTorch's pixel shuffle)."""
    b = int(block_size)
    if data_format == "channels_first":
        n, c, h, w = _np.shape(x)
        z = _np.transpose(_np.reshape(x, (n, c // (b * b), b, b, h, w)), (0, 1, 4, 2, 5, 3))
        return _np.reshape(z, (n, c // (b * b), h * b, w * b))
    n, h, w, c = _np.shape(x)
    z = _np.transpose(_np.reshape(x, (n, h, w, b, b, c // (b * b))), (0, 1, 3, 2, 4, 5))
    return _np.reshape(z, (n, h * b, w * b, c // (b * b)))


def space_to_depth(x: Any, block_size: int, data_format: str = "channels_last") -> Tensor:
    """The inverse of depth_to_space: each block_size x block_size block becomes channels."""
    b = int(block_size)
    if data_format == "channels_first":
        n, c, h, w = _np.shape(x)
        z = _np.transpose(_np.reshape(x, (n, c, h // b, b, w // b, b)), (0, 1, 3, 5, 2, 4))
        return _np.reshape(z, (n, c * b * b, h // b, w // b))
    n, h, w, c = _np.shape(x)
    z = _np.transpose(_np.reshape(x, (n, h // b, b, w // b, b, c)), (0, 1, 3, 2, 4, 5))
    return _np.reshape(z, (n, h // b, w // b, b * b * c))


# ---------------------------------------------------------------------------- CTC
_LOG_ZERO = -1e30  # log(0) for alignments that cannot happen: finite, so logaddexp's gradient stays finite


def ctc_loss(target: Any, output: Any, target_length: Any, output_length: Any, mask_index: int = 0) -> Tensor:
    """Per-sample connectionist temporal classification loss: -log p(target | output), output the logits
    (batch, time, classes), `mask_index` the blank class. The forward algorithm over the blank-interleaved
    labels, written with ops so the tape carries its gradient."""
    B = _backend.active
    labels = B.cast(data_of(target), "int64")
    batch, max_len = labels.shape
    steps = _np.shape(output)[1]
    log_p = log_softmax(_np.cast(output, "float32") if data_of(output).dtype.kind in "biu" else output, axis=-1)
    blanks = B.full(labels.shape, mask_index, "int64")
    ext = B.concatenate([B.reshape(B.stack([blanks, labels], axis=2), (batch, 2 * max_len)),
                         B.full((batch, 1), mask_index, "int64")], axis=1)  # (batch, 2L + 1)
    size = 2 * max_len + 1
    emit = _np.take_along_axis(log_p, Tensor(B.broadcast_to(B.expand_dims(ext, 1), (batch, steps, size))), axis=2)
    prev2 = B.concatenate([B.full((batch, 2), -1, "int64"), ext[:, :-2]], axis=1)
    skip = Tensor(B.logical("and", B.compare("not_equal", ext, mask_index), B.compare("not_equal", ext, prev2)))
    dtype = data_of(emit).dtype
    floor_ = _np.full((), _LOG_ZERO, dtype)
    first_two = Tensor(B.compare("less", B.reshape(B.arange(size), (1, size)), 2))
    alpha = _np.where(first_two, _np.take(emit, 0, axis=1), floor_)
    out_len = B.reshape(B.cast(data_of(output_length), "int64"), (batch, 1))
    for t in range(1, steps):
        one_back = _np.concatenate([_np.full((batch, 1), _LOG_ZERO, dtype), _np.getitem(alpha, (slice(None),
                                                                                              slice(0, -1)))], axis=1)
        two_back = _np.concatenate([_np.full((batch, 2), _LOG_ZERO, dtype), _np.getitem(alpha, (slice(None),
                                                                                              slice(0, -2)))], axis=1)
        total = _np.logaddexp(_np.logaddexp(alpha, one_back), _np.where(skip, two_back, floor_))
        alpha = _np.where(Tensor(B.compare("less", t, out_len)), _np.add(total, _np.take(emit, t, axis=1)), alpha)
    ends = B.reshape(B.multiply(B.cast(data_of(target_length), "int64"), 2), (batch, 1))
    last = _np.take_along_axis(alpha, Tensor(ends), axis=1)
    before = _np.take_along_axis(alpha, Tensor(B.maximum(B.subtract(ends, 1), 0)), axis=1)
    before = _np.where(Tensor(B.compare("greater", ends, 0)), before, floor_)
    return _np.negative(_np.reshape(_np.logaddexp(last, before), (batch,)))


def ctc_decode(inputs: Any, sequence_lengths: Any, strategy: str = "greedy", beam_width: int = 100,
               top_paths: int = 1, merge_repeated: bool = True, mask_index: int = 0) -> tuple[Tensor, Tensor]:
    """Greedy CTC decoding: the best class per step, repeats merged, blanks dropped, padded with -1;
    returns (decoded (1, batch, time) int32, scores (batch, 1)). The score is Keras 3's: minus the sum over the
    valid steps of the largest input (the inputs as given, not log-softmaxed). Beam search is not supported."""
    if strategy != "greedy":
        raise NotImplementedError(f"ctc_decode: strategy {strategy!r}; gpukeras decodes greedily only.")
    B = _backend.active
    log_p = data_of(_np.cast(inputs, "float32") if data_of(inputs).dtype.kind in "biu" else inputs)
    batch, steps = log_p.shape[:2]
    best = B.cast(B.argmax(log_p, axis=-1), "int64")
    valid = B.compare("less", B.reshape(B.arange(steps), (1, steps)),
                      B.reshape(B.cast(data_of(sequence_lengths), "int64"), (batch, 1)))
    keep = B.logical("and", valid, B.compare("not_equal", best, mask_index))
    if merge_repeated:
        previous = B.concatenate([B.full((batch, 1), -1, "int64"), best[:, :-1]], axis=1)
        keep = B.logical("and", keep, B.compare("not_equal", best, previous))
    slots = B.subtract(B.cumulative("sum", B.cast(keep, "int64"), 1), 1)
    rows, cols = B.nonzero(keep)
    decoded = B.setitem(B.full((batch, steps), -1, "int32"), (rows, B.getitem(slots, (rows, cols))),
                        B.cast(B.getitem(best, (rows, cols)), "int32"))
    score = B.negative(B.sum(B.where(valid, B.max(log_p, axis=-1), 0.0), axis=1, keepdims=True))
    return Tensor(B.expand_dims(decoded, 0)), Tensor(score)


# ---------------------------------------------------------------------------- adaptive pooling
def _adaptive_pool(reduce: Any, inputs: Any, output_size: Any, data_format: str | None) -> Tensor:
    """Pool each spatial axis into `output_size` bins [floor(i n / m), ceil((i + 1) n / m)) (PyTorch's
    bins, as Keras 3); a box pooled axis by axis gives the same mean or max as the whole box."""
    channels_last = normalize_data_format(data_format) == "channels_last"
    spatial = _np.ndim(inputs) - 2
    sizes = (output_size,) * spatial if isinstance(output_size, int) else tuple(output_size)
    out = inputs
    for k, m in enumerate(sizes):
        axis = 1 + k if channels_last else 2 + k
        n = _np.shape(out)[axis]
        lead = (slice(None),) * axis
        bins = [(i * n // m, -(-(i + 1) * n // m)) for i in range(m)]
        out = _np.concatenate([reduce(_np.getitem(out, lead + (slice(lo, hi),)), axis=axis, keepdims=True)
                               for lo, hi in bins], axis=axis)
    return out


def adaptive_average_pool(inputs: Any, output_size: Any, data_format: str | None = None) -> Tensor:
    return _adaptive_pool(_np.mean, inputs, output_size, data_format)


def adaptive_max_pool(inputs: Any, output_size: Any, data_format: str | None = None) -> Tensor:
    return _adaptive_pool(_np.max, inputs, output_size, data_format)


# ---------------------------------------------------------------------------- sliding blocks (im2col)
def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def _block_keys(size: tuple[int, int], kernel_size: Any, dilation: Any, padding: Any,
                stride: Any) -> tuple[list[tuple], tuple[int, int], tuple[int, int]]:
    """Per kernel offset (row-major), the strided slices of the padded (N, C, H, W) input it reads; the
    number of block positions (rows, cols); the padding."""
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = (_pair(v) for v in (kernel_size, dilation, padding, stride))
    rows = (size[0] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    cols = (size[1] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    keys = [(slice(None), slice(None), slice(i * dh, i * dh + sh * (rows - 1) + 1, sh),
             slice(j * dw, j * dw + sw * (cols - 1) + 1, sw)) for i in range(kh) for j in range(kw)]
    return keys, (rows, cols), (ph, pw)


def unfold(x: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """Sliding blocks of a channels-first (N, C, H, W) input as columns: (N, C * kh * kw, L), rows ordered
    (channel, kernel row, kernel column), L block positions row-major (PyTorch's unfold, as Keras 3)."""
    n, c, h, w = _np.shape(x)
    keys, (rows, cols), (ph, pw) = _block_keys((h, w), kernel_size, dilation, padding, stride)
    padded = _np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    blocks = _np.stack([_np.getitem(padded, key) for key in keys], axis=2)  # (N, C, k, rows, cols)
    return _np.reshape(blocks, (n, c * len(keys), rows * cols))


def fold(x: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """The adjoint of unfold: columns (N, C * kh * kw, L) summed back into an (N, C, H, W) image (entries
    covered by several blocks add up); its gradient is unfold."""
    B = _backend.active
    cols_ = data_of(x)
    size = _pair(output_size)
    keys, (rows, cols), (ph, pw) = _block_keys(size, kernel_size, dilation, padding, stride)
    n = cols_.shape[0]
    c = cols_.shape[1] // len(keys)
    blocks = B.reshape(cols_, (n, c, len(keys), rows, cols))
    padded_shape = (n, c, size[0] + 2 * ph, size[1] + 2 * pw)
    total = B.zeros(padded_shape, cols_.dtype)
    for k, key in enumerate(keys):
        total = B.add(total, B.getitem_backward(B.getitem(blocks, (slice(None), slice(None), k)), padded_shape, key))
    crop = (slice(None), slice(None), slice(ph, ph + size[0]), slice(pw, pw + size[1]))
    out = B.getitem(total, crop)
    return attach(out, (x,), lambda g: (data_of(unfold(Tensor(g), kernel_size, dilation, padding, stride)),))
