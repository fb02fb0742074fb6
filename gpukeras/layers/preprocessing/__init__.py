"""Preprocessing layers: text vectorization, lookups, hashing and category encoding run on the host;
image preprocessing and augmentation, and Normalization, compute on the backend."""

from gpukeras.layers.preprocessing.category_encoding import CategoryEncoding
from gpukeras.layers.preprocessing.color_augmentation import RandomBrightness, RandomContrast
from gpukeras.layers.preprocessing.discretization import Discretization
from gpukeras.layers.preprocessing.geometric_augmentation import (
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from gpukeras.layers.preprocessing.hashing import Hashing
from gpukeras.layers.preprocessing.image_preprocessing import CenterCrop, Rescaling, Resizing
from gpukeras.layers.preprocessing.integer_lookup import IntegerLookup
from gpukeras.layers.preprocessing.normalization import Normalization
from gpukeras.layers.preprocessing.string_lookup import StringLookup
from gpukeras.layers.preprocessing.text_vectorization import TextVectorization

__all__ = ["CategoryEncoding", "Discretization", "Hashing", "IntegerLookup", "StringLookup", "TextVectorization"]
__all__ += ["CenterCrop", "Normalization", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
            "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing"]
