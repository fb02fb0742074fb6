"""ProgbarLogger: prints Keras's progress lines for fit, evaluate and predict."""

from __future__ import annotations

from typing import Any

from gpukeras.callbacks.callback import Callback
from gpukeras.utils.progbar import ProgressLine


class ProgbarLogger(Callback):
    """verbose=1: a live bar (final line only when not on a terminal); verbose=2: one line per epoch."""

    chief_only = True

    def __init__(self) -> None:
        super().__init__()
        self.progbar: ProgressLine | None = None
        self.verbose = 1
        self.epochs = 1

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)

    def _start(self, target: int | None) -> None:
        self.progbar = ProgressLine(target, verbose=self.verbose)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)
        self._start(self.params.get("steps"))

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.verbose == 1 and self.progbar is not None:
            self.progbar.update(batch + 1, logs)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.verbose and self.progbar is not None:
            self.progbar.finish(logs)

    def on_test_begin(self, logs: Any = None) -> None:
        if self.model is not None and getattr(self.model, "_in_fit", False):
            return
        self._start(self.params.get("steps"))

    def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.model is not None and getattr(self.model, "_in_fit", False):
            return
        if self.verbose == 1 and self.progbar is not None:
            self.progbar.update(batch + 1, logs)

    def on_test_end(self, logs: Any = None) -> None:
        if self.model is not None and getattr(self.model, "_in_fit", False):
            return
        if self.verbose and self.progbar is not None:
            self.progbar.finish(logs)

    def on_predict_begin(self, logs: Any = None) -> None:
        self._start(self.params.get("steps"))

    def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.verbose == 1 and self.progbar is not None:
            self.progbar.update(batch + 1, None)

    def on_predict_end(self, logs: Any = None) -> None:
        if self.verbose and self.progbar is not None:
            self.progbar.finish(None)
