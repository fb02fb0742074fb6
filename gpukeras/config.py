"""gpukeras.config: Keras 3's `keras.config` settings (the global dtype policy, floatx, epsilon, the image
data format, the backend's name), and TF32 matmuls on NVIDIA GPUs (off by default, as in Keras)."""

from gpukeras import backend as _backend
from gpukeras.backend import (
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from gpukeras.dtype_policies import global_policy as dtype_policy
from gpukeras.dtype_policies import set_global_policy as set_dtype_policy
from gpukeras.saving.serialization import enable_unsafe_deserialization

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


def backend() -> str:
    """The name of the active backend ('numpy' or 'cupy'): keras.config.backend()."""
    return _backend.backend()


__all__ = ["backend", "dtype_policy", "enable_tf32", "enable_unsafe_deserialization", "epsilon", "floatx",
           "image_data_format", "set_dtype_policy", "set_epsilon", "set_floatx", "set_image_data_format",
           "tf32_enabled"]
