"""gpukeras.callbacks: hooks into fit, evaluate and predict."""

from gpukeras.callbacks.callback import Callback
from gpukeras.callbacks.callback_list import CallbackList
from gpukeras.callbacks.history import History
from gpukeras.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
