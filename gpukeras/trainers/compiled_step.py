"""Compiled fit/evaluate/predict steps: one plan per input signature, traced on first use, else eager.

`CompiledStep` holds one step kind's plans (train, test or predict). A new signature (input shapes
and dtypes, which of y and sample weights are given, the batch size, the optimizer, the backend) is
traced on two calls in a row, each run eagerly; when both record the same backend calls, later calls
replay the plan (gpukeras.tracing); on a backend with step graphs (CuPy) a plan's second replay captures
it, and each later call is one graph launch (where capture is refused, the plan replays as before).
Plans are dropped when variables are made or trainable flags change (`tensor.state_version`), and the
trainer drops them all on `compile()`. A step that cannot be traced runs eagerly from then on: with a
warning under jit_compile="auto", an error under True.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from gpukeras import backend as _backend
from gpukeras.tensor import Tensor, state_version
from gpukeras.tracing import Plan, Trace, TraceError

# Whether jit_compile="auto" (Keras 3's default) runs the compiled step; True always does.
AUTO_COMPILES = True
_MAX_PLANS = 8  # signatures kept per step kind (a partial last batch is a second one)
_MAX_REBUILDS = 3  # traces in a row that made variables before the step counts as untraceable
_GRAPH_AFTER = 1  # plain replays before a plan is captured as a step graph (the memory pool is warm by then)


def step_graphs_enabled() -> bool:
    """Whether plans become step graphs (CUDA graphs) on the active backend; GPUKERAS_STEP_GRAPHS=0 turns
    them off (plans then replay call by call, the benchmarks' comparison row)."""
    return _backend.active.graphs and os.environ.get("GPUKERAS_STEP_GRAPHS", "1").strip() not in ("0", "false", "no")


class CompiledStepWarning(UserWarning):
    """A step that could not be compiled runs eagerly (the message names the layer and the reason)."""


def compiles(jit_compile: Any, run_eagerly: bool) -> bool:
    """Whether compile()'s settings ask for the compiled step."""
    return not run_eagerly and (jit_compile is True or (jit_compile == "auto" and AUTO_COMPILES))


Step = Callable[[list[Tensor], "list[Tensor] | None", "list[Tensor] | None"], Any]


class CompiledStep:
    """One step kind's plans by signature, and whether the step turned out untraceable."""

    def __init__(self, kind: str, strict: bool):
        self.kind = kind
        self.strict = strict
        self.plans: dict[tuple, Plan] = {}
        self.pending: dict[tuple, Trace] = {}
        self.version = state_version()
        self.failed: TraceError | None = None
        self.rebuilds = 0
        self.traces = 0

    def __call__(self, step: Step, x: list[Tensor], y: list[Tensor] | None, sw: list[Tensor] | None,
                 extra: tuple = ()) -> Any:
        """`step(x, y, sw)`: replayed from its plan for this signature, or traced, or run eagerly."""
        if self.failed is not None:
            return step(x, y, sw)
        version = state_version()
        if version != self.version:
            self.plans.clear()
            self.pending.clear()
            self.version = version
        flat = x + (y or []) + (sw or [])
        counts = (len(x), None if y is None else len(y), None if sw is None else len(sw))
        key = (extra, id(_backend.active), counts, tuple((t.data.shape, t.data.dtype) for t in flat))
        plan = self.plans.get(key)
        if plan is not None:
            arrays = [t.data for t in flat]
            if plan.graph is None and plan.graph_refusal is None and plan.replays >= _GRAPH_AFTER \
                    and step_graphs_enabled():
                plan.capture(arrays)
            return plan.replay(arrays)
        return self._trace(step, flat, counts, key)

    def _trace(self, step: Step, flat: list[Tensor], counts: tuple, key: tuple) -> Any:
        """Run the step eagerly under a trace; keep a plan once two traces in a row agree."""
        arrays = _distinct([t.data for t in flat])
        tensors = [Tensor(a) for a in arrays]
        nx, ny, nsw = counts
        x = tensors[:nx]
        y = None if ny is None else tensors[nx:nx + ny]
        sw = None if nsw is None else tensors[nx + (ny or 0):]
        trace = Trace(self.strict)
        self.traces += 1
        with trace:
            trace.inputs(arrays)
            out = step(x, y, sw)
            trace.finish(out)
        if trace.problem is not None:
            self._fail(trace.problem)
        elif trace.changed_state:  # the step built weights or slots on this call: trace the next one
            self.rebuilds += 1
            if self.rebuilds >= _MAX_REBUILDS:
                self._fail(TraceError("it makes new variables (or changes trainable flags) on every call"))
        else:
            self.rebuilds = 0
            previous = self.pending.pop(key, None)
            if previous is None:
                self.pending[key] = trace
            else:
                difference = previous.difference(trace)
                if difference is not None:
                    self._fail(TraceError(difference))
                else:
                    if len(self.plans) >= _MAX_PLANS:
                        self.plans.pop(next(iter(self.plans)))
                    self.plans[key] = trace.plan()
        return out

    def _fail(self, problem: TraceError) -> None:
        """Run eagerly from now on; say why once (or raise, under jit_compile=True)."""
        self.failed = problem
        self.plans.clear()
        self.pending.clear()
        if self.strict:
            raise problem
        warnings.warn(f"{problem}. The {self.kind} step runs eagerly instead (compile(jit_compile=False) runs "
                      "it eagerly without this warning).", CompiledStepWarning, stacklevel=5)


def _distinct(arrays: list[Any]) -> list[Any]:
    """The inputs with any array passed twice (x as its own target) given as a view, so each input is one
    slot of the plan."""
    seen: set[int] = set()
    out = []
    for a in arrays:
        if id(a) in seen:
            a = a[...]
        seen.add(id(a))
        out.append(a)
    return out
