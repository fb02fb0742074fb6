"""Sequential: a plain stack of single-input, single-output layers."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import Any

from gpukeras.keras_tensor import KerasTensor
from gpukeras.layers.input_layer import InputLayer
from gpukeras.layers.layer import Layer, attach_masks
from gpukeras.models.model import Model, match_input_rank
from gpukeras.saving.serialization import deserialize_keras_object, serialize_keras_object
from gpukeras.tree import listify_shapes


class Sequential(Model):
    """Layers applied one after the other; built from an Input, an `input_shape`, or the first data."""

    def __init__(self, layers: Sequence[Layer] | None = None, trainable: bool = True, name: str | None = None):
        super().__init__(trainable=trainable, name=name)
        self._input_layer: InputLayer | None = None
        self._stack: list[Layer] = []
        self._output_shapes: dict[int, tuple] = {}
        self._symbolic_output: KerasTensor | None = None  # the last layer's output in the built graph
        self._takes_training: dict[int, bool] = {}
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    @property
    def output_names(self) -> list[str]:  # type: ignore[override]
        return [self._stack[-1].name] if self._stack else []

    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Append a layer (an `Input(...)` tensor sets the input shape)."""
        if isinstance(layer, KerasTensor):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._stack:
                raise ValueError("Sequential: an Input can only be the first thing added.")
            self._input_layer = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a Layer, got {type(layer).__name__}: {layer!r}.")
        if any(layer is existing for existing in self._stack):
            raise ValueError(f"Layer {layer.name!r} is already in this model.")
        if any(layer.name == existing.name for existing in self._stack):
            raise ValueError(f"Sequential already has a layer named {layer.name!r}; layer names must be unique.")
        if not self._stack and self._input_layer is None and layer._declared_input_shape is not None:
            self._input_layer = InputLayer(shape=layer._declared_input_shape, batch_size=layer._declared_batch_size)
        self._stack.append(layer)
        self._layers.append(layer)
        self._takes_training[id(layer)] = "training" in inspect.signature(layer.call).parameters
        self.built = False
        if rebuild and self._input_layer is not None:
            self.build(self._input_layer.batch_shape)

    def pop(self, rebuild: bool = True) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise ValueError("Sequential.pop: the model has no layers to remove.")
        layer = self._stack.pop()
        self._layers.remove(layer)
        self.built = False
        if rebuild and self._input_layer is not None and self._stack:
            self.build(self._input_layer.batch_shape)
        return layer

    def build(self, input_shape: Any = None) -> None:
        """Build every layer for `input_shape` (batch dimension first), recording output shapes."""
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError("Sequential.build needs an input shape: add an Input or pass input_shape.")
            input_shape = self._input_layer.batch_shape
        input_shape = tuple(input_shape)
        if self._input_layer is None or self._input_layer.batch_shape[1:] != input_shape[1:]:
            self._input_layer = InputLayer(batch_shape=(None,) + input_shape[1:])
        tensor = self._input_layer.output
        for layer in self._stack:
            tensor = layer(tensor)
            self._output_shapes[id(layer)] = tensor.shape
        self._symbolic_output = tensor
        self.built = True

    def output_shape_of(self, layer: Layer) -> tuple | None:
        return self._output_shapes.get(id(layer))

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if self._input_layer is not None:
            inputs = match_input_rank(inputs, self._input_layer.batch_shape)
        attach_masks([inputs], None if mask is None else [mask])
        x = inputs
        for layer in self._stack:
            x = layer(x, training=training) if self._takes_training[id(layer)] else layer(x)
        return x

    def _build_from_data(self, xs: list[Any]) -> None:
        if not self._stack:
            raise ValueError("Sequential model has no layers: add() some before training or predicting.")
        if not self.built:
            if len(xs) != 1:
                raise ValueError(f"Sequential expects a single input array, got {len(xs)}.")
            self.build((None,) + tuple(xs[0].shape[1:]))

    def _input_shapes(self) -> list[tuple] | None:
        return [self._input_layer.batch_shape] if self._input_layer is not None else None

    @property
    def inputs(self) -> list[KerasTensor] | None:
        return [self._input_layer.output] if self._input_layer is not None else None

    @property
    def outputs(self) -> list[KerasTensor]:
        """The last layer's symbolic output, once the model is built from an Input or a shape."""
        if not self.built or not self._stack or self._symbolic_output is None:
            raise AttributeError(f"Sequential model {self.name!r} has no outputs yet: give it an Input or build it.")
        return [self._symbolic_output]

    def _input_dtypes(self) -> list[str] | None:
        return [self._input_layer.dtype] if self._input_layer is not None else None

    def _symbolic_output_shapes(self) -> list[tuple] | None:
        shape = self._output_shapes.get(id(self._stack[-1])) if self.built and self._stack else None
        return None if shape is None else [shape]

    def get_config(self) -> dict[str, Any]:
        layers = [serialize_keras_object(layer) for layer in self._stack]
        if self._input_layer is not None:
            layers.insert(0, serialize_keras_object(self._input_layer))
        config = {"name": self.name, "trainable": self.trainable, "layers": layers}
        if self.built and self._input_layer is not None:
            config["build_input_shape"] = listify_shapes(self._input_layer.batch_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Sequential:
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            model.add(deserialize_keras_object(layer_config, custom_objects))
        return model

    @staticmethod
    def _reference_instance() -> Sequential:
        """A bare Sequential: its attribute names are the framework's."""
        return Sequential(name="reference")

    def get_build_config(self) -> dict[str, Any] | None:
        if not (self.built and self._input_layer is not None):
            return None
        return {"input_shape": listify_shapes(self._input_layer.batch_shape)}

    def _saveable_children(self) -> Iterator[tuple[str, Any]]:
        yield "layers", self.layers
        yield from super()._saveable_children()
