"""gpukeras.models: Model, Sequential and the functional API."""

import json
from typing import Any

from gpukeras.models.cloning import clone_model
from gpukeras.models.functional import Functional
from gpukeras.models.model import Model
from gpukeras.models.sequential import Sequential
from gpukeras.saving import load_model, save_model
from gpukeras.saving.serialization import Catalogue, deserialize_keras_object, register_catalogue

_MODELS = {"Sequential": Sequential, "Functional": Functional, "Model": Functional}

# How Keras 3 files name the model classes: Sequential as keras.Sequential, Functional with its full
# module and a registered name; `Model` in a file is a functional graph.
register_catalogue(Catalogue("keras.models", find_class=_MODELS.get))
register_catalogue(Catalogue("keras", base=Sequential, find_class=_MODELS.get))
register_catalogue(Catalogue("keras.src.models.functional", base=Functional, find_class=_MODELS.get,
                             registered_name="Functional"))



def model_from_json(json_string: str, custom_objects: dict[str, Any] | None = None) -> Model:
    """The model `model.to_json()` described (architecture only: new weights)."""
    return deserialize_keras_object(json.loads(json_string), custom_objects)


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
