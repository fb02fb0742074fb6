"""CuPy backend: the generic ops on GPU arrays, dispatching the hot ones to our CUDA kernels.

Each override only dispatches: it asks the kernel's launcher (gpukeras/backend/launchers/, one per
kernel of kernels/*.cu) to run, and falls back to the generic code (`super()`) when the launcher
does not cover the case (dtypes, layouts, parameters) or its kernel cannot be built here (which
warns once). Kernels: activations forward and backward (softmax / log_softmax row-wise over the
last axis), the Dense and Conv epilogue (bias + activation; activation gradient + bias gradient),
fused sparse softmax cross-entropy and sigmoid binary cross-entropy, multi-tensor optimizer
updates (one launch per step for all weights), 2-D max and average pooling, 2-D col2im (the
convolution input gradient; a direct gather without the column matrix for few output channels per
group, which also makes the transposed convolution's forward), direct depthwise convolution (forward
and both backwards), bilinear up-sampling (forward and backward), batch, layer and group normalization,
dropout, scaled dot-product attention (tiled over the keys with an online softmax, forward and
backward), the LSTM and GRU steps (gates, state update and mask in one kernel after the recurrent
GEMM, forward and backward) and the affine gather that samples the geometric augmentations.
`GPUKERAS_CUPY_KERNELS=0` turns every kernel off (generic CuPy code only), which the benchmarks
use as the unfused baseline. Dropout masks come from a Philox stream on the device (twin:
gpukeras.backend.philox), so they differ from NumPy's masks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

import gpukeras.backend.kernels as K

K.cache_dir()  # before CuPy compiles anything (CuPy 14 reads CUPY_CACHE_DIR at import)

import cupy  # noqa: E402
import cupyx  # noqa: E402

from gpukeras.backend import cuda_graphs  # noqa: E402
from gpukeras.backend.base import Array, GraphCaptureError, Ops, Shape, UpdateRule  # noqa: E402
from gpukeras.backend.fused.attention import AttentionResiduals  # noqa: E402
from gpukeras.backend.fused.multi_tensor import MAX_KERNEL_SLOTS, Scalars, decay_flags  # noqa: E402
from gpukeras.backend.launchers import CudaKernels, Device  # noqa: E402
from gpukeras.backend.philox import philox_dropout_mask  # noqa: E402


def _plain(*values: Any) -> bool:
    """Plain host numbers or flags (a kernel cannot take a tensor or a callable hyperparameter)."""
    return all(isinstance(v, (int, float, bool, np.integer, np.floating, np.bool_)) for v in values)


def _kernel_scalars(rule: UpdateRule, scalars: Scalars) -> tuple:
    """An optimizer kernel's scalar arguments: (decay, decay_lr) then the rule's own."""
    return (float(scalars.get("weight_decay") or 0.0), scalars["lr"]) + tuple(rule.kernel_args(scalars))


def _seed(rng: np.random.Generator) -> int:
    """The Philox key of one dropout mask, drawn from the layer's seeded generator."""
    return int(rng.integers(0, 2**63 - 1, dtype=np.int64))


