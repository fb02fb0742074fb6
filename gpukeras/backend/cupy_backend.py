"""CuPy backend: the generic ops on GPU arrays, dispatching the hot ones to our CUDA kernels.

Each override only dispatches: it asks the kernel's launcher (gpukeras/backend/launchers/, one per
kernel of kernels/*.cu) to run, and falls back to the generic code (`super()`) when the launcher
does not cover the case (dtypes, layouts, parameters) or its kernel cannot be built here (which
warns once). Kernels: activations forward and backward (softmax / log_softmax row-wise over the
last axis), the Dense and Conv epilogue (bias + activation; activation gradient + bias gradient),
fused sparse softmax cross-entropy and sigmoid binary cross-entropy, multi-tensor optimizer
updates (one launch per step for all weights), 2-D max and average pooling, 2-D col2im (the
convolution input gradient), batch and layer normalization and dropout.
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

from gpukeras.backend.base import Array, Ops, Shape, adam_step_size  # noqa: E402
from gpukeras.backend.launchers import CudaKernels, Device  # noqa: E402
from gpukeras.backend.philox import philox_dropout_mask  # noqa: E402


def _f32(v: float) -> np.float32:
    return np.float32(v)


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values)


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

    # ------------------------------------------------------------------ batch and layer normalization
    def normalize(self, x: Array, axes: tuple[int, ...], epsilon: float, gamma: Array | None = None,
                  beta: Array | None = None) -> tuple[Array, Array, Array, Array, Array]:
        """Per channel: two column-sum passes, then one for xhat and y. Per row: one block per row."""
        out = self.kernels.norm.forward(x, axes, epsilon, gamma, beta)
        return out if out is not None else super().normalize(x, axes, epsilon, gamma, beta)

    def normalize_backward(self, dy: Array, xhat: Array, inv_std: Array, axes: tuple[int, ...],
                           param_shape: Sequence[int], gamma: Array | None = None, has_beta: bool = False
                           ) -> tuple[Array, Array | None, Array | None]:
        """One column-sum pass (dbeta = sum dy, dgamma = sum dy*xhat over the rows), then one pass for dx."""
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
        seed = _seed(rng)
        mask = self.kernels.dropout_mask(tuple(shape), rate, seed, dtype)
        return mask if mask is not None else cupy.asarray(philox_dropout_mask(tuple(shape), rate, seed, dtype))

    def dropout(self, x: Array, rate: float, rng: np.random.Generator) -> tuple[Array, Array]:
        """(x * mask, mask) in one kernel, the mask as `dropout_mask` draws it."""
        seed = _seed(rng)
        out = self.kernels.dropout(x, rate, seed)
        if out is not None:
            return out
        mask = cupy.asarray(philox_dropout_mask(tuple(x.shape), rate, seed, x.dtype))
        return x * mask, mask

    # ------------------------------------------------------------------ multi-tensor optimizers
    def _fused_update(self, kernel: str, columns: list, hyper: tuple, args: Any) -> bool:
        """One launch of optimizers.cu `kernel` over every weight, when the hyperparameters are plain numbers."""
        return _numbers(*hyper) and self.kernels.optimizers[kernel](columns, args())

    def sgd_update(self, params: Sequence[Array], grads: Sequence[Array], moments: Sequence[Array] | None,
                   lr: float, momentum: float, nesterov: bool) -> None:
        """Keras SGD (momentum, nesterov) for all weights in one launch."""
        use_m = bool(momentum)
        if (moments is None and use_m) or not self._fused_update(
                "gk_sgd_multi", [params, grads, moments if use_m else None, None, None], (lr, momentum),
                lambda: (lr, momentum, int(use_m), int(bool(nesterov)))):
            super().sgd_update(params, grads, moments, lr, momentum, nesterov)

    def adam_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                    vs: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                    step: int, vhats: Sequence[Array] | None = None, weight_decay: float = 0.0) -> None:
        """Keras Adam (amsgrad with vhats; AdamW decay w -= lr*weight_decay*w first) in one launch."""
        if self._fused_update(
                "gk_adam_multi", [params, grads, ms, vs, vhats], (lr, beta_1, beta_2, epsilon, step, weight_decay),
                lambda: (adam_step_size(lr, beta_1, beta_2, step, np.float32),  # rounded as the generic path
                         _f32(1.0 - beta_1), _f32(1.0 - beta_2), epsilon, _f32(lr * weight_decay),
                         int(vhats is not None))):
            return
        if weight_decay:
            for w in params:
                w -= w * (weight_decay * lr)
        super().adam_update(params, grads, ms, vs, lr, beta_1, beta_2, epsilon, step, vhats)

    def rmsprop_update(self, params: Sequence[Array], grads: Sequence[Array], velocities: Sequence[Array],
                       momentums: Sequence[Array] | None, average_grads: Sequence[Array] | None, lr: float,
                       rho: float, momentum: float, epsilon: float) -> None:
        """Keras RMSprop (centered when average_grads, momentum when momentums) in one launch."""
        if not self._fused_update(
                "gk_rmsprop_multi", [params, grads, velocities, average_grads, momentums],
                (lr, rho, momentum, epsilon),
                lambda: (lr, rho, 1.0 - rho, momentum, epsilon, int(average_grads is not None),
                         int(momentums is not None))):
            super().rmsprop_update(params, grads, velocities, momentums, average_grads, lr, rho, momentum, epsilon)

    def adagrad_update(self, params: Sequence[Array], grads: Sequence[Array], accumulators: Sequence[Array],
                       lr: float, epsilon: float) -> None:
        """Keras Adagrad for all weights in one launch."""
        if not self._fused_update("gk_adagrad_multi", [params, grads, accumulators, None, None], (lr, epsilon),
                                  lambda: (lr, epsilon)):
            super().adagrad_update(params, grads, accumulators, lr, epsilon)

    def adadelta_update(self, params: Sequence[Array], grads: Sequence[Array],
                        accumulated_grads: Sequence[Array], accumulated_deltas: Sequence[Array], lr: float,
                        rho: float, epsilon: float) -> None:
        """Keras Adadelta for all weights in one launch."""
        if not self._fused_update(
                "gk_adadelta_multi", [params, grads, accumulated_grads, accumulated_deltas, None],
                (lr, rho, epsilon), lambda: (lr, rho, 1 - rho, epsilon)):
            super().adadelta_update(params, grads, accumulated_grads, accumulated_deltas, lr, rho, epsilon)

    def nadam_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                     vs: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                     u_t: float, u_t_1: float, u_product_t: float, beta_2_power: float) -> None:
        """Keras Nadam for all weights in one launch (schedule scalars folded on the host, as the twin)."""
        if not self._fused_update(
                "gk_nadam_multi", [params, grads, ms, vs, None],
                (lr, beta_1, beta_2, epsilon, u_t, u_t_1, u_product_t, beta_2_power),
                lambda: (lr, 1 - beta_1, 1 - beta_2, epsilon, u_t_1, 1 - u_product_t * u_t_1, 1 - u_t,
                         1 - u_product_t, 1 - beta_2_power)):
            super().nadam_update(params, grads, ms, vs, lr, beta_1, beta_2, epsilon, u_t, u_t_1, u_product_t,
                                 beta_2_power)

    def adamax_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array],
                      us: Sequence[Array], lr: float, beta_1: float, beta_2: float, epsilon: float,
                      step: int) -> None:
        """Keras Adamax for all weights in one launch (1 - beta_1^t in float32 on the host, as the twin)."""
        if not self._fused_update(
                "gk_adamax_multi", [params, grads, ms, us, None], (lr, beta_1, beta_2, epsilon, step),
                lambda: (lr, np.float32(1) - np.power(np.float32(beta_1), np.float32(step)), 1 - beta_1, beta_2,
                         epsilon)):
            super().adamax_update(params, grads, ms, us, lr, beta_1, beta_2, epsilon, step)

    def lion_update(self, params: Sequence[Array], grads: Sequence[Array], ms: Sequence[Array], lr: float,
                    beta_1: float, beta_2: float) -> None:
        """Keras Lion for all weights in one launch."""
        if not self._fused_update(
                "gk_lion_multi", [params, grads, ms, None, None], (lr, beta_1, beta_2),
                lambda: (lr, beta_1, 1.0 - beta_1, beta_2, 1.0 - beta_2)):
            super().lion_update(params, grads, ms, lr, beta_1, beta_2)
