"""keras.preprocessing.sequence: `pad_sequences` under its older name."""

from gpukeras.utils.sequences import pad_sequences

__all__ = ["pad_sequences"]
