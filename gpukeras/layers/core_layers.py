"""Small structural layers: Lambda (a function as a layer), Permute, RepeatVector, Identity.

Saving a Lambda writes Keras 3's config: a named function by name (`{"class_name": "function",
...}`), a Python lambda as `__lambda__` with its marshalled bytecode, as Keras does. Loading
never runs bytecode from a file: a `__lambda__` is refused whatever the safe mode (ValueError in
safe mode, NotImplementedError otherwise); a Lambda over named functions loads only with
`safe_mode=False`, its functions found by name in `custom_objects` or the registry.
"""

from __future__ import annotations

import codecs
import inspect
import marshal
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gpukeras import ops
from gpukeras.layers.layer import Layer
from gpukeras.saving.serialization import (
    check_safe,
    deserialize_keras_object,
    in_safe_mode,
    serialize_keras_object,
)
from gpukeras.tensor import Tensor

_LEGACY_LAMBDA_KEYS = ("function_type", "module", "output_shape_type", "output_shape_module")


def _is_python_lambda(fn: Any) -> bool:
    return isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>"


def _dump_lambda(fn: Callable) -> dict[str, Any]:
    """Keras 3's `__lambda__` entry: base64 of the marshalled code object, defaults and closure values."""
    code = codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii")
    closure = tuple(cell.cell_contents for cell in fn.__closure__) if fn.__closure__ else None
    return {"class_name": "__lambda__", "config": {"code": code, "defaults": fn.__defaults__, "closure": closure}}


def _function_config(fn: Callable) -> Any:
    return _dump_lambda(fn) if _is_python_lambda(fn) else serialize_keras_object(fn)


def _takes(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params


class Lambda(Layer):
    """Wraps `function(inputs, **arguments)` as a layer (it also gets `mask`/`training` if it takes them).

    `output_shape`: per-sample shape (tuple, batch axis added) or a function of the full input shape;
    inferred by running the function when None. `mask`: None (masks are dropped), a function
    `(inputs, mask) -> mask`, or a fixed mask tensor.
    """

    def __init__(self, function: Callable, output_shape: Any = None, mask: Any = None,
                 arguments: Mapping[str, Any] | None = None, **kwargs: Any):
        if not callable(function):
            raise ValueError(f"Lambda: `function` must be callable, got {function!r}.")
        if output_shape is not None and not callable(output_shape) and not isinstance(output_shape, (list, tuple)):
            raise ValueError(f"Lambda: `output_shape` must be a tuple, a list of tuples, a function or None, got "
                             f"{output_shape!r}.")
        if mask is not None and not callable(mask) and not isinstance(mask, Tensor):
            mask = ops.convert_to_tensor(mask)
        if arguments is not None and not isinstance(arguments, Mapping):
            raise ValueError(f"Lambda: `arguments` must be a dict or None, got {arguments!r}.")
        super().__init__(**kwargs)
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        self._output_shape = _tuple_shapes(output_shape) if isinstance(output_shape, (list, tuple)) else output_shape
        self._fn_takes_mask = _takes(function, "mask")
        self._fn_takes_training = _takes(function, "training")
        self.built = True

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None) -> Any:
        kwargs = dict(self.arguments)
        if self._fn_takes_mask:
            kwargs["mask"] = mask
        if self._fn_takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._output_shape is None:
            return self._trace_output_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = input_shape[0] if input_shape and not isinstance(input_shape[0], (list, tuple)) else \
            input_shape[0][0]
        shape = self._output_shape
        if shape and isinstance(shape[0], tuple):
            return [(batch,) + s for s in shape]
        return (batch,) + shape

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"function": _function_config(self.function)}
        if self._output_shape is not None:
            config["output_shape"] = _function_config(self._output_shape) if callable(self._output_shape) \
                else self._output_shape
        if self.mask is not None:
            config["mask"] = _function_config(self.mask) if callable(self.mask) else serialize_keras_object(self.mask)
        config["arguments"] = serialize_keras_object(self.arguments)
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Mapping[str, Any] | None = None,
                    safe_mode: bool | None = None) -> Lambda:
        """Rebuild a Lambda over named functions (only with safe mode off); a Python lambda (bytecode) is
        always refused."""
        safe = (safe_mode if safe_mode is not None else in_safe_mode()) is not False
        check_safe({"class_name": "Lambda", "config": config}, safe)
        config = {k: v for k, v in config.items() if k not in _LEGACY_LAMBDA_KEYS}
        config["function"] = _resolve_callable(config["function"], custom_objects, "function")
        if isinstance(config.get("output_shape"), Mapping):
            config["output_shape"] = _resolve_callable(config["output_shape"], custom_objects, "output_shape")
        if config.get("mask") is not None:
            mask = deserialize_keras_object(config["mask"], custom_objects, safe_mode=False)
            config["mask"] = mask
        if config.get("arguments") is not None:
            config["arguments"] = deserialize_keras_object(config["arguments"], custom_objects, safe_mode=False)
        return super().from_config(config)


def _resolve_callable(entry: Any, custom_objects: Mapping[str, Any] | None, what: str) -> Callable:
    """The function a config entry names (a Keras 3 function config, or a tf.keras 2 plain name)."""
    fn = deserialize_keras_object(entry, custom_objects, safe_mode=False)
    if not callable(fn):
        raise ValueError(f"Lambda: unknown {what} {entry!r}: pass it in `custom_objects={{'name': fn}}` or "
                         "register it with @gpukeras.saving.register_keras_serializable().")
    return fn


def _tuple_shapes(shape: Sequence[Any]) -> tuple:
    """A per-sample shape (or a list of them) as tuples."""
    if shape and all(isinstance(s, (list, tuple)) for s in shape):
        return tuple(tuple(s) for s in shape)
    return tuple(shape)


class Permute(Layer):
    """Reorders the non-batch axes: `dims` is a permutation of 1..rank-1 (e.g. (2, 1) swaps two axes)."""

    def __init__(self, dims: Sequence[int], **kwargs: Any):
        if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Invalid permutation argument `dims` for Permute Layer. The set of indices in `dims` "
                             f"must be consecutive and start from 1. Received dims={dims!r}")
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)

    def build(self, input_shape: Any) -> None:
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(f"Permute {self.name!r} with dims={self.dims} expects inputs of rank "
                             f"{len(self.dims) + 1}, got shape {tuple(input_shape)}.")
        self.built = True

    def call(self, inputs: Any) -> Any:
        return ops.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): the input repeated n times."""

    def __init__(self, n: int, **kwargs: Any):
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        super().__init__(**kwargs)
        self.n = n

    def build(self, input_shape: Any) -> None:
        if len(input_shape) != 2:
            raise ValueError(f"RepeatVector {self.name!r} expects inputs of shape (batch, features), got "
                             f"{tuple(input_shape)}.")
        self.built = True

    def call(self, inputs: Any) -> Any:
        row = ops.expand_dims(inputs, 1)
        return ops.concatenate([row] * self.n, axis=1)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


class Identity(Layer):
    """Returns its inputs (and their masks) unchanged: a placeholder layer."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape
