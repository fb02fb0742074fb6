"""Compiled steps: record one step's backend calls once, then replay them without the Python above.

A `Trace` runs a step eagerly with a recording proxy installed as the active backend: every call
of a backend method made while the step runs is executed and appended to an ordered list, its
array arguments named by where they came from (a step input, an earlier call's result, or a
constant such as a weight's array, which is used by reference). `Plan` turns that list into one
generated Python function that makes the same calls in the same order on new inputs, so a replay
computes exactly what the eager step computes, without layers, the tape or Tensor objects.

Three things stay on the host at every replay: a `host_step` function (the optimizer's `apply`,
whose learning rate, step count and schedules are host numbers) runs as one entry of the plan; a
`fresh` value (the seed of a random draw) is made again, advancing its SeedGenerator as the eager
step does; a NumPy generator passed to a backend call draws new numbers because it is the same
object. What cannot be replayed is refused at trace time (`TraceError`, naming the layer): reading
a traced tensor on the host (`.numpy()`, `float()`, `bool()`, so Python control flow on values),
reading a variable on the host, the backend's `any` (a host bool: a branch on a value), or a step that
records differently on two calls (a host value that changes from step to step). See
ARCHITECTURE.md, "How a compiled step runs".
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras import tensor as _tensor
from gpukeras.tensor import Tensor

_active: Trace | None = None
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# Backend methods that answer questions about arrays or the machine: called, never recorded.
_QUERIES = frozenset({"is_array", "flash_attention_available", "required_primitives", "fused_fast_paths"})
# Backend methods that answer with a host value read by Python to choose a branch.
_HOST_BRANCHES = frozenset({"any"})


class TraceError(RuntimeError):
    """A step that cannot be compiled: names the layer (or step) and the reason."""

    def __init__(self, reason: str, where: str = "the step"):
        super().__init__(f"{where} cannot be compiled: {reason}")
        self.reason = reason
        self.where = where


def tracing() -> bool:
    """True while a step is being traced."""
    return _active is not None


# ---------------------------------------------------------------------- values made again per replay
class _Fresh(list):
    """A host value (a draw's seed words) that a replay makes again with `remake()`."""

    __slots__ = ("remake",)


def refuse(reason: str, where: str | None = None) -> None:
    """Say, from code that works on the host (a text layer), that the step being traced cannot be compiled."""
    if _active is not None and not _active.paused:
        _active._refuse(reason, where)


def fresh(make: Callable[[], list]) -> list:
    """`make()`; while tracing, marked so that every replay calls `make` again (a random draw's seed)."""
    value = make()
    if _active is None:
        return value
    marked = _Fresh(value)
    marked.remake = make
    return marked


def host_step(fn: Callable | None = None, *, graph_safe: bool = False) -> Callable:
    """Mark a function whose work is the host's at every step (the optimizer update): a traced step
    records one call of it with its arguments and replays that call, instead of its backend calls.

    `graph_safe=True` says that its per-step host work goes through the backend's step-graph hooks
    (`host_effect`, `StepScalars`, `refuse_capture`: backend/graphs.py), so a step graph may capture it;
    any other host step keeps its plan off graphs (its Python must run at every step)."""
    if fn is None:
        return functools.partial(host_step, graph_safe=graph_safe)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        trace = _active
        if trace is None or trace.paused:
            return fn(*args, **kwargs)
        return trace.host_call(fn, args, kwargs, graph_safe)

    return wrapper


# ---------------------------------------------------------------------- where a problem is
_STEP_FRAMES = frozenset({"call", "train_step", "test_step", "predict_step", "compute_loss", "compute_metrics"})


def _where() -> str:
    """The innermost layer `call` (or model step) running now, and the user's line, for messages."""
    frame = sys._getframe(2)
    line = None
    while frame is not None:
        code = frame.f_code
        if line is None and not code.co_filename.startswith(_PACKAGE_DIR):
            line = f"{code.co_filename}:{frame.f_lineno}"
        if code.co_name in _STEP_FRAMES:  # only these frames' locals are read (reading them costs)
            owner = frame.f_locals.get("self")
            if owner is not None and hasattr(owner, "name"):
                what = f"layer {owner.name!r} ({type(owner).__name__}.call)" if code.co_name == "call" \
                    else f"{type(owner).__name__}.{code.co_name}"
                return what + (f" at {line}" if line else "")
        frame = frame.f_back
    return "the step" + (f" at {line}" if line else "")


# ---------------------------------------------------------------------- the recording proxy
class _RecordingOps:
    """Stands in for the active backend while a step is traced: each method call is run and recorded."""

    __slots__ = ("_real", "_trace")

    def __init__(self, real: Any, trace: Trace):
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_trace", trace)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._real, name)
        if name.startswith("__") or name in _QUERIES or not callable(value) or isinstance(value, type):
            return value
        if name == "to_numpy":
            return self._trace.read_on_host
        return functools.partial(self._trace.call, name, value)


# Spec of one argument: ("s", slot) an earlier result or an input, ("c", obj) a constant used as is,
# ("f", make) a fresh value, ("t", spec) a Tensor around spec, ("l"|"u", [specs]) a list or tuple,
# ("d", [(key, spec)]) a dict.
Spec = tuple


class Trace:
    """One eager run of a step with its backend calls recorded; `plan()` makes them replayable."""

    def __init__(self, strict: bool):
        self.strict = strict
        self.paused = False
        self.problem: TraceError | None = None
        self.entries: list[tuple[str, Any, Spec, Spec, Any, str]] = []  # (name, fn, args, kwargs, out, where)
        self._slots: dict[int, int] = {}
        self._keep: list[Any] = []  # every recorded value stays alive, so no id is reused while tracing
        self._n_inputs = 0
        self._variables: dict[int, Any] = {}
        self._real: Any = None
        self._version = 0
        self.outputs: Spec = ("c", None)
        self.graph_blockers: list[str] = []  # why the plan cannot become a step graph (see Plan.capture)
        self._fed_random: frozenset[str] = frozenset()

    # -------------------------------------------------------------- running
    def __enter__(self) -> Trace:
        global _active
        if _active is not None:
            raise RuntimeError("A step is already being traced.")
        self._variables = {id(v.data): v for v in _tensor.live_variables()}
        self._version = _tensor.state_version()
        self._real = _backend.active
        self._fed_random = getattr(self._real, "graph_fed_random", frozenset())
        _backend.active = _RecordingOps(self._real, self)
        _active = self
        return self

    def __exit__(self, *exc: Any) -> None:
        global _active
        _backend.active = self._real
        _active = None

    @property
    def changed_state(self) -> bool:
        """Whether variables were made or their trainable flags changed while tracing (build on first call)."""
        return _tensor.state_version() != self._version

    def inputs(self, arrays: Sequence[Any]) -> None:
        """Name the step's input arrays (slots 0..n-1), in the order `Plan.replay` receives them."""
        for a in arrays:
            self._new_slot(a)
        self._n_inputs = len(arrays)

    def finish(self, outputs: Any) -> None:
        """Record what the step returned (a nest of Tensors and host values)."""
        self.outputs = self._spec(outputs)
        self._variables, self._slots, self._keep = {}, {}, []

    # -------------------------------------------------------------- recording
    def call(self, name: str, fn: Callable, /, *args: Any, **kwargs: Any) -> Any:
        """Run one backend method and record it (the proxy's method calls end here)."""
        if self.paused:
            return fn(*args, **kwargs)
        if name in _HOST_BRANCHES:
            self._refuse(f"`{name}` reads a tensor's value on the host to decide a Python branch")
        entry_args, entry_kwargs = self._spec(args), self._spec(kwargs)
        if name not in self._fed_random and any(isinstance(a, np.random.Generator) for a in (*args, *kwargs.values())):
            self._keep_off_graphs(f"`{name}` draws from a host generator at every step")
        out = fn(*args, **kwargs)
        self.entries.append((name, fn, entry_args, entry_kwargs, self._result(out), _where()))
        return out

    def host_call(self, fn: Callable, args: tuple, kwargs: dict, graph_safe: bool = False) -> Any:
        """Run a `host_step` function with recording paused and the real backend active; record one entry."""
        entry_args, entry_kwargs = self._spec(args), self._spec(kwargs)
        if not graph_safe:
            self._keep_off_graphs(f"its host step {getattr(fn, '__qualname__', fn)} runs Python at every step")
        self.paused = True
        proxy, _backend.active = _backend.active, self._real
        try:
            out = fn(*args, **kwargs)
        finally:
            _backend.active = proxy
            self.paused = False
        self.entries.append((getattr(fn, "__qualname__", "host step"), fn, entry_args, entry_kwargs,
                             self._result(out), _where()))
        return out

    def read_on_host(self, x: Any) -> Any:
        """`to_numpy` while tracing: refused for a traced value or a variable (their values change per step)."""
        if not self.paused and (id(x) in self._slots or id(x) in self._variables):
            what = "a variable" if id(x) in self._variables else "a tensor computed in the step"
            self._refuse(f"it reads {what} on the host (`.numpy()`, `float()`, `int()`, `bool()` or Python "
                         "control flow on its value); a compiled step runs no Python between its backend calls")
        return self._real.to_numpy(x)

    def _refuse(self, reason: str, where: str | None = None) -> None:
        problem = TraceError(reason, where or _where())
        if self.strict:
            raise problem
        if self.problem is None:
            self.problem = problem

    def _keep_off_graphs(self, reason: str) -> None:
        if reason not in self.graph_blockers:
            self.graph_blockers.append(reason)

    def _new_slot(self, x: Any) -> int:
        index = len(self._keep)
        self._keep.append(x)
        self._slots[id(x)] = index
        return index

    def _result(self, out: Any) -> Spec:
        """Name what a call returned: inside plain tuples and lists, each array or object (a backend's
        saved residuals) becomes a new slot; Python numbers, strings and None are constants."""
        if type(out) in (tuple, list):
            return ("u" if type(out) is tuple else "l", [self._result(o) for o in out])
        if out is None or isinstance(out, (bool, int, float, str, bytes)):
            return ("c", out)
        return ("s", self._new_slot(out))

    def _spec(self, x: Any) -> Spec:
        """How a replay obtains argument `x`."""
        if isinstance(x, _Fresh):
            self._keep_off_graphs("a random draw is seeded on the host at every step (keras.random)")
            return ("f", x.remake)
        slot = self._slots.get(id(x))
        if slot is not None and self._keep[slot] is x:
            return ("s", slot)
        if isinstance(x, Tensor) and type(x) is Tensor:
            inner = self._spec(x.data)
            return ("t", inner) if inner[0] == "s" else ("c", x)
        if type(x) in (tuple, list):
            return ("u" if type(x) is tuple else "l", [self._spec(v) for v in x])
        if type(x) is dict:
            return ("d", [(k, self._spec(v)) for k, v in x.items()])
        return ("c", x)

    # -------------------------------------------------------------- comparing and planning
    def difference(self, other: Trace) -> str | None:
        """How `other` (the same step traced on a later call) records differently, or None."""
        if len(self.entries) != len(other.entries):
            return (f"it makes {len(self.entries)} backend calls on one call and {len(other.entries)} on the "
                    "next (Python control flow on a host value that changes between steps)")
        for (name, _, args, kwargs, out, where), (name2, _, args2, kwargs2, out2, _) in zip(self.entries,
                                                                                            other.entries):
            if name != name2 or not _same(out, out2) or not _same(args, args2) or not _same(kwargs, kwargs2):
                which = _differing(("u", [args, kwargs]), ("u", [args2, kwargs2]), "")
                return (f"its backend call `{name}` at {where} gets different host values on two calls "
                        f"(argument {which}: a Python number, or an array made outside the backend such as a view "
                        "`a[i]`/`a.T`, that changes between steps)")
        if not _same(self.outputs, other.outputs):
            return "it returns different host values on two calls"
        return None

    def plan(self) -> Plan:
        return Plan(self.entries, self._n_inputs, self.outputs, self.graph_blockers)


def _same(a: Spec, b: Spec) -> bool:
    """Whether two argument specs mean the same replay (constants equal, same slots)."""
    kind = a[0]
    if kind != b[0]:
        return False
    if kind in ("s", "f"):
        return kind == "f" or a[1] == b[1]
    if kind == "t":
        return _same(a[1], b[1])
    if kind in ("l", "u"):
        return len(a[1]) == len(b[1]) and all(_same(x, y) for x, y in zip(a[1], b[1]))
    if kind == "d":
        return [k for k, _ in a[1]] == [k for k, _ in b[1]] and all(_same(x, y) for (_, x), (_, y) in
                                                                      zip(a[1], b[1]))
    return _same_constant(a[1], b[1])


def _differing(a: Spec, b: Spec, path: str) -> str:
    """Where two specs first differ, as `[0][2]`-style positions (args first, then keyword arguments)."""
    if a[0] == b[0] and a[0] in ("l", "u", "d") and len(a[1]) == len(b[1]):
        items = a[1] if a[0] != "d" else [s for _, s in a[1]]
        others = b[1] if b[0] != "d" else [s for _, s in b[1]]
        for i, (x, y) in enumerate(zip(items, others)):
            if not _same(x, y):
                return _differing(x, y, f"{path}[{i}]")
    kinds = {"s": "a result", "c": "a constant", "f": "a fresh seed", "t": "a Tensor"}
    return f"{path[3:] or path} ({kinds.get(a[0], a[0])}: {type(a[1]).__name__})"


def _same_constant(x: Any, y: Any) -> bool:
    if x is y:
        return True
    if type(x) is not type(y):
        return False
    if isinstance(x, np.generic) or hasattr(x, "__array_interface__") or hasattr(x, "__cuda_array_interface__"):
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        ops = _backend.active
        return bool(np.array_equal(ops.to_numpy(x), ops.to_numpy(y), equal_nan=x.dtype.kind in "fc"))
    if isinstance(x, (tuple, list)):
        return len(x) == len(y) and all(_same_constant(a, b) for a, b in zip(x, y))
    if callable(x) and getattr(x, "__code__", None) is not None:
        return x.__code__ is getattr(y, "__code__", None) and (x.__closure__ or ()) == (y.__closure__ or ())
    if isinstance(x, float) and x != x:
        return y != y
    try:
        return bool(x == y)
    except Exception:  # objects without a meaningful == (an array-like): different unless identical
        return False


def _slots_of(spec: Spec) -> list[int]:
    """The slots a spec reads, in order, each once."""
    kind, value = spec
    if kind == "s":
        return [value]
    if kind == "t":
        return _slots_of(value)
    found: list[int] = []
    for item in (value if kind in ("l", "u") else [s for _, s in value] if kind == "d" else []):
        found += [i for i in _slots_of(item) if i not in found]
    return found


# ---------------------------------------------------------------------- the replayable plan
class Plan:
    """A traced step as one generated function: the backend calls in order, each result in a local.

    `capture(arrays)` makes it a step graph where the backend has them (`graph`): each replay is then one
    launch of the captured device work; the step's output arrays are copied out of the graph's buffers."""

    def __init__(self, entries: list, n_inputs: int, outputs: Spec, graph_blockers: Sequence[str] = ()):
        self.calls = len(entries)
        self.replays = 0
        self.graph: Any = None
        self.graph_blockers = list(graph_blockers)
        self.graph_refusal: str | None = None  # why capture failed, once tried
        consts: list[Any] = []

        def const(value: Any) -> str:
            consts.append(value)
            return f"c{len(consts) - 1}"

        def expr(spec: Spec) -> str:
            kind, value = spec
            if kind == "s":
                return f"v{value}"
            if kind == "f":
                return f"{const(value)}()"
            if kind == "t":
                return f"{const(Tensor)}({expr(value)})"
            if kind in ("l", "u"):
                items = ", ".join(expr(s) for s in value)
                return f"[{items}]" if kind == "l" else f"({items}{',' if len(value) == 1 else ''})"
            if kind == "d":
                return "{" + ", ".join(f"{const(k)}: {expr(s)}" for k, s in value) + "}"
            return "None" if value is None else const(value)

        def bind(spec: Spec, source: str, lines: list[str]) -> None:
            kind, value = spec
            if kind == "s":
                lines.append(f"    v{value} = {source}")
            elif kind in ("l", "u"):
                for i, item in enumerate(value):
                    bind(item, f"{source}[{i}]", lines)

        lines = [f"def replay({', '.join(f'v{i}' for i in range(n_inputs))}):"]
        for _, fn, args, kwargs, out, _ in entries:
            call = [expr(s) for s in args[1]] + [f"{k}={expr(s)}" for k, s in kwargs[1]]
            source = f"{const(fn)}({', '.join(call)})"
            if out[0] == "s":
                bind(out, source, lines)
            elif out[0] in ("l", "u") and out[1]:
                lines.append(f"    r = {source}")
                bind(out, "r", lines)
            else:
                lines.append(f"    {source}")
        body = lines[1:]
        result = expr(outputs)
        lines.append(f"    return {result}")
        slots = ", ".join(f"v{i}" for i in _slots_of(outputs))
        returned = f"    return ({slots},)" if slots else "    return ()"
        lines += [f"def replay_slots({', '.join(f'v{i}' for i in range(n_inputs))}):", *body, returned,
                  f"def rebuild({slots}):", f"    return {result}"]
        self.source = "\n".join(lines)
        namespace = {f"c{i}": value for i, value in enumerate(consts)}
        exec(compile(self.source, "<gpukeras compiled step>", "exec"), namespace)  # noqa: S102
        self._replay, self._replay_slots, self._rebuild = namespace["replay"], namespace["replay_slots"], \
            namespace["rebuild"]

    def replay(self, arrays: Sequence[Any]) -> Any:
        """Run the step on new input arrays (same shapes and dtypes as traced); returns its outputs."""
        self.replays += 1
        if self.graph is not None:
            return self._rebuild(*self.graph.launch(arrays))
        return self._replay(*arrays)

    def capture(self, arrays: Sequence[Any]) -> bool:
        """Try once to make this plan a step graph on the active backend; False (and `graph_refusal` says
        why) when the backend has none or the step's work cannot be captured: the plan then replays as before."""
        if self.graph is not None or self.graph_refusal is not None:
            return self.graph is not None
        ops = _backend.active
        if self.graph_blockers:
            self.graph_refusal = self.graph_blockers[0]
        else:
            try:
                self.graph = ops.capture_step(self._replay_slots, arrays)
            except _backend.GraphCaptureError as error:
                self.graph_refusal = str(error)
        return self.graph is not None


__all__ = ["Plan", "Trace", "TraceError", "fresh", "host_step", "refuse", "tracing"]
