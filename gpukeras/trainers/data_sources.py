"""Where batches come from: in-memory arrays, a PyDataset, or a Python generator.

Every source yields host batches `(xs, ys, sws)` (lists of NumPy arrays in the model's input
and output order). `workers`/`use_multiprocessing`/`max_queue_size` keep their tf.keras 2
meaning: PyDataset batches load in that many threads (or processes) ahead of training;
a generator is read by one background thread (workers=0: on the main thread).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from gpukeras.trainers import arrays
from gpukeras.utils.py_dataset import PyDataset

HostBatch = tuple[list[np.ndarray], list[np.ndarray] | None, list[np.ndarray] | None]


def is_batch_stream(x: Any) -> bool:
    """True for inputs that produce whole batches themselves (PyDataset, generators, iterators)."""
    return isinstance(x, PyDataset) or (hasattr(x, "__next__") and hasattr(x, "__iter__"))


class ArraySource:
    """Batches sliced from in-memory arrays, shuffled per pass when asked."""

    def __init__(self, xs, ys, sws, n: int, batch_size: int, shuffle: Any, rng: np.random.Generator):
        self.xs, self.ys, self.sws, self.n = xs, ys, sws, n
        self.batcher = arrays.ArrayBatcher(n, batch_size, shuffle, rng)
        self.steps = self.batcher.batches_per_pass

    def first(self) -> HostBatch:
        return self.xs, self.ys, self.sws

    def epoch(self, steps: int | None) -> Iterator[HostBatch]:
        for index in self.batcher.epoch(steps):
            yield arrays.take(self.xs, index), arrays.take(self.ys, index), arrays.take(self.sws, index)

    def end_epoch(self) -> None:
        """Nothing to do: arrays reshuffle at the start of each pass."""


class StreamSource:
    """Batches from a PyDataset or a generator, unpacked and converted to host arrays."""

    def __init__(self, data: Any, input_names: Sequence[str] | None, output_names: Sequence[str] | None,
                 class_weight: dict | None, workers: int, use_multiprocessing: bool, max_queue_size: int,
                 input_dtypes: Sequence[str] | None = None):
        self.data = data
        self.input_names = input_names
        self.input_dtypes = input_dtypes
        self.output_names = output_names
        self.class_weight = class_weight
        self.is_dataset = isinstance(data, PyDataset)
        if self.is_dataset:
            workers, use_multiprocessing, max_queue_size = _dataset_loading(data, workers, use_multiprocessing,
                                                                            max_queue_size)
            self.steps = len(data)
            if self.steps == 0:
                raise ValueError(f"{type(data).__name__} has no batches (len() is 0).")
        else:
            self.steps = None
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size
        self._peeked: list[HostBatch] = []
        self._stream: Iterator[Any] | None = None

    def _convert(self, batch: Any) -> HostBatch:
        xs, ys, sws = unpack_batch(batch, self.input_names, self.output_names, self.input_dtypes)
        names = [f"x[{i}]" for i in range(len(xs))] + [f"y[{i}]" for i in range(len(ys or []))]
        arrays.num_samples(xs + (ys or []), names)
        if self.class_weight is not None:
            if sws is not None:
                raise ValueError("Pass either `class_weight` or sample weights in the batches, not both.")
            if ys is None or len(ys) != 1:
                raise ValueError("`class_weight` needs labels for a single-output model.")
            sws = [arrays.class_weights_to_sample_weights(ys[0], self.class_weight)]
        return xs, ys, sws

    def first(self) -> HostBatch:
        """The first batch (kept, and yielded again by the first epoch)."""
        if not self._peeked:
            if self.is_dataset:
                self._peeked.append(self._convert(self.data[0]))
            else:
                self._stream = self._generator_stream()
                try:
                    self._peeked.append(next(self._stream))
                except StopIteration:
                    raise ValueError("The generator produced no batches.") from None
        return self._peeked[0]

    def epoch(self, steps: int | None) -> Iterator[HostBatch]:
        if self.is_dataset:
            count = self.steps if steps is None else min(steps, self.steps)
            start = 0
            if self._peeked:
                yield self._peeked.pop()
                start = 1
            for batch in dataset_items(self.data, range(start, count), self.workers, self.use_multiprocessing,
                                       self.max_queue_size):
                yield self._convert(batch)
            return
        if self._stream is None:
            self._stream = self._generator_stream()
        if self._peeked:
            yield self._peeked.pop()
            steps = None if steps is None else steps - 1
        yield from self._stream if steps is None else itertools.islice(self._stream, steps)

    def _generator_stream(self) -> Iterator[HostBatch]:
        raw = iter(self.data)
        if self.workers > 0:
            raw = background_iter(raw, self.max_queue_size)
        return (self._convert(batch) for batch in raw)

    def end_epoch(self) -> None:
        if self.is_dataset:
            self.data.on_epoch_end()


def _dataset_loading(data: PyDataset, workers: int, use_mp: bool, queue_size: int) -> tuple[int, bool, int]:
    """Combine fit's tf.keras 2 loading arguments with the PyDataset's own (Keras 3 puts them there)."""
    return max(workers, data.workers), use_mp or data.use_multiprocessing, max(queue_size, data.max_queue_size)


def unpack_batch(batch: Any, input_names, output_names, input_dtypes=None) -> HostBatch:
    """A batch `x`, `(x, y)` or `(x, y, sample_weight)` as lists of host arrays (x by the inputs' dtypes)."""
    if isinstance(batch, tuple) and 1 <= len(batch) <= 3:
        parts = list(batch) + [None] * (3 - len(batch))
    else:
        parts = [batch, None, None]
    xs = arrays.flatten_data(parts[0], input_names, "x", input_dtypes)
    ys = arrays.flatten_data(parts[1], output_names, "y")
    sws = arrays.flatten_data(parts[2], output_names, "sample_weight")
    return xs, ys, sws


_worker_dataset: Any = None


def _init_worker(dataset: Any) -> None:
    global _worker_dataset
    _worker_dataset = dataset


def _worker_item(index: int) -> Any:
    return _worker_dataset[index]


def dataset_items(dataset: Any, indices: Sequence[int], workers: int, use_multiprocessing: bool,
                  max_queue_size: int) -> Iterator[Any]:
    """`dataset[i]` for each index, in order; with workers > 1 up to `max_queue_size` load ahead.

    Processes are forked with the dataset already in their memory, so it need not be picklable.
    """
    if workers <= 1 and not use_multiprocessing:
        for i in indices:
            yield dataset[i]
        return
    if use_multiprocessing:
        pool: concurrent.futures.Executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker, initargs=(dataset,))
        fetch: Callable[[int], Any] = _worker_item
    else:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        fetch = dataset.__getitem__
    with pool:
        it = iter(indices)
        pending = [pool.submit(fetch, i) for i in itertools.islice(it, max_queue_size)]
        while pending:
            result = pending.pop(0).result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(fetch, nxt))
            yield result


_DONE = object()


def background_iter(source: Iterator[Any], max_queue_size: int) -> Iterator[Any]:
    """Read `source` in a daemon thread, keeping up to `max_queue_size` items ready; errors re-raise here."""
    q: queue.Queue = queue.Queue(maxsize=max_queue_size)

    def fill() -> None:
        try:
            for item in source:
                q.put((True, item))
        except BaseException as exc:  # handed to the consumer
            q.put((False, exc))
            return
        q.put((True, _DONE))

    threading.Thread(target=fill, daemon=True).start()
    while True:
        ok, item = q.get()
        if not ok:
            raise item
        if item is _DONE:
            return
        yield item
