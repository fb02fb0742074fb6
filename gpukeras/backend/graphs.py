"""Step graphs: the part of the op set a compiled step uses to become one device graph (CUDA graphs on CuPy).

A backend that can record a whole step's device work and launch it again (`graphs = True`) implements
`capture_step`. Code that runs inside a captured step and depends on the host at every step says so
through the methods here, which on a backend without graphs simply act at once:

- `host_effect(fn)`: host work that belongs to the step (the optimizer's host step counter): run now,
  and again before every launch of a graph that captured it;
- `refuse_capture(reason)`: the device work that follows depends on a decision the host makes per step
  (EMA, gradient accumulation); a capture in progress stops with `GraphCaptureError`;
- `StepScalars`: hyperparameters that a graph must recompute before every launch (the learning rate and
  bias corrections): the values now, plus `remake()`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class GraphCaptureError(RuntimeError):
    """A step's device work cannot be captured into a graph (its plan still replays call by call)."""


class StepScalars(dict):
    """A step's hyperparameters (as a dict), and `remake()`, which computes them again for a later step."""

    def __init__(self, make: Callable[[], dict]):
        super().__init__(make())
        self.remake = make


class CapturedStep:
    """What `capture_step` returns: `launch(arrays)` runs the captured step on new inputs, returns its outputs."""

    def launch(self, arrays: Sequence[Any]) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class GraphOps:
    """Step graphs for a backend that has none: capture is refused; the per-step hooks act at once."""

    graphs = False  # whether capture_step can work on this backend

    def capture_step(self, fn: Callable[..., Any], arrays: Sequence[Any]) -> CapturedStep:
        """Record the device work of `fn(*inputs)` (inputs shaped like `arrays`) without running it."""
        raise GraphCaptureError(f"the {getattr(self, 'name', 'this')} backend has no step graphs")

    def host_effect(self, fn: Callable[[], None]) -> None:
        """Run `fn` (host work of the step); a graph capturing this step runs it before each launch instead."""
        fn()

    def refuse_capture(self, reason: str) -> None:
        """Say that the step's next device work depends on a per-step host decision (stops a capture)."""


__all__ = ["CapturedStep", "GraphCaptureError", "GraphOps", "StepScalars"]
