"""Small data sets bundled with gpukeras, with Keras-style ``load_data`` loaders."""

from gpukeras.datasets import digits

__all__ = ["digits"]

from gpukeras.datasets import boston_housing, cache, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters

__all__ += ["boston_housing", "cache", "cifar10", "cifar100", "fashion_mnist", "imdb", "mnist", "reuters"]
