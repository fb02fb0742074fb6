"""The Layer base class: weights, build-on-first-call, nested tracking, config round-trip."""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.ops.core import to_backend_array
from gpukeras.tensor import Tensor, Variable

_name_counts: dict[str, int] = {}


def _reset_names() -> None:
    _name_counts.clear()


_backend.on_clear_session(_reset_names)


def to_snake_case(name: str) -> str:
    """CamelCase class name → Keras's default layer name prefix (Conv2D → conv2d)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(prefix: str) -> str:
    """prefix, prefix_1, prefix_2, ... per session, as Keras names layers."""
    n = _name_counts.get(prefix, 0)
    _name_counts[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


class Layer:
    """Base of every layer: subclasses validate in __init__, make weights in build, compute in call."""

    def __init__(self, trainable: bool = True, name: str | None = None, dtype: Any = None,
                 autocast: bool = True, input_dim: int | None = None, input_shape: Any = None,
                 batch_input_shape: Any = None, batch_size: int | None = None, **kwargs: Any):
        allowed = {"activity_regularizer", "weights", "input_length", "dynamic"}
        unknown = set(kwargs) - allowed
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): {sorted(unknown)}.")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Layer name must be a string, got {name!r}.")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.dtype = str(dtype) if dtype is not None else "float32"
        self.built = False
        self.supports_masking = False
        self._variables: list[Variable] = []
        self._always_frozen: set[int] = set()  # weights created with trainable=False (e.g. moving stats)
        self._layers: list[Layer] = []
        self._losses: list[Tensor] = []
        self._build_shape: Any = None
        self.activity_regularizer = None
        if kwargs.get("activity_regularizer") is not None:
            from gpukeras import regularizers

            self.activity_regularizer = regularizers.get(kwargs["activity_regularizer"])
        self._initial_weights = kwargs.get("weights")
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
            batch_size = tuple(batch_input_shape)[0]
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._declared_input_shape = tuple(input_shape) if input_shape is not None else None
        self._declared_batch_size = batch_size

    # ------------------------------------------------------------------ tracking
    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Layer) and name != "_owner" and "_layers" in self.__dict__:
            if all(value is not layer for layer in self._layers):
                self._layers.append(value)
        elif isinstance(value, (list, tuple)) and "_layers" in self.__dict__ and not name.startswith("_"):
            for item in value:
                if isinstance(item, Layer) and all(item is not layer for layer in self._layers):
                    self._layers.append(item)
        super().__setattr__(name, value)

    # ------------------------------------------------------------------ weights
    def add_weight(self, shape: Sequence[int] | None = None, initializer: Any = "glorot_uniform",
                   dtype: Any = None, trainable: bool = True, regularizer: Any = None,
                   constraint: Any = None, name: str | None = None, **kwargs: Any) -> Variable:
        """Create, initialize and track a weight of this layer."""
        from gpukeras import constraints, initializers, regularizers

        shape = tuple(int(d) for d in (shape or ()))
        init = initializers.get(initializer)
        name = name or f"variable_{len(self._variables)}"
        var = Variable(init(shape, dtype=dtype or self.dtype), shape=shape, dtype=dtype or self.dtype,
                       trainable=trainable and self._trainable, name=name, path=f"{self.name}/{name}")
        var.regularizer = regularizers.get(regularizer)
        var.constraint = constraints.get(constraint)
        if not trainable:
            self._always_frozen.add(id(var))
        self._variables.append(var)
        return var

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for var in self._variables:
            var.trainable = self._trainable and id(var) not in self._always_frozen
        for layer in self._layers:
            layer.trainable = value

    @property
    def weights(self) -> list[Variable]:
        """Own weights in creation order, then each nested layer's (deduplicated)."""
        out: list[Variable] = []
        seen: set[int] = set()
        for var in self._variables + [w for layer in self._layers for w in layer.weights]:
            if id(var) not in seen:
                seen.add(id(var))
                out.append(var)
        return out

    @property
    def variables(self) -> list[Variable]:
        return self.weights

    @property
    def trainable_weights(self) -> list[Variable]:
        return [w for w in self.weights if w.trainable]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        return [w for w in self.weights if not w.trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list[Any]:
        """Weights as host NumPy arrays, in `weights` order."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Overwrite every weight; all shapes are checked before any is written."""
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"Layer {self.name!r} expects {len(own)} weight arrays, got {len(weights)}.")
        arrays = [to_backend_array(w, dtype=v.dtype) for w, v in zip(weights, own)]
        for var, arr in zip(own, arrays):
            if tuple(arr.shape) != var.shape:
                raise ValueError(f"Weight {var.path!r} has shape {var.shape}, "
                                 f"the provided array has shape {tuple(arr.shape)}.")
        for var, arr in zip(own, arrays):
            var.assign(arr)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet: call it on data or build it first.")
        return sum(w.size for w in self.weights)

    # ------------------------------------------------------------------ losses
    def _flatten_layers(self) -> list[Layer]:
        """This layer and every layer nested in it, each once."""
        out: list[Layer] = []
        seen: set[int] = set()
        stack: list[Layer] = [self]
        while stack:
            layer = stack.pop()
            if id(layer) not in seen:
                seen.add(id(layer))
                out.append(layer)
                stack.extend(reversed(layer._layers))
        return out

    @property
    def losses(self) -> list[Tensor]:
        """Activity losses of the last call plus weight penalties, computed now (differentiable)."""
        out = [loss for layer in self._flatten_layers() for loss in layer._losses]
        for var in self.weights:
            if var.regularizer is not None:
                out.append(var.regularizer(var))
        return out

    def add_loss(self, loss: Any) -> None:
        self._losses.append(loss)

    # ------------------------------------------------------------------ calling
    def build(self, input_shape: Any) -> None:
        """Make the weights for inputs of `input_shape`; the default has none."""
        self.built = True

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"Layer {type(self).__name__} must implement call().")

    def _build_for(self, input_shape: Any) -> None:
        """Build once for `input_shape` (concrete or symbolic call), then apply `weights=` if given."""
        self._build_shape = input_shape
        self.build(input_shape)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if _any_symbolic(inputs):
            from gpukeras.layers.symbolic import call_symbolic

            return call_symbolic(self, inputs, args, kwargs)
        if "training" in kwargs and not _call_accepts_training(type(self)):
            del kwargs["training"]  # Keras passes `training` only to calls that take it
        if type(inputs) is not Tensor:
            inputs = _to_tensors(inputs)
        if not self.built:
            self._build_for(_shapes_of(inputs))
        if self._losses:
            self._losses = []
        outputs = self.call(inputs, *args, **kwargs)
        if self.activity_regularizer is not None:
            for out in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
                self._losses.append(self.activity_regularizer(out))
        return outputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape for `input_shape`; the default traces `call` on a small zero batch."""
        from gpukeras.layers.symbolic import trace_output_shape

        return trace_output_shape(self, input_shape)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._declared_input_shape is not None:
            config["batch_input_shape"] = (self._declared_batch_size,) + self._declared_input_shape
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


_accepts_training: dict[type, bool] = {}


def _call_accepts_training(cls: type) -> bool:
    """Whether `cls.call` takes a `training` argument (or **kwargs); cached per class."""
    known = _accepts_training.get(cls)
    if known is None:
        params = inspect.signature(cls.call).parameters
        known = _accepts_training[cls] = "training" in params or any(
            p.kind is p.VAR_KEYWORD for p in params.values())
    return known


def _any_symbolic(x: Any) -> bool:
    if type(x) is Tensor:  # the common case inside a training step
        return False
    from gpukeras.layers.symbolic import KerasTensor

    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(_any_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(_any_symbolic(v) for v in x.values())
    return False


def _to_tensors(x: Any) -> Any:
    """Arrays (and nests of them) as Tensors; float64 host data becomes float32."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)):
        return type(x)(_to_tensors(v) for v in x)
    if isinstance(x, dict):
        return {k: _to_tensors(v) for k, v in x.items()}
    return Tensor(to_backend_array(x))


def _shapes_of(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return [_shapes_of(v) for v in x]
    if isinstance(x, dict):
        return {k: _shapes_of(v) for k, v in x.items()}
    return tuple(x.shape)
