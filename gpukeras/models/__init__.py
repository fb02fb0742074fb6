"""gpukeras.models: Model, Sequential and the functional API."""

from gpukeras.models.functional import Functional
from gpukeras.models.model import Model
from gpukeras.models.sequential import Sequential
from gpukeras.saving import load_model

__all__ = ["Functional", "Model", "Sequential", "load_model"]
