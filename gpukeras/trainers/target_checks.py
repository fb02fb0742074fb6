"""Checks of targets against the model's outputs, on host arrays, before any weight changes.

Built-in losses say how they read targets (`losses.target_kind`): sparse cross-entropy takes
integer labels in [0, classes), every other built-in loss a target of the output's shape (up to
Keras's rank rule: (n,) matches (n, 1)). A target that does not fit is refused with both shapes
named, instead of being broadcast or indexing a neighbour's logit. Custom losses are not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras import losses as losses_module


def check_targets(ys: Sequence[np.ndarray], output_shapes: Sequence[tuple | None], loss_fns: Sequence[Any],
                  output_names: Sequence[str], what: str = "y") -> None:
    """Refuse targets that do not fit their output's shape (or class count) under its built-in loss."""
    for i, (y, shape, fn) in enumerate(zip(ys, output_shapes, loss_fns)):
        kind = None if fn is None or shape is None else losses_module.target_kind(fn)
        if kind is None:
            continue
        label = what if len(ys) == 1 else f"{what}[{i}]"
        name = output_names[i] if i < len(output_names) else f"output {i}"
        if kind == "sparse":
            _check_sparse(y, tuple(shape), losses_module.ignored_label(fn), label, name)
        else:
            _check_dense(y, tuple(shape), label, name, fn)


def _fits(got: tuple, want: tuple) -> bool:
    """Per-sample shapes equal, with None in `want` matching any size."""
    return len(got) == len(want) and all(w is None or g == w for g, w in zip(got, want))


def _check_sparse(y: np.ndarray, shape: tuple, ignore: int | None, label: str, name: str) -> None:
    labels_shape = shape[1:-1]
    got = tuple(y.shape[1:])
    if not (_fits(got, labels_shape) or _fits(got, labels_shape + (1,))):
        raise ValueError(f"{label} has shape {tuple(y.shape)}, but output {name!r} has shape {shape}: sparse "
                         f"categorical cross-entropy takes one integer label per prediction, shape "
                         f"{(None,) + labels_shape}. One-hot targets go with categorical_crossentropy.")
    classes = shape[-1]
    if classes is None or y.size == 0:
        return
    values = np.asarray(y)
    low, high = values.min(), values.max()
    if ignore is None and 0 <= low and high < classes:  # the common case: two reductions, no masks
        return
    bad = (values < 0) | (values >= classes)
    if values.dtype.kind == "f":
        bad |= ~np.isfinite(values)
    if ignore is not None:
        bad &= values != ignore
    if bad.any():
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"Label {values[position].item()!r} at position {position} of {label} is out of range: "
                         f"output {name!r} has {classes} classes, so labels must be integers in [0, {classes - 1}].")


def _check_dense(y: np.ndarray, shape: tuple, label: str, name: str, fn: Any) -> None:
    got, want = tuple(y.shape[1:]), shape[1:]
    if _fits(got, want) or (want[-1:] == (1,) and _fits(got, want[:-1])) or (
            got[-1:] == (1,) and _fits(got[:-1], want)):
        return
    loss_name = getattr(fn, "name", None) or getattr(fn, "__name__", "the loss")
    widths = (f": the target's width {got[-1]} differs from the output's width {want[-1]}"
              if got and want and len(got) == len(want) else "")
    raise ValueError(f"{label} has shape {tuple(y.shape)}, but output {name!r} has shape {shape}{widths} "
                     f"(loss {loss_name!r} compares them element by element).")
