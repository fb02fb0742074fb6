"""CallbackList: fans each hook out to a list of callbacks, skipping hooks nobody overrides."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gpukeras import distribution
from gpukeras.callbacks.callback import Callback
from gpukeras.callbacks.history import History
from gpukeras.callbacks.progbar_logger import ProgbarLogger

_BATCH_HOOKS = (
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end", "on_batch_begin", "on_batch_end",
)


class CallbackList(Callback):
    """Calls every hook on each callback in order; batch hooks only on those that override them."""

    def __init__(self, callbacks: Iterable[Callback] | None = None, add_history: bool = False,
                 add_progbar: bool = False, model: Any = None, **params: Any):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be gpukeras.callbacks.Callback instances, got {type(cb).__name__}.")
        if not distribution.is_chief():  # in a data-parallel job only rank 0 prints and writes files
            self.callbacks = [cb for cb in self.callbacks if not cb.chief_only]
            add_progbar = False
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if add_history and self.history is None:
            self.history = History()
            self.callbacks.append(self.history)
        self._batch_users = {hook: [cb for cb in self.callbacks if _overrides(cb, hook)] for hook in _BATCH_HOOKS}
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def wants_batch_logs(self, hook: str) -> bool:
        """True when some callback overrides the batch hook (else the trainer can skip it)."""
        return bool(self._batch_users[hook])

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def _call_batch(self, hook: str, batch: int, logs: Any) -> None:
        for cb in self._batch_users[hook]:
            getattr(cb, hook)(batch, logs)

    def on_train_begin(self, logs: Any = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: Any = None) -> None:
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_test_begin(self, logs: Any = None) -> None:
        self._call("on_test_begin", logs)

    def on_test_end(self, logs: Any = None) -> None:
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs: Any = None) -> None:
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs: Any = None) -> None:
        self._call("on_predict_end", logs)

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._call_batch("on_train_batch_begin", batch, logs)
        self._call_batch("on_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self._call_batch("on_train_batch_end", batch, logs)
        self._call_batch("on_batch_end", batch, logs)

    def on_test_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch: int, logs: Any = None) -> None:
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
        self._call_batch("on_predict_batch_end", batch, logs)


def _overrides(cb: Callback, hook: str) -> bool:
    return getattr(type(cb), hook, None) is not getattr(Callback, hook)
