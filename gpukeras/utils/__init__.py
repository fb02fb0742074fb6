"""gpukeras.utils: seeding and label helpers (Keras's keras.utils)."""

from gpukeras.utils.labels import normalize, to_categorical
from gpukeras.utils.py_dataset import PyDataset, Sequence
from gpukeras.utils.seeding import set_random_seed

__all__ = ["PyDataset", "Sequence", "normalize", "set_random_seed", "to_categorical"]