class CupyOps(Ops):
    """Primitive ops on CuPy arrays (NVIDIA GPU memory)."""

    name = "cupy"
    xp = cupy

    def __init__(self) -> None:
        enabled = os.environ.get("GPUKERAS_CUPY_KERNELS", "1").strip() not in ("0", "false", "no")
        self.kernels = CudaKernels(Device(enabled))

    @property
    def use_kernels(self) -> bool:
        """Whether our kernels run (False: the generic CuPy code everywhere, the benchmarks' baseline)."""
        return self.kernels.device.enabled

    @use_kernels.setter
    def use_kernels(self, value: bool) -> None:
        self.kernels.device.enabled = bool(value)

    # ------------------------------------------------------------------ creation/transfer
    def asarray(self, x: Any, dtype: Any = None) -> Array:
        """Host data to the device; CuPy stages NumPy arrays through pinned memory (async copy)."""
        return cupy.asarray(x, dtype=dtype)

    def to_numpy(self, x: Array) -> np.ndarray:
        return x.get() if isinstance(x, cupy.ndarray) else np.asarray(x)

    def is_array(self, x: Any) -> bool:
        return isinstance(x, cupy.ndarray)

    def item(self, x: Array) -> float:
        """A Python float (waits for the device)."""
        return float(x.get()) if isinstance(x, cupy.ndarray) else float(x)

    def synchronize(self) -> None:
        cupy.cuda.get_current_stream().synchronize()

    def set_tf32(self, enabled: bool) -> bool:
        """CuPy's cuBLAS compute type for float32 (TF32 needs compute capability 8.0+; CuPy refuses below)."""
        try:
            from cupy._core import _routines_linalg as linalg
        except ImportError:
            return False
        kind = getattr(linalg, "COMPUTE_TYPE_TF32", 7) if enabled else getattr(linalg, "COMPUTE_TYPE_DEFAULT", 1)
        try:
            linalg.set_compute_type(np.float32, kind)
        except (RuntimeError, ValueError):  # an older GPU: stays float32
            return False
        return bool(enabled)

    def use_device(self, index: int) -> None:
        """Make GPU `index` (modulo the GPUs this machine has) current for this process's arrays."""
        cupy.cuda.Device(index % cupy.cuda.runtime.getDeviceCount()).use()

    def clear_caches(self) -> None:
        """Drop optimizer tables and loaded kernel modules; free CuPy's device and pinned pools."""
        self.kernels.tables.clear()
        K.clear()
        cupy.get_default_memory_pool().free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()

    # ------------------------------------------------------------------ generic fixes for CuPy
    def _erf(self, x: Array) -> Array:
        from cupyx.scipy.special import erf

        return erf(x)

    def scatter_add(self, out: Array, idx: Any, values: Array) -> None:
        cupyx.scatter_add(out, idx, values)

    def one_hot(self, labels: Array, num_classes: int, dtype: Any = "float32") -> Array:
        labels = cupy.asarray(labels).astype("int64")
        return (labels[..., None] == cupy.arange(num_classes)).astype(dtype)

    # ------------------------------------------------------------------ activations
    def activation(self, name: str, x: Array, params: tuple = ()) -> Array:
        row = self.kernels.softmax_fwd.get(name)
        y = row(x, params) if row is not None else self.kernels.act_fwd(name, x, params)
        return y if y is not None else super().activation(name, x, params)

    def activation_backward(self, name: str, dy: Array, x: Array, y: Array, params: tuple = ()) -> Array:
        row = self.kernels.softmax_bwd.get(name)
        dx = row(dy, x, y, params) if row is not None else self.kernels.act_bwd(name, dy, x, y, params)
        return dx if dx is not None else super().activation_backward(name, dy, x, y, params)

    # ------------------------------------------------------------------ fused bias + activation (Dense, Conv)
    def bias_activation(self, z: Array, bias: Array | None, activation: str,
                        params: tuple = ()) -> tuple[Array, Array]:
        """One kernel over the GEMM output: z += bias (in place), y = act(z). Dense and Conv use it."""
        out = self.kernels.epilogue_fwd(z, bias, activation, params)
        return out if out is not None else super().bias_activation(z, bias, activation, params)

    def bias_activation_backward(self, dy: Array, z: Array, y: Array, activation: str, params: tuple = (),
                                 has_bias: bool = True) -> tuple[Array, Array | None]:
        """One kernel: dz = dy * act'(z) and the bias gradient (block column sums, no atomics)."""
        out = self.kernels.epilogue_bwd(dy, z, y, activation, params, has_bias)
        return out if out is not None else super().bias_activation_backward(dy, z, y, activation, params, has_bias)

    # ------------------------------------------------------------------ convolution input gradient
    def col2im_add(self, dx: Array, dcols: Array, out_sizes: Sequence[int], kernel_sizes: Sequence[int],
                   strides: Sequence[int], dilation_rate: Sequence[int]) -> None:
        """2-D col2im in one gather kernel (the generic code makes one strided add per kernel offset)."""
        if not self.kernels.col2im(dx, dcols, out_sizes, kernel_sizes, strides, dilation_rate):
            super().col2im_add(dx, dcols, out_sizes, kernel_sizes, strides, dilation_rate)

    def conv_input_grad(self, dy: Array, kernel: Array, x_shape: Sequence[int], strides: Sequence[int],
                        padding: Any, dilation_rate: Sequence[int], groups: int = 1) -> Array:
        """Few output channels per group (1-D/2-D): one gather kernel, no column matrix (else GEMM + col2im)."""
        dx = self.kernels.vision.conv_input_grad(dy, kernel, x_shape, strides, padding, dilation_rate, groups)
        return dx if dx is not None else super().conv_input_grad(dy, kernel, x_shape, strides, padding,
                                                                 dilation_rate, groups)

    # ------------------------------------------------------------------ depthwise convolution, bilinear up-sampling
    def depthwise_conv(self, x: Array, kernel: Array, strides: Sequence[int], padding: Any,
                       dilation_rate: Sequence[int]) -> Array:
        """1-D/2-D: one thread per output over its window (no im2col, no grouped GEMM)."""
        y = self.kernels.vision.depthwise.forward(x, kernel, strides, padding, dilation_rate)
        return y if y is not None else super().depthwise_conv(x, kernel, strides, padding, dilation_rate)

    def depthwise_conv_backward(self, dy: Array, x: Array, kernel: Array, strides: Sequence[int], padding: Any,
                                dilation_rate: Sequence[int], need_dx: bool = True) -> tuple[Array | None, Array]:
        """A gather kernel for dx, a split reduction (partial sums added in order) for dkernel."""
        out = self.kernels.vision.depthwise.backward(dy, x, kernel, strides, padding, dilation_rate, need_dx)
        return out if out is not None else super().depthwise_conv_backward(dy, x, kernel, strides, padding,
                                                                           dilation_rate, need_dx)

    def upsample_bilinear(self, x: Array, factors: Sequence[int], axes: Sequence[int]) -> Array:
        """Images (either layout): one thread per output, four taps."""
        y = self.kernels.vision.bilinear_fwd(x, factors, axes)
        return y if y is not None else super().upsample_bilinear(x, factors, axes)

    def upsample_bilinear_backward(self, dy: Array, factors: Sequence[int], axes: Sequence[int]) -> Array:
        """One thread per input, gathering from the outputs it took part in (no atomics)."""
        dx = self.kernels.vision.bilinear_bwd(dy, factors, axes)
        return dx if dx is not None else super().upsample_bilinear_backward(dy, factors, axes)

    # ------------------------------------------------------------------ batch, layer and group normalization
    def normalize(self, x: Array, axes: tuple[int, ...], epsilon: float, gamma: Array | None = None,
                  beta: Array | None = None) -> tuple[Array, Array, Array, Array, Array]:
        """Per channel: two column-sum passes, then one for xhat and y. Per row, or per (sample, group): one block
        each."""
        out = self.kernels.norm.forward(x, axes, epsilon, gamma, beta)
        return out if out is not None else super().normalize(x, axes, epsilon, gamma, beta)

    def normalize_backward(self, dy: Array, xhat: Array, inv_std: Array, axes: tuple[int, ...],
                           param_shape: Sequence[int], gamma: Array | None = None, has_beta: bool = False
                           ) -> tuple[Array, Array | None, Array | None]:
        """One column-sum pass (dbeta = sum dy, dgamma = sum dy*xhat over the rows), then one pass for dx (per
        channel) or one block per row or per (sample, group)."""
        out = self.kernels.norm.backward(dy, xhat, inv_std, axes, param_shape, gamma, has_beta)
        if out is None:
            out = super().normalize_backward(dy, xhat, inv_std, axes, param_shape, gamma, has_beta)
        return out

    # ------------------------------------------------------------------ pooling
    def pool(self, x: Array, mode: str, pool_size: Sequence[int], strides: Sequence[int],
             padding: Any = "valid") -> Array:
        """2-D max / average pooling with valid windows in one kernel (no cuDNN in CuPy 14)."""
        launcher = self.kernels.pool_fwd.get(mode)
        y = launcher(x, pool_size, strides, padding) if launcher is not None else None
        return y if y is not None else super().pool(x, mode, pool_size, strides, padding)

    def pool_backward(self, dy: Array, x: Array, y: Array, mode: str, pool_size: Sequence[int],
                      strides: Sequence[int], padding: Any = "valid") -> Array:
        """Its gradient in one kernel, gathering from the windows each input belongs to."""
        launcher = self.kernels.pool_bwd.get(mode)
        dx = launcher(dy, x, y, pool_size, strides, padding) if launcher is not None else None
        return dx if dx is not None else super().pool_backward(dy, x, y, mode, pool_size, strides, padding)

    # ------------------------------------------------------------------ fused losses
    def sparse_softmax_cross_entropy(self, logits: Array, labels: Array) -> tuple[Array, Array]:
        """One block per row: max, sum of exp, loss and the softmax probabilities."""
        out = self.kernels.sxent_fwd(logits, labels)
        return out if out is not None else super().sparse_softmax_cross_entropy(logits, labels)

    def sparse_softmax_cross_entropy_backward(self, dloss: Array, probs: Array, labels: Array) -> Array:
        """(softmax - onehot) * dloss in one pass."""
        grad = self.kernels.sxent_bwd(dloss, probs, labels)
        return grad if grad is not None else super().sparse_softmax_cross_entropy_backward(dloss, probs, labels)

    def sigmoid_binary_cross_entropy(self, logits: Array, targets: Array) -> tuple[Array, Array]:
        """Elementwise BCE from logits and sigmoid(logits), in one pass."""
        out = self.kernels.sbce_fwd(logits, targets)
        return out if out is not None else super().sigmoid_binary_cross_entropy(logits, targets)

    def sigmoid_binary_cross_entropy_backward(self, dloss: Array, probs: Array, targets: Array) -> Array:
        """(sigmoid(z) - t) * dloss in one pass."""
        grad = self.kernels.sbce_bwd(dloss, probs, targets)
        return grad if grad is not None else super().sigmoid_binary_cross_entropy_backward(dloss, probs, targets)

    # ------------------------------------------------------------------ dropout
    def dropout_mask(self, shape: Shape, rate: float, rng: np.random.Generator,
                     dtype: Any = "float32") -> Array:
        """Philox mask on the device (seeded from `rng`): 1/(1-rate) where kept, else 0."""
        if self.kernels.device.capture is not None:
            return self._captured(self.kernels.dropout_mask(tuple(shape), rate, 0, dtype, self._fed_seed(rng)),
                                  "dropout")
        seed = _seed(rng)
        mask = self.kernels.dropout_mask(tuple(shape), rate, seed, dtype)
        return mask if mask is not None else cupy.asarray(philox_dropout_mask(tuple(shape), rate, seed, dtype))

    def dropout(self, x: Array, rate: float, rng: np.random.Generator) -> tuple[Array, Array]:
        """(x * mask, mask) in one kernel, the mask as `dropout_mask` draws it."""
        if self.kernels.device.capture is not None:
            return self._captured(self.kernels.dropout(x, rate, 0, self._fed_seed(rng)), "dropout")
        seed = _seed(rng)
        out = self.kernels.dropout(x, rate, seed)
        if out is not None:
            return out
        mask = cupy.asarray(philox_dropout_mask(tuple(x.shape), rate, seed, x.dtype))
        return x * mask, mask

    # ------------------------------------------------------------------ scaled dot-product attention
    def attention(self, q: Array, k: Array, v: Array, bias: Array | None = None, mask: Array | None = None,
                  causal: bool = False, scale: float = 1.0, zero_masked_rows: bool = False, dropout: float = 0.0,
                  rng: np.random.Generator | None = None) -> tuple[Array, AttentionResiduals]:
        """Tiled over the keys with an online softmax (the weights are never stored); Philox dropout."""
        if dropout > 0:
            self.refuse_capture("attention dropout draws its seed on the host")
        if not self.kernels.attention.covers(q, k, v, bias, mask):
            return super().attention(q, k, v, bias, mask, causal, scale, zero_masked_rows, dropout, rng)
        seed = _seed(rng) if dropout > 0 else 0
        out = self.kernels.attention.forward(q, k, v, mask, causal, scale, zero_masked_rows, dropout, seed)
        residuals = AttentionResiduals(lse=None if out is None else out[1], seed=seed, rate=dropout)
        if out is None:  # the kernel cannot be built here: the generic code, with the same dropout factors
            residuals = self._generic_attention_residuals(q, k, mask, causal, scale, zero_masked_rows, dropout,
                                                          seed)
            return self._attention_output(residuals.probs, residuals.dropout_mask, v), residuals
        return out[0], residuals

    def attention_backward(self, dout: Array, q: Array, k: Array, v: Array, out: Array,
                           residuals: AttentionResiduals, bias: Array | None = None, mask: Array | None = None,
                           causal: bool = False, scale: float = 1.0, zero_masked_rows: bool = False
                           ) -> tuple[Array, Array, Array, Array | None]:
        """Two kernels (dq per query block; dk, dv per key tile) after the kernel's forward."""
        if residuals.lse is not None:
            rate, seed = residuals.rate, residuals.seed
            grads = self.kernels.attention.backward(dout, q, k, v, out, residuals.lse, mask, causal, scale,
                                                    zero_masked_rows, rate, seed)
            if grads is not None:
                return (*grads, None)
            residuals = self._generic_attention_residuals(q, k, mask, causal, scale, zero_masked_rows, rate, seed)
        return super().attention_backward(dout, q, k, v, out, residuals, bias, mask, causal, scale, zero_masked_rows)

    def flash_attention_available(self, q: Array, k: Array, v: Array, bias: Array | None = None,
                                  mask: Array | None = None) -> bool:
        return self.kernels.attention.covers(q, k, v, bias, mask)

    def _generic_attention_residuals(self, q: Array, k: Array, mask: Array | None, causal: bool, scale: float,
                                     zero_masked_rows: bool, rate: float, seed: int) -> AttentionResiduals:
        """The generic code's weights, and the dropout factors the kernel draws for `seed`."""
        probs = self._attention_probs(q, k, None, mask, causal, scale, zero_masked_rows)
        drop = cupy.asarray(philox_dropout_mask(probs.shape, rate, seed, probs.dtype)) if rate > 0 else None
        return AttentionResiduals(probs, drop)

    # ------------------------------------------------------------------ recurrent cell steps
    def lstm_step(self, x: Array, hr: Array, bias: Array | None, h_prev: Array, c_prev: Array, mask: Array | None,
                  fallback: Array | None, activation: tuple, recurrent_activation: tuple) -> tuple:
        """One kernel for the step's gates, states and mask (after the recurrent GEMM)."""
        out = self.kernels.recurrent.lstm_step(x, hr, bias, h_prev, c_prev, mask, fallback, activation,
                                               recurrent_activation)
        return out if out is not None else super().lstm_step(x, hr, bias, h_prev, c_prev, mask, fallback,
                                                               activation, recurrent_activation)

    def lstm_step_backward(self, dh: Array, dc: Array, dout: Array | None, saved: tuple, c_prev: Array,
                           mask: Array | None, masked_output: str, activation: tuple,
                           recurrent_activation: tuple) -> tuple:
        out = self.kernels.recurrent.lstm_step_backward(dh, dc, dout, saved, c_prev, mask, masked_output, activation,
                                                        recurrent_activation)
        return out if out is not None else super().lstm_step_backward(dh, dc, dout, saved, c_prev, mask,
                                                                        masked_output, activation,
                                                                        recurrent_activation)

    def gru_step(self, x: Array, hr: Array, recurrent_bias: Array | None, h_prev: Array, mask: Array | None,
                 fallback: Array | None, activation: tuple, recurrent_activation: tuple) -> tuple:
        out = self.kernels.recurrent.gru_step(x, hr, recurrent_bias, h_prev, mask, fallback, activation,
                                              recurrent_activation)
        return out if out is not None else super().gru_step(x, hr, recurrent_bias, h_prev, mask, fallback, activation,
                                                              recurrent_activation)

    def gru_step_backward(self, dh: Array, dout: Array | None, saved: tuple, h_prev: Array, mask: Array | None,
                          masked_output: str, activation: tuple, recurrent_activation: tuple) -> tuple:
        out = self.kernels.recurrent.gru_step_backward(dh, dout, saved, h_prev, mask, masked_output, activation,
                                                       recurrent_activation)
        return out if out is not None else super().gru_step_backward(dh, dout, saved, h_prev, mask, masked_output,
                                                                       activation, recurrent_activation)

    # ------------------------------------------------------------------ image sampling (augmentation layers)
    def affine_transform(self, images: Array, transform: Array, interpolation: str = "bilinear",
                         fill_mode: str = "constant", fill_value: float = 0.0, channels_first: bool = False) -> Array:
        """A batch rotated, zoomed or shifted in one gather kernel (one thread per output element)."""
        y = self.kernels.affine_sample(images, transform, interpolation, fill_mode, fill_value, channels_first)
        return y if y is not None else super().affine_transform(images, transform, interpolation, fill_mode,
                                                                fill_value, channels_first)

    # ------------------------------------------------------------------ multi-tensor optimizers
    def multi_tensor_apply(self, rule: UpdateRule, tensor_lists: Sequence[Sequence[Array] | None], scalars: Scalars,
                           decay_mask: Sequence[bool] | None = None) -> None:
        """All weights in one launch of the rule's kernel (gk_<kernel>_multi_f32), weight decay fused."""
        launcher = self.kernels.optimizers.get(f"gk_{rule.kernel}_multi") if rule.kernel else None
        if launcher is None or not _plain(*scalars.values()):
            self.refuse_capture(f"the {rule.name} update has no kernel taking plain scalars")
            return super().multi_tensor_apply(rule, tensor_lists, scalars, decay_mask)
        flags = decay_flags(len(tensor_lists[0]), scalars, decay_mask)
        columns = [*tensor_lists, *[None] * (2 + MAX_KERNEL_SLOTS - len(tensor_lists))]  # params, grads, slots
        remake = getattr(scalars, "remake", None)
        refresh = None if remake is None else (lambda: _kernel_scalars(rule, remake()))
        if not launcher(columns, _kernel_scalars(rule, scalars), [int(f) for f in flags], refresh):
            self.refuse_capture(f"the {rule.name} update's kernel does not cover these weights, or its scalars "
                                "cannot be computed again per step")
            super().multi_tensor_apply(rule, tensor_lists, scalars, decay_mask)

    # ------------------------------------------------------------------ step graphs (cuda_graphs.py)
    graphs = True
    graph_fed_random = frozenset({"dropout", "dropout_mask", "attention"})  # draw their seeds per launch

    def capture_step(self, fn: Any, arrays: Sequence[Array]) -> cuda_graphs.CudaStepGraph:
        """The step's launches as one CUDA graph (private memory pool, fixed inputs, per-launch host values)."""
        return cuda_graphs.capture(self, fn, arrays)

    def host_effect(self, fn: Any) -> None:
        capture = self.kernels.device.capture
        if capture is None:
            fn()
        else:
            capture.effect(fn)

    def refuse_capture(self, reason: str) -> None:
        if self.kernels.device.capture is not None:
            raise GraphCaptureError(reason)

    def _fed_seed(self, rng: np.random.Generator) -> Array:
        """A dropout seed on the device, drawn from `rng` before each launch of the graph being captured."""
        return self.kernels.device.capture.feed(lambda: [_seed(rng)], np.int64, 1)

    @staticmethod
    def _captured(out: Any, what: str) -> Any:
        if out is None:
            raise GraphCaptureError(f"{what} has no kernel here that reads its seed from the device")
        return out
