"""gpukeras.config: Keras 3's `keras.config` settings that gpukeras honours (the global dtype policy)."""

from gpukeras.dtype_policies import global_policy as dtype_policy
from gpukeras.dtype_policies import set_global_policy as set_dtype_policy

__all__ = ["dtype_policy", "set_dtype_policy"]
