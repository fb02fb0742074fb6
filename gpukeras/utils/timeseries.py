"""`timeseries_dataset_from_array`: sliding windows over an array, as batches a model trains on.

Keras 3 returns a tf.data (or grain) dataset; gpukeras returns a PyDataset with the same windows,
targets and batches (host-side data preparation), usable by fit/evaluate/predict and iterable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras.utils.py_dataset import PyDataset


class TimeseriesDataset(PyDataset):
    """Batches of windows `data[p : p + sequence_length * sampling_rate : sampling_rate]` (and `targets[p]`)."""

    def __init__(self, data: np.ndarray, targets: np.ndarray | None, starts: np.ndarray, sequence_length: int,
                 sampling_rate: int, batch_size: int | None, shuffle_seed: int | None):
        super().__init__()
        self.data, self.targets, self.starts = data, targets, starts
        self.offsets = np.arange(sequence_length) * sampling_rate
        self.batch_size = batch_size
        self._rng = None if shuffle_seed is None else np.random.RandomState(shuffle_seed)

    def __len__(self) -> int:
        return len(self.starts) if self.batch_size is None else -(-len(self.starts) // self.batch_size)

    def __getitem__(self, index: int) -> Any:
        """Batch `index`; with batch_size=None, window `index` alone (no batch axis), as Keras yields them."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range for {len(self)} batches")
        if self.batch_size is None:
            start = self.starts[index]
            window = self.data[start + self.offsets]
            return window if self.targets is None else (window, self.targets[start])
        starts = self.starts[index * self.batch_size:(index + 1) * self.batch_size]
        windows = self.data[starts[:, None] + self.offsets]
        return windows if self.targets is None else (windows, self.targets[starts])

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def take(self, count: int) -> list[Any]:
        """The first `count` batches (tf.data's `take`, which keras.io's programs call on these datasets)."""
        return [self[i] for i in range(min(count, len(self)))]

    def on_epoch_end(self) -> None:
        """With shuffle, the windows come in a new order each epoch (Keras reshuffles per iteration)."""
        if self._rng is not None:
            self._rng.shuffle(self.starts)


def _check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value >= high):
        bound = f" and lower than {high}" if high is not None else ""
        raise ValueError(f"timeseries_dataset_from_array: `{name}` must be an integer >= {low}{bound}, "
                         f"got {value!r}.")
    return int(value)


def timeseries_dataset_from_array(data: Any, targets: Any, sequence_length: int, sequence_stride: int = 1,
                                  sampling_rate: int = 1, batch_size: int | None = 128, shuffle: bool = False,
                                  seed: int | None = None, start_index: int | None = None,
                                  end_index: int | None = None, format: str = "tf") -> TimeseriesDataset:
    """Windows of `sequence_length` steps taken every `sampling_rate` steps, one window every
    `sequence_stride` steps, within [start_index, end_index); `targets[i]` goes with the window that
    starts at `start_index + i`. Keras 3's semantics; a PyDataset instead of a tf.data dataset."""
    if format not in ("tf", "grain"):
        raise ValueError(f'timeseries_dataset_from_array: format must be "tf" or "grain", got {format!r}.')
    data = np.asarray(data)
    n = len(data)
    sampling_rate = _check_int(sampling_rate, "sampling_rate", 1, n)
    sequence_stride = _check_int(sequence_stride, "sequence_stride", 1, n)
    sequence_length = _check_int(sequence_length, "sequence_length", 1)
    start = 0 if start_index is None else _check_int(start_index, "start_index", 0, n)
    end = n if end_index is None else _check_int(end_index, "end_index", start + 1, n)
    if batch_size is not None:
        _check_int(batch_size, "batch_size", 1)
    count = end - start - (sequence_length - 1) * sampling_rate
    target_array = None if targets is None else np.asarray(targets)[start:]
    if target_array is not None:
        count = min(count, len(target_array))
    starts = np.arange(0, max(count, 0), sequence_stride)
    shuffle_seed = None
    if shuffle:
        shuffle_seed = int(np.random.randint(1e6)) if seed is None else int(seed)
        np.random.RandomState(shuffle_seed).shuffle(starts)
    return TimeseriesDataset(data[start:end], target_array, starts, sequence_length, sampling_rate, batch_size,
                             shuffle_seed)
