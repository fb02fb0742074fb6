"""Model: a Layer that trains. `Model(inputs, outputs)` builds a functional model; subclass it otherwise."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from gpukeras import ops
from gpukeras.autodiff import stop_recording
from gpukeras.layers.layer import Layer
from gpukeras.models.summary import print_summary
from gpukeras.saving import object_registry, saving_api
from gpukeras.saving.serialization import serialize_keras_object
from gpukeras.tensor import Tensor, get_keras_mask, set_keras_mask
from gpukeras.trainers.trainer import Trainer
from gpukeras.tree import map_shapes, tuplify_shapes


def functional_arguments(args: tuple, kwargs: Mapping[str, Any]) -> bool:
    """Whether a Model constructor call is the functional API's `Model(inputs, outputs)`."""
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or ("inputs" in kwargs and "outputs" in kwargs)


def input_rank_shape(shape: tuple, spec: Sequence[int | None]) -> tuple:
    """The shape data of `shape` takes on entering an input declared `spec`, by Keras 3's rule for
    functional and Sequential models: a trailing axis of size 1 is added when the data is one rank
    short of an input ending in 1, and dropped when the data is one rank over and ends in 1."""
    if len(shape) == len(spec) - 1 and spec and spec[-1] == 1:
        return shape + (1,)
    if len(shape) == len(spec) + 1 and shape and shape[-1] == 1:
        return shape[:-1]
    return shape


def match_input_rank(x: Any, spec: Sequence[int | None]) -> Any:
    """`x` reshaped by `input_rank_shape` (a (batch,) column for a (None, 1) input, say)."""
    shape = tuple(x.shape)
    target = input_rank_shape(shape, spec)
    if len(target) == len(shape):
        return x
    out = ops.expand_dims(x, -1) if len(target) > len(shape) else ops.squeeze(x, -1)
    mask = get_keras_mask(x) if isinstance(x, Tensor) else None
    if mask is not None:
        set_keras_mask(out, mask)
    return out


_variants: dict[type, type] = {}


def _own_init(cls: type) -> bool:
    """Whether a Model subclass (not Model or Functional themselves) defines an __init__ of its own."""
    return any("__init__" in vars(k) for k in cls.__mro__
               if k is not Model and k is not Model._functional_class and issubclass(k, Model))


def _functional_variant(cls: type, functional: type) -> type:
    """`cls` (a Model subclass) with the functional model mixed in, for `CustomModel(inputs, outputs)`.

    Keras lets a subclass that overrides only train_step & co be built from inputs and outputs;
    the variant keeps the subclass's methods first and takes the graph from Functional. It saves
    under the subclass's name.
    """
    variant = _variants.get(cls)
    if variant is None:
        variant = type(cls.__name__, (cls, functional), {"__module__": cls.__module__,
                                                          "__qualname__": cls.__qualname__})
        object_registry.register_alias(variant, cls)
        _variants[cls] = variant
    return variant


class Model(Trainer, Layer):
    """Groups layers into an object with training and inference features (Keras's keras.Model)."""

    # The functional model class, registered by gpukeras.models.functional: `Model(inputs, outputs)`
    # and `Model.from_config(functional_config)` build one.
    _functional_class: type | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        functional = Model._functional_class
        # A subclass with its own __init__ reads its own arguments (VAE(encoder, decoder)); it becomes
        # functional only if that __init__ passes inputs and outputs on to Model.__init__.
        if functional_arguments(args, kwargs) and not issubclass(cls, functional) and not _own_init(cls):
            return object.__new__(functional if cls is Model else _functional_variant(cls, functional))
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any):
        functional = Model._functional_class
        if functional_arguments(args, kwargs) and not isinstance(self, functional):
            # `super().__init__(inputs, outputs)` inside a subclass's __init__ (Keras 3 allows it)
            self.__class__ = _functional_variant(type(self), functional)
            functional.__init__(self, *args, **kwargs)
            return
        if args:
            raise TypeError("Model() takes `inputs` and `outputs` (functional API) or only keyword arguments.")
        self._init_training_state()
        Layer.__init__(self, trainable=kwargs.pop("trainable", True), name=kwargs.pop("name", None),
                       dtype=kwargs.pop("dtype", None), **kwargs)

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        """None: a model's outputs already carry the masks its layers attached (Keras computes the same)."""
        return None

    def _computes_mask(self) -> bool:
        return False

    @staticmethod
    def _reference_instance() -> Model:
        """A bare model: its attribute names are the framework's (see `layers.layer.framework_attributes`)."""
        return Model(name="reference")

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        """The model's layers; the operation nodes of keras.ops calls on symbolic tensors are left out, as in
        Keras 3 (they are in `operations`)."""
        return [layer for layer in self._layers if not layer.graph_operation]

    @property
    def operations(self) -> list[Layer]:
        """Every node of the model's graph in order: its layers and its recorded operations."""
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index in `layers`."""
        if index is not None:
            if name is not None:
                raise ValueError("get_layer: pass either `name` or `index`, not both.")
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer: index {index} is out of range for {len(self.layers)} layers.")
            return self.layers[index]
        if name is None:
            raise ValueError("Provide either a layer name or layer index at `get_layer`.")
        for layer in self.operations:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r}; layers are {[layer.name for layer in self.layers]}.")

    def summary(self, line_length: int | None = None, positions: Any = None, print_fn: Any = None,
                expand_nested: bool = False, show_trainable: bool = False, layer_range: Any = None) -> None:
        """Print Keras's table of layers, output shapes and parameter counts (see `models.summary`)."""
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable, layer_range=layer_range)

    # ------------------------------------------------------------------ hooks for Trainer
    output_names: list[str] = []

    def _known_input_names(self) -> list[str] | None:
        return None

    def _known_output_names(self) -> list[str] | None:
        return self.output_names or None

    def _input_shapes(self) -> list[tuple] | None:
        """Per-input batch shapes (batch None) when known, for checking data before training."""
        return None

    def _symbolic_output_shapes(self) -> list[tuple] | None:
        """Per-output batch shapes when the graph knows them without running the model."""
        return None

    @property
    def input_shape(self) -> Any:
        """The inputs' shapes (batch dimension None): one tuple for one input, else a list (Keras 3)."""
        return self._one_or_list(self._input_shapes(), "input")

    @property
    def output_shape(self) -> Any:
        """The outputs' shapes: one tuple for one output, else a list (Keras 3)."""
        return self._one_or_list(self._symbolic_output_shapes(), "output")

    def _one_or_list(self, shapes: list[tuple] | None, what: str) -> Any:
        if shapes is None:
            raise AttributeError(f"Model {self.name!r} has no defined {what} shape yet: build it from a "
                                 f"keras.Input or call it on data.")
        return tuple(shapes[0]) if len(shapes) == 1 else [tuple(s) for s in shapes]

    def _build_from_data(self, xs: list[Any]) -> None:
        if self.built and all(layer.built for layer in self._layers):
            return
        if type(self).call is Layer.call:
            # No call() to build with (keras.io's GAN: train_step drives its sub-models), as Keras 3 on
            # TensorFlow: nothing is built ahead of the first step.
            return
        with stop_recording():
            self(self._pack_inputs(self._to_backend([x[:1] for x in xs])), training=False)

    def _check_input_shapes(self, xs: list[Any]) -> None:
        expected = self._input_shapes()
        if expected is None:
            return
        if len(xs) != len(expected):
            raise ValueError(f"Model {self.name!r} expects {len(expected)} input(s), got {len(xs)} array(s).")
        for i, (x, spec) in enumerate(zip(xs, expected)):
            got = (None,) + input_rank_shape(tuple(x.shape), spec)[1:]
            if len(got) != len(spec) or any(s is not None and g != s for g, s in zip(got[1:], spec[1:])):
                raise ValueError(f"Input {i} of model {self.name!r} is incompatible: expected shape {spec}, "
                                 f"got data of shape {tuple(x.shape)}.")

    def _pack_inputs(self, xs: list[Any]) -> Any:
        return xs[0] if len(xs) == 1 else list(xs)

    def _flat_outputs(self, outputs: Any) -> list[Tensor]:
        if isinstance(outputs, dict):
            return [outputs[n] for n in self.output_names]
        if isinstance(outputs, (list, tuple)):
            return list(outputs)
        return [outputs]

    def _unflatten_outputs(self, outputs: list[Any]) -> Any:
        return outputs[0] if len(outputs) == 1 else outputs

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Model:
        """The model a config describes: a functional graph when the config holds one (Keras 3's rule)."""
        functional = Model._functional_class
        graph = all(k in config for k in ("name", "layers", "input_layers", "output_layers"))
        if graph and (cls is Model or issubclass(cls, functional) or _takes_functional_arguments(cls)):
            return functional.from_graph_config(cls, config, custom_objects)
        try:
            return cls(**config)
        except TypeError as e:
            raise TypeError(f"Unable to revive model {cls.__name__} from its config {config!r}: {e}. When "
                            "overriding get_config(), return every argument the constructor needs, or "
                            "override from_config().") from e

    def to_json(self, **kwargs: Any) -> str:
        """The model's config (as in config.json) as a JSON string."""
        return json.dumps(serialize_keras_object(self), **kwargs)

    # ------------------------------------------------------------------ saving
    def save(self, filepath: Any, overwrite: bool = True, zipped: bool | None = None, **kwargs: Any) -> None:
        """Save the whole model to a `.keras` file (or a legacy `.h5` file)."""
        saving_api.save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        """Save all weights (and optimizer state) to a `.weights.h5` file."""
        saving_api.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any, skip_mismatch: bool = False, **kwargs: Any) -> None:
        """Load weights from a `.weights.h5`, `.keras` or legacy `.h5` file (all of them, or none)."""
        saving_api.load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def build_from_config(self, config: Mapping[str, Any]) -> None:
        """Create the weights for the recorded input shape: `build` if overridden, else a zero batch forward."""
        shape = (config or {}).get("input_shape")
        if shape is None:
            return
        shape = tuplify_shapes(shape)
        if type(self).build is not Layer.build:
            self.build(shape)
            return
        zeros = map_shapes(lambda s: np.zeros((1,) + tuple(d or 1 for d in s[1:]), "float32"), shape)
        with stop_recording():
            self(zeros, training=False)

    def _saveable_children(self) -> Iterator[tuple[str, Any]]:
        yield from super()._saveable_children()
        if self.compiled and hasattr(self.optimizer, "save_own_variables"):
            yield "optimizer", self.optimizer


def _takes_functional_arguments(cls: type) -> bool:
    """A subclass whose constructor takes (inputs, outputs, ...) or (*args, **kwargs) revives as functional."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    kinds = {p.kind for p in params}
    return names[:2] == ["inputs", "outputs"] or {inspect.Parameter.VAR_POSITIONAL,
                                                  inspect.Parameter.VAR_KEYWORD} <= kinds
