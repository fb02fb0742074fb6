"""gpukeras.utils: seeding and label helpers (Keras's keras.utils), and the custom-object helpers Keras 3 also
exposes here (the same functions as gpukeras.saving's)."""

from gpukeras.backend import clear_session
from gpukeras.keras_tensor import KerasTensor
from gpukeras.saving.object_registry import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from gpukeras.saving.serialization import deserialize_keras_object, serialize_keras_object
from gpukeras.utils.batches import pack_x_y_sample_weight, unpack_x_y_sample_weight
from gpukeras.utils.labels import normalize, to_categorical
from gpukeras.utils.progbar import Progbar
from gpukeras.utils.py_dataset import PyDataset, Sequence
from gpukeras.utils.seeding import set_random_seed
from gpukeras.utils.sequences import pad_sequences
from gpukeras.utils.timeseries import timeseries_dataset_from_array


def is_keras_tensor(x: object) -> bool:
    """True for the symbolic tensors of the functional API (keras.Input and layer calls on them)."""
    return isinstance(x, KerasTensor)


__all__ = ["CustomObjectScope", "Progbar", "PyDataset", "Sequence", "clear_session", "custom_object_scope",
           "deserialize_keras_object", "get_custom_objects", "get_registered_name", "get_registered_object",
           "is_keras_tensor", "normalize", "pack_x_y_sample_weight", "pad_sequences", "register_keras_serializable",
           "serialize_keras_object", "set_random_seed", "timeseries_dataset_from_array", "to_categorical",
           "unpack_x_y_sample_weight"]
