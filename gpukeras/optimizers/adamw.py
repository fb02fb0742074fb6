"""AdamW: Adam with decoupled weight decay (the fused decay of Adam's kernels, before each update)."""

from __future__ import annotations

from typing import Any

from gpukeras.optimizers.adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004), applied before each update as Keras 3 does.

    The decay w -= (w * weight_decay) * lr runs inside Adam's fused update (one pass, one launch on
    the GPU); `exclude_from_weight_decay` marks the weights it skips.
    """

    def __init__(self, learning_rate: Any = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, name: str | None = None,
                 **kwargs: Any):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         name=name, weight_decay=weight_decay, **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
