"""Small data sets bundled with gpukeras, with Keras-style ``load_data`` loaders."""

from gpukeras.datasets import digits

__all__ = ["digits"]
