"""keras.models.clone_model: the same architecture with new layers (and so new weights).

Sequential and functional models are rebuilt layer by layer: each layer is cloned with
`clone_function` (default: `layer.__class__.from_config(layer.get_config())`, fresh weights) and
a functional graph is replayed call by call (`call_function` may wrap each call). A layer used
several times is cloned once, so sharing survives. `recursive=True` clones nested Sequential and
functional models with the same rules instead of passing them to `clone_function`. Other models
are rebuilt from their config. A compiled model's clone is compiled the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from gpukeras.keras_tensor import KerasTensor
from gpukeras.layers.input_layer import Input, InputLayer
from gpukeras.layers.layer import Layer
from gpukeras.models.functional import Functional
from gpukeras.models.sequential import Sequential
from gpukeras.saving.serialization import deserialize_keras_object, serialize_keras_object
from gpukeras.tree import flatten, map_structure

_FUNCTIONAL_ARGUMENTS = ["inputs", "outputs", "name"]  # Keras's Functional.__init__ positional arguments


def clone_model(model: Any, input_tensors: Any = None, clone_function: Callable[[Layer], Layer] | None = None,
                call_function: Callable[..., Any] | None = None, recursive: bool = False, **kwargs: Any) -> Any:
    """A new model with the architecture of `model` and new layers (Keras 3's clone_model).

    `input_tensors`: Input tensors to build on (one for a Sequential model; the structure of
    `model.inputs` for a functional one) instead of new ones. `clone_function(layer) -> layer`: how
    each layer is copied (return the layer itself to share it). `call_function(layer, *args,
    **kwargs)`: how each cloned layer is called in a functional graph (to insert layers around it).
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {tuple(kwargs)}")
    if clone_function is not None and not callable(clone_function):
        raise ValueError(f"Expected `clone_function` argument to be a callable. Received: "
                         f"clone_function={clone_function!r}")
    if call_function is not None and not callable(call_function):
        raise ValueError(f"Expected `call_function` argument to be a callable. Received: "
                         f"call_function={call_function!r}")
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError("`call_function` argument is not supported with Sequential models. In a Sequential "
                             "model, layers aren't called at model-construction time (they're merely listed). Use "
                             f"`call_function` with Functional models only. Received model of type "
                             f"'{type(model).__name__}', with call_function={call_function}")
        wrapped = _wrap_clone_function(clone_function, None, recursive, cache)
        return _clone_sequential(model, wrapped, input_tensors)
    if isinstance(model, Functional):
        wrapped = _wrap_clone_function(clone_function, call_function, recursive, cache)
        return _clone_functional(model, wrapped, call_function, input_tensors)
    if clone_function is not None or input_tensors is not None:
        raise ValueError("Arguments `clone_function` and `input_tensors` are only supported for Sequential models "
                         f"or Functional models. Received model of type '{type(model).__name__}', with "
                         f"clone_function={clone_function} and input_tensors={input_tensors}")
    if call_function is not None:
        raise ValueError("Argument `call_function` is only supported for Functional models. Received model of "
                         f"type '{type(model).__name__}', with call_function={call_function}")
    return _clone_from_config(model)


def _default_clone(layer: Layer) -> Layer:
    """A new layer with the same config (and new weights)."""
    return type(layer).from_config(layer.get_config())


def _wrap_clone_function(clone_function: Callable | None, call_function: Callable | None, recursive: bool,
                         cache: dict[int, Any] | None) -> Callable[[Layer], Layer]:
    """`clone_function` made to clone each layer once (shared layers stay shared) and, when `recursive`,
    to clone nested Sequential/functional models with clone_model itself."""
    clone = clone_function or _default_clone
    cache = {} if cache is None else cache

    def wrapped(layer: Layer) -> Layer:
        if id(layer) in cache:
            return cache[id(layer)]
        if recursive and isinstance(layer, Sequential):
            out = clone_model(layer, clone_function=clone, recursive=True, cache=cache)
        elif recursive and isinstance(layer, Functional):
            out = clone_model(layer, clone_function=clone, call_function=call_function, recursive=True,
                              cache=cache)
        else:
            out = clone(layer)
        cache[id(layer)] = out
        return out

    return wrapped


def _clone_sequential(model: Sequential, clone: Callable[[Layer], Layer], input_tensors: Any) -> Sequential:
    """The layers cloned in order, on a new Input of the same shape (or on `input_tensors`)."""
    new_layers: list[Any] = [clone(layer) for layer in model.layers]
    source = model._input_layer
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError("Argument `input_tensors` must contain a single tensor.")
            input_tensors = input_tensors[0]
        if not isinstance(input_tensors, KerasTensor):
            raise ValueError(f"Argument `input_tensors` must be a KerasTensor. Received invalid value: "
                             f"input_tensors={input_tensors}")
        new_layers.insert(0, _input_of(input_tensors))
    elif source is not None:
        new_layers.insert(0, Input(batch_shape=source.batch_shape, dtype=source.dtype, name=source.name))
    cloned = Sequential(new_layers, name=model.name, trainable=model.trainable)
    _copy_compile(model, cloned)
    return cloned


def _input_of(tensor: KerasTensor) -> KerasTensor:
    """`tensor` when an Input made it (gpukeras graphs start at Inputs only), else a clear refusal."""
    if tensor.node is None or not isinstance(tensor.node.layer, InputLayer):
        raise ValueError(f"`input_tensors` must come from keras.Input(...): gpukeras models start at Input "
                         f"tensors, got {tensor} made by {type(tensor.node.layer).__name__ if tensor.node else None}.")
    return tensor


def _clone_functional(model: Functional, clone: Callable[[Layer], Layer], call_function: Callable | None,
                      input_tensors: Any) -> Functional:
    """The graph replayed on new Inputs (or `input_tensors`), each layer call made on the layer's clone."""
    if input_tensors is not None:
        if not all(isinstance(t, KerasTensor) for t in flatten(input_tensors)):
            raise ValueError(f"All entries in `input_tensors` must be KerasTensors. Received invalid values: "
                             f"inputs_tensors={input_tensors}")
        if not _same_structure(input_tensors, model._inputs_struct):
            raise ValueError(f"`input_tensors` must have the same structure as model.input\nReference structure: "
                             f"{model._inputs_struct}\nReceived structure: {input_tensors}")
        for t in flatten(input_tensors):
            _input_of(t)
    else:
        input_tensors = map_structure(lambda t: Input(batch_shape=t.shape, dtype=t.dtype, name=t.name),
                                      model._inputs_struct)
    computed = {id(old): new for old, new in zip(flatten(model._inputs_struct), flatten(input_tensors))}

    def swap(value: Any) -> Any:
        return computed[id(value)] if isinstance(value, KerasTensor) else value

    for node in model._nodes:
        if isinstance(node.layer, InputLayer):
            continue
        layer = clone(node.layer)
        inputs = map_structure(swap, node.inputs)
        args = tuple(map_structure(swap, a) for a in node.args)
        kwargs = {k: map_structure(swap, v) for k, v in node.kwargs.items()}
        outputs = call_function(layer, inputs, *args, **kwargs) if call_function else layer(inputs, *args, **kwargs)
        for old, new in zip(flatten(node.outputs), flatten(outputs)):
            computed[id(old)] = new
    outputs = map_structure(lambda t: computed[id(t)], model._outputs_struct)
    cls = type(model) if _functional_like_constructor(type(model)) else Functional
    cloned = cls(input_tensors, outputs, name=model.name)
    _copy_compile(model, cloned)
    return cloned


def _functional_like_constructor(cls: type) -> bool:
    """Whether `cls(inputs, outputs, name=...)` is how the class is built (Keras's test on the signature)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return names == _FUNCTIONAL_ARGUMENTS


def _same_structure(a: Any, b: Any) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and sorted(a) == sorted(b) and all(
            _same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b)
                and all(_same_structure(x, y) for x, y in zip(a, b)))
    return True


def _clone_from_config(model: Any) -> Any:
    """A subclassed model rebuilt from its own config (what `get_config`/`from_config` give), built and
    compiled like the original."""
    config = serialize_keras_object(model)
    return deserialize_keras_object(config, custom_objects={type(model).__name__: type(model)})


def _copy_compile(model: Any, cloned: Any) -> None:
    if getattr(model, "compiled", False):
        cloned.compile_from_config(model.get_compile_config())
