"""Keras-style progress lines: `38/38 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.9717 - loss: 0.1384`.

`ProgressLine` draws them for fit/evaluate/predict from their logs (which may be lazy: values still on the
device are read only when a line is printed). `Progbar` is keras.utils.Progbar on top of it, for custom
training loops: values given as (name, value) pairs are averaged over the steps they cover.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

_BAR_WIDTH = 20


def format_value(value: Any) -> str:
    """Keras's rule: %.4f for |v| >= 1e-3, %.4e below (0 prints as 0.0000e+00)."""
    v = float(value)
    return f"{v:.4f}" if abs(v) >= 1e-3 else f"{v:.4e}"


def format_logs(logs: Mapping[str, Any] | None) -> str:
    """` - key: value` for each log, sorted by key as Keras prints them."""
    if not logs:
        return ""
    return "".join(f" - {k}: {format_value(logs[k])}" for k in sorted(logs))


def format_time_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class ProgressLine:
    """A progress line for `target` steps (None when unknown)."""

    def __init__(self, target: int | None, verbose: int = 1, interval: float = 0.05, stream: Any = None):
        self.target = target
        self.verbose = verbose
        self.interval = interval
        self.stream = stream or sys.stdout
        self.dynamic = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.last_print = 0.0
        self.seen = 0
        self.width = 0

    def update(self, step: int, logs: Mapping[str, Any] | None = None) -> None:
        """Record progress; redraw at most every `interval` seconds, and only on a terminal."""
        self.seen = step
        if self.verbose != 1 or not self.dynamic:
            return
        now = time.perf_counter()
        if now - self.last_print < self.interval:
            return
        self.last_print = now
        self._write(self._bar_line(step, logs, now, final=False), final=False)

    def finish(self, logs: Mapping[str, Any] | None = None) -> None:
        """Print the final line for this epoch / evaluation."""
        if not self.verbose:
            return
        now = time.perf_counter()
        step = self.target if self.target is not None else self.seen
        if self.verbose == 2:
            elapsed = now - self.start
            per = elapsed / max(step, 1)
            line = f"{step}/{step} - {elapsed:.0f}s - {format_time_per_step(per)}{format_logs(logs)}"
        else:
            line = self._bar_line(step, logs, now, final=True)
        self._write(line, final=True)

    def _bar_line(self, step: int, logs: Mapping[str, Any] | None, now: float, final: bool) -> str:
        elapsed = now - self.start
        per = elapsed / max(step, 1)
        if self.target:
            done = int(_BAR_WIDTH * min(step, self.target) / self.target)
            bar = "━" * done + ("\x1b[37m" + "━" * (_BAR_WIDTH - done) + "\x1b[0m" if done < _BAR_WIDTH and self.dynamic
                                else "━" * (_BAR_WIDTH - done))
            head = f"{step}/{self.target} {bar}"
        else:
            head = f"{step}/Unknown"
        if final:
            timing = f"{elapsed:.0f}s {format_time_per_step(per)}"
        else:
            eta = per * ((self.target or step) - step)
            timing = f"{eta:.0f}s {format_time_per_step(per)}" if self.target else f"{elapsed:.0f}s"
        return f"{head} {timing}{format_logs(logs)}"

    def _write(self, line: str, final: bool) -> None:
        if self.dynamic:
            pad = max(0, self.width - len(line))
            self.stream.write("\r" + line + " " * pad + ("\n" if final else ""))
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class Progbar:
    """keras.utils.Progbar: `update(current, values)` with values as (name, value) pairs; a name not in
    `stateful_metrics` shows its average over the steps so far (weighted by each update's step count)."""

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1, interval: float = 0.05,
                 stateful_metrics: Any = None, unit_name: str = "step", stream: Any = None):
        self.target, self.width, self.verbose, self.interval = target, width, verbose, interval
        self.stateful_metrics = set(stateful_metrics or ())
        self.unit_name = unit_name
        self._line = ProgressLine(target, verbose=verbose, interval=interval, stream=stream)
        self._totals: dict[str, list[float]] = {}
        self._seen = 0

    def update(self, current: int, values: Any = None, finalize: bool | None = None) -> None:
        """Progress to step `current`; print the final line when `finalize` (default: target reached)."""
        steps = max(current - self._seen, 1)
        for name, value in (values.items() if isinstance(values, Mapping) else values or ()):
            if name in self.stateful_metrics:
                self._totals[name] = [float(value), 1.0]
            else:
                total = self._totals.setdefault(name, [0.0, 0.0])
                total[0] += float(value) * steps
                total[1] += steps
        self._seen = current
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        logs = {name: s / max(n, 1.0) for name, (s, n) in self._totals.items()}
        if finalize:
            self._line.seen = current
            self._line.finish(logs)
        else:
            self._line.update(current, logs)

    def add(self, n: int, values: Any = None) -> None:
        """`update` by `n` more steps."""
        self.update(self._seen + n, values)
