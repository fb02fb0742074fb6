"""LambdaCallback: build a callback from plain functions, one per hook."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from gpukeras.callbacks.callback import Callback

_HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
    "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
    "on_batch_begin", "on_batch_end",
)


class LambdaCallback(Callback):
    """Each keyword names a hook and gives the function to call for it, e.g.
    `LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs))`.

    Epoch hooks take `(epoch, logs)`, batch hooks `(batch, logs)`, begin/end hooks `(logs)`. Any hook of
    Callback may be given (Keras 3 names six explicitly and takes the rest as keyword arguments); other
    keyword arguments become attributes, as in Keras.
    """

    def __init__(self, on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None, on_train_batch_end: Callable | None = None,
                 **kwargs: Any) -> None:
        super().__init__()
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        for name in list(kwargs):
            if name in _HOOKS:
                given[name] = kwargs.pop(name)
        self.__dict__.update(kwargs)
        hooks = {name: fn for name, fn in given.items() if fn is not None}
        for name, fn in hooks.items():
            if not callable(fn):
                raise TypeError(f"LambdaCallback: `{name}` must be callable, got {type(fn).__name__}.")
            setattr(self, name, fn)
        # CallbackList skips batch hooks a class does not override: give this instance a class that does.
        self.__class__ = _with_hooks(type(self), frozenset(hooks))


@cache
def _with_hooks(base: type, names: frozenset[str]) -> type:
    """A subclass of `base` whose class-level hooks `names` count as overridden (the instance's functions run)."""
    if names <= getattr(base, "_lambda_hooks", frozenset()):
        return base
    base_names = getattr(base, "_lambda_hooks", frozenset())
    base = getattr(base, "_lambda_base", base)

    def _placeholder(self: Any, *args: Any, **kwargs: Any) -> None: ...

    namespace = {name: _placeholder for name in names | base_names}
    namespace.update(__module__=base.__module__, __qualname__=base.__qualname__, _lambda_hooks=names | base_names,
                     _lambda_base=base)
    return type(base.__name__, (base,), namespace)
