"""Fused fast path: one optimizer update over every weight at once, with the generic per-weight loop.

An optimizer hands the backend its `UpdateRule` (defined in the optimizer's own file): the
per-weight formula, written against the array module `xp` (the generic code, and the twin its
kernels are tested against), and the name of its fused kernels, if any, with how the step's
hyperparameters fold into their scalar arguments. `multi_tensor_apply` runs the rule on every
weight; a backend overrides it to do all weights in one go (CuPy: one launch of
`gk_<kernel>_multi_f32` in kernels/optimizers.cu; NumPy: the C function `<kernel>` in
_cpu_kernels.c, where there is one).

Decoupled weight decay comes first, as Keras 3 applies it: w -= (w * weight_decay) * lr on the
weights whose `decay_mask` entry is true. The kernels fuse it: they take (decay, decay_lr)
before the rule's own arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Array = Any
Scalars = Mapping[str, Any]  # the step's hyperparameters by name; always "lr" and "weight_decay"
MAX_KERNEL_SLOTS = 3  # slot columns in the optimizers.cu tensor table


@dataclass(frozen=True)
class UpdateRule:
    """How one optimizer updates a weight: its formula, slot order and (optionally) its fused kernels.

    formula(xp, w, g, slots, scalars) updates w and its slots in place (a slot is None when the
    configuration does not use it). `kernel` names the fused kernels: `gk_<kernel>_multi_f32` in
    kernels/optimizers.cu (slots in table order) and `<kernel>` in _cpu_kernels.c where it exists;
    `kernel_args(scalars)` gives their scalar arguments after (decay, decay_lr).
    """

    name: str
    slots: tuple[str, ...]
    formula: Callable[[Any, Array, Array, tuple[Array | None, ...], Scalars], None]
    kernel: str | None = None
    kernel_args: Callable[[Scalars], tuple] | None = None

    def __post_init__(self) -> None:
        if self.kernel is not None and (self.kernel_args is None or len(self.slots) > MAX_KERNEL_SLOTS):
            raise ValueError(f"update rule {self.name}: a fused kernel needs kernel_args and at most "
                             f"{MAX_KERNEL_SLOTS} slots (the tensor table's columns)")


def decay_flags(count: int, scalars: Scalars, decay_mask: Sequence[bool] | None) -> list[bool]:
    """Per weight: whether decoupled weight decay applies (a non-zero weight_decay and the mask's entry)."""
    if not scalars.get("weight_decay"):
        return [False] * count
    return [True] * count if decay_mask is None else [bool(d) for d in decay_mask]


class MultiTensorApply:
    """multi_tensor_apply, generic: decay and formula weight by weight over `self.xp`."""

    xp: Any = None

    def multi_tensor_apply(self, rule: UpdateRule, tensor_lists: Sequence[Sequence[Array] | None], scalars: Scalars,
                           decay_mask: Sequence[bool] | None = None) -> None:
        """Update every weight in place by `rule`.

        tensor_lists = [params, grads, *slots] with the slots in `rule.slots` order (a slot list may
        be None); scalars are the step's hyperparameters ("lr" and "weight_decay" among them);
        decay_mask[i] says whether weight i takes the decoupled weight decay (None: all do).
        """
        params, grads, *slots = tensor_lists
        if len(slots) != len(rule.slots):
            raise ValueError(f"{rule.name} takes the slots {rule.slots}; got {len(slots)} slot lists")
        flags = decay_flags(len(params), scalars, decay_mask)
        wd, lr = scalars.get("weight_decay"), scalars["lr"]
        for i, (w, g) in enumerate(zip(params, grads)):
            if flags[i]:
                w -= w * wd * lr  # Keras 3: variable - variable * wd * lr
            rule.formula(self.xp, w, g, tuple(None if s is None else s[i] for s in slots), scalars)
