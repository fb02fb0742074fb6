"""gpukeras.callbacks: hooks into fit, evaluate and predict."""

from gpukeras.callbacks.callback import Callback
from gpukeras.callbacks.callback_list import CallbackList
from gpukeras.callbacks.history import History
from gpukeras.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]

from gpukeras.callbacks.backup_and_restore import BackupAndRestore
from gpukeras.callbacks.csv_logger import CSVLogger
from gpukeras.callbacks.early_stopping import EarlyStopping
from gpukeras.callbacks.lambda_callback import LambdaCallback
from gpukeras.callbacks.learning_rate_scheduler import LearningRateScheduler
from gpukeras.callbacks.model_checkpoint import ModelCheckpoint
from gpukeras.callbacks.monitor import MonitorCallback
from gpukeras.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from gpukeras.callbacks.terminate_on_nan import TerminateOnNaN

__all__ += [
    "BackupAndRestore", "CSVLogger", "EarlyStopping", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint",
    "MonitorCallback", "ReduceLROnPlateau", "TerminateOnNaN",
]
