"""Keras's names: CamelCase class names in snake_case (layer name prefixes, paths in weights files)."""

from __future__ import annotations

import re


def to_snake_case(name: str) -> str:
    """Conv2D → conv2d, MaxPooling2D → max_pooling2d, InputLayer → input_layer (Keras 3's rule)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
