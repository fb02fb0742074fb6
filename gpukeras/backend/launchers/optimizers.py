"""Launcher of the multi-tensor optimizer kernels of kernels/optimizers.cu: one launch updates every weight.

The kernels read a device table of int64 rows, one per weight: [w, g, slot1, slot2, slot3, size,
first_chunk, flags] (see optimizers.cu). Tables are cached by the arrays' (pointer, size) tuples:
CuPy's pool hands back the same addresses step after step, so the steady state uploads nothing. In a
captured step graph the scalars come from the graph's feed (the kernels' `dev` argument).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import cupy
import numpy as np

from gpukeras.backend.launchers.base import BLOCK, Device, Launcher, is_number

Array = Any
CHUNK = 8192  # elements per block
ROW = 8  # int64 entries per weight in the table


class TensorTables:
    """Device tensor tables, cached by the pointers and sizes they hold (least recently used dropped)."""

    def __init__(self, capacity: int = 16) -> None:
        self.capacity = capacity
        self._tables: OrderedDict[tuple, tuple[Any, int, int]] = OrderedDict()

    def clear(self) -> None:
        self._tables.clear()

    def get(self, columns: Sequence[Sequence[Array] | None], flags: Sequence[int],
            capture: Any = None) -> tuple[Any, int, int] | None:
        """(table, weights, chunks) for columns = [params, grads, slot1, slot2, slot3] (a slot may be None),
        or None when some array is not a float32 C-contiguous device array shaped like its weight.
        While a step graph is captured the table is the capture's constant, never cached (its pointers are
        the graph's own buffers)."""
        params = columns[0]
        n = len(params)
        key_parts = []
        for col in columns:
            if col is None:
                key_parts.append(None)
                continue
            if len(col) != n:
                return None
            for a, w in zip(col, params):
                if (not isinstance(a, cupy.ndarray) or a.dtype != cupy.float32 or not a.flags.c_contiguous
                        or a.shape != w.shape):
                    return None
            key_parts.append(tuple(a.data.ptr for a in col))
        if capture is not None:
            host, chunks = self._build(params, key_parts, flags)
            return capture.constant(host), n, chunks
        key = (tuple(int(w.size) for w in params), tuple(key_parts), tuple(flags))
        found = self._tables.get(key)
        if found is None:
            host, chunks = self._build(params, key_parts, flags)
            found = self._tables[key] = (cupy.asarray(host), n, chunks)  # staged through pinned memory by CuPy
            while len(self._tables) > self.capacity:
                self._tables.popitem(last=False)
        else:
            self._tables.move_to_end(key)
        return found

    @staticmethod
    def _build(params: Sequence[Array], pointers: list, flags: Sequence[int]) -> tuple[np.ndarray, int]:
        """The host table and its chunk count."""
        host = np.zeros((len(params), ROW), dtype=np.int64)
        chunks = 0
        for i, w in enumerate(params):
            for j, ptrs in enumerate(pointers):
                host[i, j] = 0 if ptrs is None else ptrs[i]
            host[i, 5] = w.size
            host[i, 6] = chunks
            host[i, 7] = flags[i]
            chunks += (int(w.size) + CHUNK - 1) // CHUNK
        return host, chunks


class MultiTensorUpdate(Launcher):
    """One launch of an optimizers.cu kernel (named at construction) over every weight in the table."""

    def __init__(self, device: Device, kernel: str, tables: TensorTables) -> None:
        super().__init__(device, kernel)
        self.tables = tables

    def __call__(self, columns: Sequence[Sequence[Array] | None], args: tuple,
                 flags: Sequence[int] | None = None, remake: Callable[[], tuple] | None = None) -> bool:
        """Update in place; False (nothing done) when the arrays or arguments are not what the kernel takes.

        columns = [params, grads, slot1, slot2, slot3]; args = the kernel's scalars after (table, n, chunk);
        flags = per-weight bits for the table's flag column (default 0). While a step graph is captured the
        float scalars come from a feed that `remake()` (args for the step about to run) fills before each
        launch; without `remake` nothing is done.
        """
        capture = self.device.capture
        if (not self.device.enabled or not columns[0] or not all(is_number(v) for v in args)
                or (capture is not None and remake is None)):
            return False
        grads = [cupy.ascontiguousarray(g) if isinstance(g, cupy.ndarray) else g for g in columns[1]]
        flags = tuple(flags) if flags is not None else (0,) * len(columns[0])
        table = self.tables.get([columns[0], grads, *columns[2:]], flags, capture)
        if table is None or table[2] == 0:
            return False
        dev = None if capture is None else self._fed_scalars(capture, remake)
        return self.launch("f32", (table[2],), (BLOCK,), table[0], table[1], CHUNK, *args, dev)

    def _fed_scalars(self, capture: Any, remake: Callable[[], tuple]) -> Array:
        """The device array the kernel reads its float scalars from (`dev`, in declaration order)."""
        floats = [i for i, kind in enumerate(self.spec.params[3:-1]) if kind == "f32"]

        def values() -> list[float]:
            args = remake()  # once per launch: it evaluates the schedule
            return [args[i] for i in floats]

        return capture.feed(values, np.float32, len(floats))
