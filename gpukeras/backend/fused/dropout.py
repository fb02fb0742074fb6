"""Fused fast path: dropout applied in one pass (mask and product), with the generic code."""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any


class DropoutFusion:
    """dropout(x) -> (x * mask, mask), generic over the required primitives."""

    def dropout(self, x: Array, rate: float, rng: np.random.Generator) -> tuple[Array, Array]:
        """Inverted dropout of x: (x * mask, mask), the mask from `dropout_mask` (1/(1-rate) kept, 0 dropped)."""
        mask = self.dropout_mask(tuple(x.shape), rate, rng, dtype=x.dtype)
        return self.multiply(x, mask), mask
