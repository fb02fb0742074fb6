"""The optional fused fast paths: each declared with its generic fallback, which a backend may override.

A backend need not touch any of these: the generic code, written against the required primitives
and `self.xp`, gives the right numbers. A backend overrides one where it can do it in fewer passes
(NumPy: C loops in _cpu_kernels.c; CuPy: our CUDA kernels), and falls back to the generic code
(`super()`) for the cases its fast path does not cover.
"""

from __future__ import annotations

from gpukeras.backend.fused.attention import AttentionFusion
from gpukeras.backend.fused.depthwise import DepthwiseFusions
from gpukeras.backend.fused.dropout import DropoutFusion
from gpukeras.backend.fused.epilogue import EpilogueFusions
from gpukeras.backend.fused.image import ImageFusions
from gpukeras.backend.fused.losses import LossFusions
from gpukeras.backend.fused.multi_tensor import MultiTensorApply, UpdateRule
from gpukeras.backend.fused.normalization import NormalizationFusions
from gpukeras.backend.fused.recurrent import RecurrentFusions
from gpukeras.backend.fused.resampling import ResamplingFusions
from gpukeras.backend.fused.windows import WindowFusions


class FusedOps(EpilogueFusions, LossFusions, WindowFusions, NormalizationFusions, DropoutFusion, AttentionFusion,
               ImageFusions, RecurrentFusions, DepthwiseFusions, ResamplingFusions, MultiTensorApply):
    """Every fused fast path with its generic implementation."""


def fused_fast_paths() -> tuple[str, ...]:
    """Names of the optional fused ops (public methods of `FusedOps`)."""
    return tuple(sorted(n for n in dir(FusedOps) if not n.startswith("_") and callable(getattr(FusedOps, n))))


__all__ = ["FusedOps", "UpdateRule", "fused_fast_paths"]
