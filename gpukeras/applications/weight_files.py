"""The `weights` argument of every application: None (random initialization), a path to a Keras weights file,
or "imagenet" (Keras's pretrained file, used from the cache and downloaded only when it is not there).

Pretrained files are fetched as Keras 3 fetches them (same names, origins and hashes) into
`$GPUKERAS_HOME/models/`; a good copy in Keras's own cache (`~/.keras/models/`) is used too. Without a
network the error names the URL to download and the exact path to place the file at.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from gpukeras.datasets import cache


@dataclass(frozen=True)
class PretrainedFile:
    """One of Keras's pretrained weights files: its name, where Keras downloads it from, and its hash."""

    name: str
    origin: str
    file_hash: str | None = None


def check_weights(weights: Any, include_top: bool, classes: int) -> None:
    """Refuse a `weights` value that is not None, "imagenet" or an existing file (Keras 3's rule), and
    "imagenet" with a top of other than 1000 classes."""
    if weights is None or weights == "imagenet":
        pass
    elif not isinstance(weights, (str, os.PathLike)):
        raise ValueError("`weights` must be None (random weights), 'imagenet' (Keras's pretrained file) or the "
                         f"path of a weights file. Received: weights={weights!r}")
    elif not os.path.isfile(weights):
        raise ValueError(f"weights={os.fspath(weights)!r}: no such file. `weights` must be None (random "
                         "weights), 'imagenet' (Keras's pretrained file) or the path of a weights file "
                         "(.weights.h5, .keras, or a Keras .h5 weights file).")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(f"classes={classes!r}: the ImageNet weights' top classifies 1000 classes. For another "
                         "number of classes, use include_top=False and add your own top, or weights=None.")


def resolve(weights: Any, pretrained: PretrainedFile | None) -> Any:
    """The file to load: `weights` itself for a path, Keras's pretrained file (cached, or downloaded) for
    "imagenet", None for random weights. Called before the model is built, so a missing file fails fast."""
    if weights != "imagenet":
        return weights
    if pretrained is None:
        raise ValueError("Keras publishes no ImageNet weights for this configuration of the model; pass "
                         "weights=None or the path of a weights file.")
    return cache.get_file(pretrained.name, pretrained.origin, file_hash=pretrained.file_hash,
                          cache_subdir="models")


def load(model: Any, path: Any) -> Any:
    """`model` with the weights of `path` loaded (nothing to do for None)."""
    if path is not None:
        model.load_weights(path)
    return model
