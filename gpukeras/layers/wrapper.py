"""Wrapper: the base of layers that hold and call one other layer (TimeDistributed; users' own wrappers)."""

from __future__ import annotations

from typing import Any

from gpukeras.layers.layer import Layer
from gpukeras.saving.serialization import deserialize_keras_object, serialize_keras_object


class Wrapper(Layer):
    """Holds `layer` (its weights are the wrapper's), builds it on the wrapper's input shape unless a
    subclass does otherwise, and saves it inside the wrapper's config."""

    def __init__(self, layer: Layer, **kwargs: Any):
        if not isinstance(layer, Layer):
            raise ValueError(f"{type(self).__name__}: `layer` must be a Layer instance, got {layer!r}.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape: Any = None) -> None:
        if not self.layer.built:
            self.layer._build_for(input_shape)
        self.built = True

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Wrapper:
        config = dict(config)
        layer = deserialize_keras_object(config.pop("layer"), custom_objects=custom_objects)
        return super().from_config({**config, "layer": layer})
