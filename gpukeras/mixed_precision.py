"""gpukeras.mixed_precision: Keras 3's `keras.mixed_precision` names.

`set_global_policy("mixed_float16")` makes new layers compute in float16 with float32 variables;
`compile` then wraps the optimizer in a `LossScaleOptimizer` (dynamic loss scaling).
"""

from gpukeras.dtype_policies import DTypePolicy, Policy, global_policy, set_global_policy
from gpukeras.optimizers.loss_scale_optimizer import LossScaleOptimizer

dtype_policy, set_dtype_policy = global_policy, set_global_policy  # Keras 3's other names for them

__all__ = ["DTypePolicy", "LossScaleOptimizer", "Policy", "dtype_policy", "global_policy", "set_dtype_policy",
           "set_global_policy"]
