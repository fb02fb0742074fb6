"""What `fit` and `evaluate` do differently when a DataParallel distribution spans several processes.

The gradient sum itself happens in `Optimizer.apply` (so custom train steps get it too); here is the
rest: every rank starts from rank 0's state, takes its contiguous slice of each global batch, and
reads metrics summed over ranks. All of it is collective: every rank calls the same functions at
the same points, which is why decisions that could differ between ranks are agreed on here.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from gpukeras.backend.collectives import OverlappedReduction, ProcessGroup
from gpukeras.tracing import host_step
from gpukeras.trainers.data_sources import ArraySource, HostBatch, StreamSource
from gpukeras.trainers.logs import host_logs


def begin(model: Any, group: ProcessGroup, sources: list[Any]) -> int | None:
    """Refuse a model that differs between ranks, then copy rank 0's weights, optimizer state, shuffling
    state and starting epoch (a BackupAndRestore resume) to every rank; returns that epoch."""
    check_same_model(model, group)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built and model._trainable_cache:
        optimizer.build(model._trainable_cache)
    variables = list(model.weights) + (list(optimizer.variables) if optimizer is not None else [])
    for variable, value in zip(variables, group.broadcast_arrays([v.data for v in variables])):
        variable.assign(value)
    for source in sources:
        if isinstance(source, ArraySource):
            source.batcher.rng.bit_generator.state = group.broadcast_object(source.batcher.rng.bit_generator.state)
    return group.broadcast_object(getattr(model, "_initial_epoch", None))


def signature(model: Any) -> list[tuple]:
    """What must be equal on every rank: the weights' paths, shapes and dtypes, and the optimizer."""
    out = [(v.path, tuple(v.shape), str(v.dtype)) for v in model.weights]
    optimizer = getattr(model, "optimizer", None)
    out.append(("optimizer", type(optimizer).__name__, None))
    return out


def check_same_model(model: Any, group: ProcessGroup) -> None:
    """ValueError on every rank, naming the first difference, when some rank built another model."""
    mine = signature(model)
    for rank, theirs in enumerate(group.allgather(mine)):
        if theirs == mine:
            continue
        first = next((f"{a} on rank {group.rank} vs {b} on rank {rank}" for a, b in zip(mine, theirs) if a != b),
                     f"{len(mine)} entries on rank {group.rank} vs {len(theirs)} on rank {rank}")
        raise ValueError(f"The model differs between the processes of the data-parallel job: {first}. Every "
                         "process must build the same model (same layers, shapes, dtypes, optimizer).")


def batches(group: ProcessGroup | None, source: Any, steps: int | None) -> Iterable[HostBatch]:
    """`source.epoch(steps)`; across processes, a generator or PyDataset is read in lockstep: before each
    batch the ranks agree that every one of them has one, so a stream that ends early on one rank ends the
    epoch everywhere (with a warning) instead of leaving the others waiting in the next gradient sum."""
    if group is None or not isinstance(source, StreamSource):
        return source.epoch(steps)
    return _lockstep(group, source.epoch(steps))


def _lockstep(group: ProcessGroup, stream: Iterator[HostBatch]) -> Iterator[HostBatch]:
    while True:
        batch = next(stream, None)
        have = group.allgather(batch is not None)
        if not all(have):
            if any(have):
                warnings.warn(f"The data-parallel ranks' data streams ended at different batches (ranks with a "
                              f"batch left: {[r for r, h in enumerate(have) if h]}); the epoch ends on every rank. "
                              "Every rank must read the same batches.", stacklevel=3)
            return
        yield batch


def rows(n: int, rank: int, size: int) -> tuple[int, int]:
    """This rank's contiguous share [lo, hi) of n rows (the first n % size ranks take one more)."""
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


_warned_short = False


def shard(group: ProcessGroup, batch: HostBatch, training: bool = True) -> HostBatch | None:
    """This rank's slice of a global batch, its share set for the gradient sum. A training batch with fewer
    rows than processes is skipped on every rank (None); an evaluation slice may be empty (no collective
    runs in an evaluation step, so that rank just has nothing to add)."""
    global _warned_short
    xs, ys, sws = batch
    n = len(xs[0])
    if training and n < group.size:
        if not _warned_short:
            _warned_short = True
            warnings.warn(f"A batch of {n} rows cannot be split among {group.size} processes; it is skipped "
                          "(choose a batch size that leaves a last batch of at least one row per process).",
                          stacklevel=3)
        return None
    lo, hi = rows(n, group.rank, group.size)
    group.set_share(hi - lo, n)

    def cut(arrays: list[np.ndarray] | None) -> list[np.ndarray] | None:
        return None if arrays is None else [a[lo:hi] for a in arrays]

    return cut(xs), cut(ys), cut(sws)


def global_results(model: Any, group: ProcessGroup) -> dict[str, float]:
    """The metrics over the whole job: every metric's state summed over ranks, then read."""
    states = [v for metric in model.metrics for v in metric.variables]
    local = [v.numpy() for v in states]
    for variable, total in zip(states, group.sum_arrays([v.data for v in states])):
        variable.assign(total.astype(variable.numpy().dtype))
    try:
        return host_logs(model.get_metrics_result())
    finally:
        for variable, value in zip(states, local):
            variable.assign(value)


def average_non_trainable(model: Any, group: ProcessGroup) -> None:
    """Average the floating non-trainable weights (BatchNormalization's moving statistics) over ranks, so
    evaluation and checkpoints see one model."""
    variables = [v for v in model.non_trainable_weights if "float" in str(v.dtype)]
    for variable, total in zip(variables, group.sum_arrays([v.data for v in variables])):
        variable.assign((total / group.size).astype(str(variable.dtype)))


def agree(group: ProcessGroup, flag: bool) -> bool:
    """True on every rank when it is True on any (stop training, want batch logs)."""
    return any(group.allgather(bool(flag)))


# ---------------------------------------------------------------------- gradients summed during backward
def reducer(model: Any, group: ProcessGroup, variables: list[Any]) -> OverlappedReduction:
    """The model's overlapped gradient sum for these variables (made once, reused every step)."""
    key = (id(group), tuple(id(v) for v in variables))
    found = getattr(model, "_overlapped_reduction", None)
    if found is None or found[0] != key:
        found = (key, OverlappedReduction(group, [tuple(v.shape) for v in variables]))
        model._overlapped_reduction = found
    return found[1]


@host_step
def begin_reduction(reduction: OverlappedReduction) -> None:
    """A step starts: forget the previous step's gradients (a compiled step replays this host entry)."""
    reduction.begin()


@host_step
def gradient_ready(reduction: OverlappedReduction, index: int, grad: Any) -> None:
    """The backward pass finished variable `index`'s gradient: its bucket's sum may start."""
    reduction.ready(index, grad)


@host_step
def apply_reduced(reduction: OverlappedReduction, optimizer: Any, variables: list[Any]) -> None:
    """Wait for every bucket's sum, then update the weights (the optimizer sees gradients summed already)."""
    optimizer.apply(reduction.finish(len(variables)), variables)
