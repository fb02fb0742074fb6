"""PyDataset (tf.keras 2's Sequence): batches produced by Python code, for data that does not fit in memory."""

from __future__ import annotations

from typing import Any


class PyDataset:
    """Subclass and define `__len__` (batches per epoch) and `__getitem__(index)` returning one batch.

    A batch is `x`, `(x, y)` or `(x, y, sample_weight)`. `workers` > 1 loads batches in that many
    threads (processes with `use_multiprocessing=True`), keeping up to `max_queue_size` ready.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10):
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"PyDataset: `workers` must be a positive integer, got {workers!r}.")
        if not isinstance(max_queue_size, int) or max_queue_size < 1:
            raise ValueError(f"PyDataset: `max_queue_size` must be a positive integer, got {max_queue_size!r}.")
        self._workers = workers
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = max_queue_size

    @property
    def workers(self) -> int:
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self) -> bool:
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self) -> int:
        return getattr(self, "_max_queue_size", 10)

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index).")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__().")

    @property
    def num_batches(self) -> int | None:
        return len(self)

    def on_epoch_end(self) -> None:
        """Called after each epoch (e.g. to reshuffle)."""


Sequence = PyDataset
