"""Model: a Layer that trains. `Model(inputs, outputs)` builds a functional model; subclass it otherwise."""

from __future__ import annotations

from typing import Any

from gpukeras.autodiff import stop_recording
from gpukeras.layers.layer import Layer
from gpukeras.tensor import Tensor
from gpukeras.trainers.trainer import Trainer


class Model(Trainer, Layer):
    """Groups layers into an object with training and inference features (Keras's keras.Model)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from gpukeras.models.functional import Functional

            return object.__new__(Functional)
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any):
        if args:
            raise TypeError("Model() takes `inputs` and `outputs` (functional API) or only keyword arguments.")
        Layer.__init__(self, trainable=kwargs.pop("trainable", True), name=kwargs.pop("name", None),
                       dtype=kwargs.pop("dtype", None), **kwargs)
        self.history = None
        self._in_fit = False

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index in `layers`."""
        if index is not None:
            if name is not None:
                raise ValueError("get_layer: pass either `name` or `index`, not both.")
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"get_layer: index {index} is out of range for {len(self.layers)} layers.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r}; layers are {[layer.name for layer in self.layers]}.")

    def summary(self, line_length: int | None = None, positions: Any = None, print_fn: Any = None,
                expand_nested: bool = False, show_trainable: bool = False, layer_range: Any = None) -> None:
        """Print Keras's table of layers, output shapes and parameter counts."""
        from gpukeras.models.summary import print_summary

        print_summary(self, print_fn=print_fn)

    # ------------------------------------------------------------------ hooks for Trainer
    output_names: list[str] = []

    def _known_input_names(self) -> list[str] | None:
        return None

    def _known_output_names(self) -> list[str] | None:
        return self.output_names or None

    def _input_shapes(self) -> list[tuple] | None:
        """Per-input batch shapes (batch None) when known, for checking data before training."""
        return None

    def _build_from_data(self, xs: list[Any]) -> None:
        if self.built and all(layer.built for layer in self._layers):
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
            got = (None,) + tuple(x.shape[1:])
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

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable}

    # ------------------------------------------------------------------ saving (gpukeras.saving)
    def save(self, filepath: Any, overwrite: bool = True, zipped: bool | None = None, **kwargs: Any) -> None:
        """Save the whole model to a `.keras` file (or a legacy `.h5` file)."""
        from gpukeras.saving import save_model

        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        """Save all weights (and optimizer state) to a `.weights.h5` file."""
        from gpukeras.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any, skip_mismatch: bool = False, **kwargs: Any) -> None:
        """Load weights from a `.weights.h5`, `.keras` or legacy `.h5` file."""
        from gpukeras.saving import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def get_compile_config(self) -> dict[str, Any] | None:
        """The arguments `compile` was called with, serialized (None when not compiled)."""
        from gpukeras.saving.config import get_compile_config

        return get_compile_config(self)

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Compile from `get_compile_config()`'s output and build the optimizer."""
        from gpukeras.saving.config import compile_from_config

        compile_from_config(self, config)

    def to_json(self, **kwargs: Any) -> str:
        """The model's config (as in config.json) as a JSON string."""
        import json

        from gpukeras.saving.config import serialize_model

        return json.dumps(serialize_model(self), **kwargs)
