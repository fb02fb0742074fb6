"""gpukeras.utils: seeding and label helpers (Keras's keras.utils)."""

from gpukeras.utils.batches import pack_x_y_sample_weight, unpack_x_y_sample_weight
from gpukeras.utils.labels import normalize, to_categorical
from gpukeras.utils.py_dataset import PyDataset, Sequence
from gpukeras.utils.seeding import set_random_seed
from gpukeras.utils.sequences import pad_sequences
from gpukeras.utils.timeseries import timeseries_dataset_from_array

__all__ = ["PyDataset", "Sequence", "normalize", "pack_x_y_sample_weight", "pad_sequences", "set_random_seed",
           "timeseries_dataset_from_array", "to_categorical", "unpack_x_y_sample_weight"]
