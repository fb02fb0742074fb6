"""The backend interface: `Ops` = the required primitives + the optional fused fast paths.

A backend subclasses `Ops`, sets `name` and `xp` (an array module with NumPy's API), and
registers itself (`gpukeras.backend.register_backend`). It inherits a complete implementation:
the required primitives (primitives.py, activations.py) written over `xp`, the fused fast paths
(fused/) whose generic code needs nothing more, and no step graphs (graphs.py). It overrides what it
can do better.
Layers, models, losses and optimizers call only these methods.
"""

from __future__ import annotations

from typing import Any

from gpukeras.backend.activations import ACTIVATIONS
from gpukeras.backend.fused import FusedOps, UpdateRule, fused_fast_paths
from gpukeras.backend.graphs import GraphCaptureError, GraphOps, StepScalars
from gpukeras.backend.primitives import Array, Primitives, Shape, normalize_axes, required_primitives


class Ops(Primitives, FusedOps, GraphOps):
    """Every op gpukeras computes with, generic over one array module; subclasses set `name` and `xp`."""

    name = "base"
    xp: Any = None


__all__ = ["ACTIVATIONS", "Array", "GraphCaptureError", "Ops", "Shape", "StepScalars", "UpdateRule", "fused_fast_paths",
           "normalize_axes", "required_primitives"]
