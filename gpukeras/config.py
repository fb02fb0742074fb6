"""gpukeras.config: Keras 3's `keras.config` settings that gpukeras honours (the global dtype policy), and
TF32 matmuls on NVIDIA GPUs (off by default, as in Keras)."""

from gpukeras import backend as _backend
from gpukeras.dtype_policies import global_policy as dtype_policy
from gpukeras.dtype_policies import set_global_policy as set_dtype_policy

_tf32 = False


def enable_tf32(enabled: bool = True) -> bool:
    """Let float32 matrix products on the GPU run on TF32 tensor cores (faster, inputs rounded to a 10-bit
    mantissa). Returns whether the active backend applies it (CuPy on compute capability 8.0+; never NumPy)."""
    global _tf32
    _tf32 = bool(enabled)
    return _backend.active.set_tf32(_tf32)


def tf32_enabled() -> bool:
    """Whether TF32 was asked for with `enable_tf32` (it is off unless asked)."""
    return _tf32


__all__ = ["dtype_policy", "enable_tf32", "set_dtype_policy", "tf32_enabled"]
