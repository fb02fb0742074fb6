"""Preprocessing layers that run on the host: text vectorization, lookups, hashing, category encoding."""

from gpukeras.layers.preprocessing.category_encoding import CategoryEncoding
from gpukeras.layers.preprocessing.hashing import Hashing
from gpukeras.layers.preprocessing.integer_lookup import IntegerLookup
from gpukeras.layers.preprocessing.string_lookup import StringLookup
from gpukeras.layers.preprocessing.text_vectorization import TextVectorization

__all__ = ["CategoryEncoding", "Hashing", "IntegerLookup", "StringLookup", "TextVectorization"]
