"""gpukeras.models: Model, Sequential and the functional API."""

from gpukeras.models.cloning import clone_model
from gpukeras.models.functional import Functional
from gpukeras.models.model import Model
from gpukeras.models.sequential import Sequential
from gpukeras.saving import load_model
from gpukeras.saving.serialization import Catalogue, register_catalogue

_MODELS = {"Sequential": Sequential, "Functional": Functional, "Model": Functional}

# How Keras 3 files name the model classes: Sequential as keras.Sequential, Functional with its full
# module and a registered name; `Model` in a file is a functional graph.
register_catalogue(Catalogue("keras.models", find_class=_MODELS.get))
register_catalogue(Catalogue("keras", base=Sequential, find_class=_MODELS.get))
register_catalogue(Catalogue("keras.src.models.functional", base=Functional, find_class=_MODELS.get,
                             registered_name="Functional"))

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model"]
