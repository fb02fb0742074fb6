"""LearningRateScheduler: set the learning rate at the start of each epoch from schedule(epoch, lr)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gpukeras.callbacks.callback import Callback
from gpukeras.callbacks.monitor import learning_rate_of


class LearningRateScheduler(Callback):
    """Calls `schedule(epoch, lr)` (or the old one-argument `schedule(epoch)`) before each epoch.

    The schedule must return a float. The epoch logs get a `learning_rate` entry, as in Keras 3.
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, learning_rate_of(optimizer))
        except TypeError:  # the one-argument schedule(epoch) of old Keras
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.floating)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {learning_rate}")
        optimizer.learning_rate = float(learning_rate)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.",
                  flush=True)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if logs is not None:
            logs["learning_rate"] = learning_rate_of(self.model.optimizer)
