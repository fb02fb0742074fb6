"""TerminateOnNaN: stop fit as soon as a batch loss is NaN or infinite."""

from __future__ import annotations

import math
from typing import Any

from gpukeras.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Stops training (or raises RuntimeError with `raise_error=True`) on a NaN/inf batch loss.

    Reading the batch loss copies one scalar from the device every batch; this callback is the one
    place where that is accepted.
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if logs is None:
            return
        loss = logs.get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training", flush=True)
            self.model.stop_training = True
