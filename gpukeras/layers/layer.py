"""The Layer base class: weights, build-on-first-call, nested tracking, config and saving round-trips.

A layer is also what a saved file is made of (Keras 3's protocol, walked by gpukeras.saving):
`get_config`/`from_config` give its constructor arguments, `get_build_config`/`build_from_config`
its input shape, `save_own_variables`/`load_own_variables` its weights, and `_saveable_children`
the sub-layers stored under it, by the attribute that holds them.
"""

from __future__ import annotations

import functools
import inspect
import threading
import warnings
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras import constraints, dtype_policies, initializers, ops, regularizers, tree
from gpukeras.autodiff import stop_recording
from gpukeras.keras_tensor import CallNode, KerasTensor, any_symbolic
from gpukeras.layers.config_compat import LAYER_EXTRA_KWARGS, normalize_config
from gpukeras.layers.input_spec import check_input_spec
from gpukeras.naming import to_snake_case
from gpukeras.ops.core import to_backend_array
from gpukeras.tensor import Tensor, Variable, assignment_batch, get_keras_mask, set_keras_mask
from gpukeras.tree import listify_shapes, map_shapes, map_structure, tuplify_shapes

_name_counts: dict[str, int] = {}


def _reset_names() -> None:
    _name_counts.clear()


_backend.on_clear_session(_reset_names)


def unique_name(prefix: str) -> str:
    """prefix, prefix_1, prefix_2, ... per session, as Keras names layers."""
    n = _name_counts.get(prefix, 0)
    _name_counts[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


# ---------------------------------------------------------------------- the framework's own attributes
_framework_attrs: dict[type, frozenset[str]] = {}
_building_reference = False


def framework_attributes(cls: type) -> frozenset[str]:
    """Names the framework itself gives instances of `cls`: tracking and saving never treat them as
    the user's sub-layers.

    Derived, not listed: every name a fresh instance of the nearest framework base (the classes
    defining `_reference_instance`: Layer, Model, Sequential, Functional) has, so a cache the
    framework adds later is skipped without anyone remembering to list it.
    """
    found = _framework_attrs.get(cls)
    if found is None:
        base = next(c for c in cls.__mro__ if "_reference_instance" in c.__dict__)
        found = _framework_attrs.get(base)
        if found is None:
            global _building_reference
            _building_reference = True
            try:
                found = frozenset(dir(base._reference_instance()))
            finally:
                _building_reference = False
            _framework_attrs[base] = found
        _framework_attrs[cls] = found
    return found


def layers_in(value: Any) -> list[Layer]:
    """The layers held by an attribute value: the value itself, or those inside a list, tuple or dict."""
    if isinstance(value, Layer):
        return [value]
    if isinstance(value, (list, tuple)):
        return [layer for item in value for layer in layers_in(item)]
    if isinstance(value, dict):
        return [layer for item in value.values() for layer in layers_in(item)]
    return []


def attach_masks(values: list[Any], masks: Any) -> None:
    """Attach `masks` (one per value, None entries skipped) to the model inputs `values` (Keras's
    Functional.call does the same with the `mask` argument)."""
    if masks is None:
        return
    masks = masks if isinstance(masks, (list, tuple)) else [masks]
    if len(masks) != len(values):
        raise ValueError(f"Got {len(masks)} masks for {len(values)} inputs.")
    for value, mask in zip(values, masks):
        if mask is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"A mask can only be attached to a Tensor input, got {type(value).__name__}.")
            set_keras_mask(value, mask)


def _private_last(name: str) -> str:
    return f"~{name}" if name.startswith("_") else name


class Layer:
    """Base of every layer: subclasses validate in __init__, make weights in build, compute in call."""

    # True for the operation nodes keras.ops calls on symbolic tensors record (layers/operation.py): graph
    # nodes that Keras 3 lists in a model's `operations` but not in its `layers`.
    graph_operation = False
    # An InputSpec (or a list of them) that every call's inputs must meet; None: no check.
    input_spec: Any = None

    def __init__(self, trainable: bool = True, name: str | None = None, dtype: Any = None,
                 autocast: bool = True, input_dim: int | None = None, input_shape: Any = None,
                 batch_input_shape: Any = None, batch_size: int | None = None, **kwargs: Any):
        unknown = set(kwargs) - LAYER_EXTRA_KWARGS
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): {sorted(unknown)}.")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Layer name must be a string, got {name!r}.")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.dtype_policy = dtype_policies.get(dtype)
        self.autocast = bool(autocast)
        self._no_autocast: set[int] = set()  # weights made with autocast=False (BatchNormalization's)
        self.built = False
        self._supports_masking = type(self).compute_mask is not Layer.compute_mask
        self._warned_mask_dropped = False
        self._variables: list[Variable] = []
        self._always_frozen: set[int] = set()  # weights created with trainable=False (e.g. moving stats)
        self._layers: list[Layer] = []
        self._losses: list[Tensor] = []
        self._build_shape: Any = None
        self._inbound_nodes: list[CallNode] = []  # symbolic calls, first first (`input`/`output`)
        self.activity_regularizer = regularizers.get(kwargs.get("activity_regularizer"))
        self._initial_weights = kwargs.get("weights")
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
            batch_size = tuple(batch_input_shape)[0]
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._declared_input_shape = tuple(input_shape) if input_shape is not None else None
        self._declared_batch_size = batch_size

    @staticmethod
    def _reference_instance() -> Layer:
        """A bare layer: its attribute names are the framework's (see `framework_attributes`)."""
        return Layer(name="reference")

    # ------------------------------------------------------------------ dtypes
    @property
    def dtype_policy(self) -> dtype_policies.DTypePolicy:
        """The layer's DTypePolicy: `compute_dtype` for its computations, `variable_dtype` (= `dtype`) for
        its weights."""
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value: Any) -> None:
        policy = dtype_policies.get(value)
        self._dtype_policy = policy
        self.dtype = policy.variable_dtype  # plain attributes: read on every call
        self.compute_dtype = policy.compute_dtype
        self.variable_dtype = policy.variable_dtype
        self._mixed = policy.is_mixed

    # ------------------------------------------------------------------ tracking
    def __setattr__(self, name: str, value: Any) -> None:
        """Track sub-layers assigned to attributes (alone or in lists, tuples and dicts), as Keras does."""
        if not _building_reference and "_layers" in self.__dict__:
            held = layers_in(value)
            if held and name not in framework_attributes(type(self)):
                for layer in held:
                    if all(layer is not known for known in self._layers):
                        self._layers.append(layer)
        super().__setattr__(name, value)

    # ------------------------------------------------------------------ weights
    def add_weight(self, shape: Sequence[int] | None = None, initializer: Any = "glorot_uniform",
                   dtype: Any = None, trainable: bool = True, regularizer: Any = None,
                   constraint: Any = None, name: str | None = None, autocast: bool = True,
                   **kwargs: Any) -> Variable:
        """Create, initialize and track a weight of this layer (in `variable_dtype` unless `dtype` is given;
        `autocast=False` keeps it in that dtype inside calls under a mixed policy)."""
        shape = tuple(int(d) for d in (shape or ()))
        init = initializers.get(initializer)
        name = name or f"variable_{len(self._variables)}"
        dtype = dtype or self.variable_dtype
        var = Variable(init(shape, dtype=dtype), shape=shape, dtype=dtype,
                       trainable=trainable and self._trainable, name=name, path=f"{self.name}/{name}")
        var.regularizer = regularizers.get(regularizer)
        var.constraint = constraints.get(constraint)
        if not trainable:
            self._always_frozen.add(id(var))
        if not autocast:
            self._no_autocast.add(id(var))
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
        with assignment_batch() as batch:
            for var, value in zip(own, weights):
                var.assign(value)
        batch.commit()

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
        if self.input_spec is not None:
            check_input_spec(self.input_spec, inputs, self.name)
        if type(inputs) is not Tensor and any_symbolic(inputs):
            return self._symbolic_call(inputs, args, kwargs)
        context = _call_context.current
        if context is None:
            context = _call_context.current = _CallContext(self)
        try:
            return self._concrete_call(context, inputs, args, kwargs)
        finally:
            if context.entry is self:
                _call_context.current = None

    def _concrete_call(self, context: _CallContext, inputs: Any, args: tuple, kwargs: dict) -> Any:
        cls = type(self)
        _resolve_training(cls, context, args, kwargs)
        if type(inputs) is not Tensor:
            inputs = _to_tensors(inputs)
        previous_mask = mask_of(inputs)
        if self.autocast:
            inputs = _autocast(inputs, self.compute_dtype, previous_mask)
        if not self.built:
            self._build_for(_shapes_of(inputs))
        if self._losses:
            self._losses = []
        if previous_mask is not None or kwargs:
            previous_mask = self._pass_masks(previous_mask, kwargs)
        if self._mixed and self.autocast:
            outputs = self._call_autocast(inputs, args, kwargs)
        else:
            outputs = self.call(inputs, *args, **kwargs)
        if self.activity_regularizer is not None:
            for out in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
                self._losses.append(_activity_loss(self.activity_regularizer, out))
        if previous_mask is not None or self._computes_mask():
            self._set_output_masks(inputs, outputs, previous_mask)
        return outputs

    def _call_autocast(self, inputs: Any, args: tuple, kwargs: dict) -> Any:
        """`call` with this layer's float variables read in the compute dtype (Keras 3's autocast scope
        under a mixed policy): each attribute holding one is given a differentiable cast for the call's
        duration, so gradients still reach the float32 variable."""
        swapped = []
        for attr, value in vars(self).items():
            if type(value) is Variable and id(value) not in self._no_autocast and value.data.dtype.kind == "f" \
                    and value.dtype != self.compute_dtype:
                swapped.append((attr, value))
        for attr, var in swapped:
            object.__setattr__(self, attr, ops.cast(var, self.compute_dtype))
        try:
            outputs = self.call(inputs, *args, **kwargs)
        finally:
            for attr, var in swapped:
                object.__setattr__(self, attr, var)
        if self.compute_dtype == "bfloat16" and not self._layers:
            # NumPy's bfloat16 matmul (ml_dtypes) answers in float32; Keras 3's bfloat16 layers answer in
            # bfloat16. Only leaf layers: a model's float32 head layer keeps its float32 output.
            outputs = _autocast(outputs, self.compute_dtype)
        return outputs

    # ------------------------------------------------------------------ masking (Keras 3's rules)
    @property
    def supports_masking(self) -> bool:
        """Whether outputs carry `compute_mask`'s mask (default: the input's) to the layers downstream."""
        return self._supports_masking

    @supports_masking.setter
    def supports_masking(self, value: bool) -> None:
        self._supports_masking = bool(value)

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        """The mask of this layer's outputs; the default passes the input's mask through."""
        return previous_mask

    def _computes_mask(self) -> bool:
        """Whether this layer makes masks of its own (it overrides compute_mask, e.g. Embedding)."""
        return self._supports_masking and type(self).compute_mask is not Layer.compute_mask

    def _pass_masks(self, previous_mask: Any, kwargs: dict) -> Any:
        """Give `call` the input's mask (and `<arg>_mask` for tensor keyword arguments) when it takes
        one and none was passed; returns the mask the outputs' mask is computed from."""
        cls = type(self)
        if kwargs.get("mask") is None and previous_mask is not None and method_takes(cls, "call", "mask"):
            kwargs["mask"] = previous_mask
        for name, value in list(kwargs.items()):
            arg_mask = f"{name}_mask"
            if kwargs.get(arg_mask) is None and isinstance(value, Tensor) and method_takes(cls, "call", arg_mask):
                found = get_keras_mask(value)
                if found is not None:
                    kwargs[arg_mask] = found
        return kwargs.get("mask") if kwargs.get("mask") is not None else previous_mask

    def _set_output_masks(self, inputs: Any, outputs: Any, previous_mask: Any) -> None:
        """Attach `compute_mask`'s masks to outputs that have none; warn once when a mask is dropped."""
        if not self._supports_masking:
            if not self._warned_mask_dropped:
                self._warned_mask_dropped = True
                warnings.warn(f"Layer {self.name!r} ({type(self).__name__}) does not support masking, but was "
                              "passed an input with a mask attached to it: downstream layers will not see the "
                              "mask.", stacklevel=3)
            return
        flat = tree.flatten(outputs)
        if all(get_keras_mask(t) is not None for t in flat if isinstance(t, Tensor)):
            return
        masks = self.compute_mask(inputs, previous_mask)
        if masks is None:
            return
        for out, mask in zip(flat, tree.flatten(masks) if isinstance(masks, (list, tuple)) else [masks] * len(flat)):
            if isinstance(out, Tensor) and mask is not None and get_keras_mask(out) is None:
                set_keras_mask(out, mask)

    def _symbolic_call(self, inputs: Any, args: tuple, kwargs: dict) -> Any:
        """Call on KerasTensors: build, infer the output shapes, record the node of the functional graph."""
        shapes = map_structure(lambda t: t.shape, inputs)
        if not self.built:
            self._build_for(shapes)
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            out_shapes = self.compute_output_shape(shapes)
        else:
            out_shapes = self._trace_output_shape(shapes, args, kwargs)
        node = CallNode(self, inputs, args, kwargs, None)
        outputs = map_shapes(lambda s: KerasTensor(s, self.compute_dtype, name=self.name, node=node), out_shapes)
        node.outputs = outputs
        self._inbound_nodes.append(node)
        return outputs

    @property
    def input(self) -> Any:
        """The input tensor(s) of this layer's first symbolic call (a list when it read several)."""
        return _single(self._first_node("input").input_tensors())

    @property
    def output(self) -> Any:
        """The output tensor(s) of this layer's first symbolic call (a list when it made several)."""
        return _single(tree.flatten(self._first_node("output").outputs))

    def _first_node(self, what: str) -> CallNode:
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name!r} has not been called on symbolic inputs (keras.Input), "
                                 f"so it has no {what} tensor yet.")
        return self._inbound_nodes[0]

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape for `input_shape`; the default traces `call` on a small zero batch."""
        return self._trace_output_shape(input_shape)

    def _trace_output_shape(self, input_shape: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        """Run `call` on a zero batch of size 2 to learn the output shape(s)."""
        zeros = _backend.active.zeros

        def dummy(shape: tuple, dtype: str) -> Tensor:
            return Tensor(zeros(tuple(2 if d is None else d for d in shape), dtype=dtype))

        def concrete(x: Any) -> Any:  # KerasTensors among the other arguments (e.g. initial_state)
            return dummy(x.shape, x.dtype) if isinstance(x, KerasTensor) else x

        dummies = map_shapes(lambda s: dummy(s, self.compute_dtype), input_shape)
        args = map_structure(concrete, tuple(args))
        kwargs = {k: map_structure(concrete, v) for k, v in (kwargs or {}).items()}
        with stop_recording():
            saved = self._losses
            out = self.call(dummies, *args, **kwargs)
            self._losses = saved
        return map_structure(lambda t: (None,) + tuple(t.shape[1:]), out)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        policy = self._dtype_policy
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": dtype_policies.serialize(policy) if policy.is_mixed else self.dtype}
        if self._declared_input_shape is not None:
            config["batch_input_shape"] = (self._declared_batch_size,) + self._declared_input_shape
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """The layer `get_config` describes (configs written by Keras 3.x and tf.keras 2 too)."""
        try:
            return cls(**normalize_config(cls, config, Layer))
        except TypeError as e:
            raise TypeError(f"{cls.__name__} could not be rebuilt from its config: {e}") from e

    # ------------------------------------------------------------------ saving (Keras 3's protocol)
    def get_build_config(self) -> dict[str, Any] | None:
        """`{"input_shape": ...}` once built, so loading can create the weights before filling them."""
        if self._build_shape is None:
            return None
        return {"input_shape": listify_shapes(self._build_shape)}

    def build_from_config(self, config: Mapping[str, Any]) -> None:
        """Create the weights for the input shape `get_build_config` recorded."""
        shape = (config or {}).get("input_shape")
        if shape is not None:
            self._build_for(tuplify_shapes(shape))

    def _own_saved_variables(self) -> list[Variable]:
        """This layer's own variables in Keras 3's saved order: those created trainable first."""
        frozen = self._always_frozen
        return [v for v in self._variables if id(v) not in frozen] + [v for v in self._variables if id(v) in frozen]

    def save_own_variables(self, store: MutableMapping[str, Any]) -> None:
        """Write this layer's own variables (not its sub-layers') as store["0"], store["1"], ..."""
        for i, var in enumerate(self._own_saved_variables()):
            store[str(i)] = var.numpy()

    def load_own_variables(self, store: Mapping[str, Any]) -> None:
        """Assign store["0"], store["1"], ... to this layer's own variables (shapes are checked)."""
        variables = self._own_saved_variables()
        if len(store) != len(variables):
            if not variables and not self.built:
                raise ValueError(f"Layer {self.name!r} is not built, so it has no variables yet, but the file "
                                 f"holds {len(store)} for it. Build it before loading (call it on data, or give "
                                 "the model an Input).")
            raise ValueError(f"Layer {self.name!r} expects {len(variables)} variables "
                             f"{[v.name for v in variables]}, but the file holds {len(store)}.")
        for i, var in enumerate(variables):
            var.assign(store[str(i)])

    def _saveable_children(self) -> Iterator[tuple[str, Any]]:
        """(attribute, sub-layer or container of sub-layers) pairs a saved file nests under this layer,
        public attributes first, then private ones, each group alphabetically (Keras 3's order)."""
        skip = framework_attributes(type(self))
        attrs = vars(self)
        for attr in sorted(attrs, key=_private_last):
            if attr not in skip and not attr.startswith("__") and layers_in(attrs[attr]):
                yield attr, attrs[attr]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class _CallContext:
    """What a layer call shares with every layer call nested inside it (Keras 3's CallContext): the
    `training` value, so that a Dropout inside a custom layer whose `call` takes no `training` still
    knows the model is training."""

    __slots__ = ("entry", "training")

    def __init__(self, entry: Layer):
        self.entry = entry  # the outermost layer; its call ends the context
        self.training: bool | None = None


_call_context = threading.local()
_call_context.current = None


def _resolve_training(cls: type, context: _CallContext, args: tuple, kwargs: dict) -> None:
    """Keras 3's order for `training`: passed to this call, else the enclosing call's, else the default
    in `call`'s signature. The value is left in the context for the calls nested inside (as Keras does,
    an explicit value there also holds for the calls after it), and given to `call` when it takes it."""
    position = _training_position(cls)
    if "training" in kwargs:
        training = kwargs["training"]
    elif position is not None and len(args) > position:
        training = args[position]
    elif context.training is not None:
        training = context.training
    else:
        training = _training_default(cls)
    context.training = training
    if not method_takes(cls, "call", "training"):
        kwargs.pop("training", None)  # Keras passes `training` only to calls that take it
    elif training is not None and (position is None or len(args) <= position):
        kwargs["training"] = training


@functools.cache
def _training_position(cls: type) -> int | None:
    """Where `training` falls among the arguments after the inputs of `cls.call`, if it can be positional."""
    params = list(inspect.signature(cls.call).parameters.values())[2:]
    for i, p in enumerate(params):
        if p.name == "training":
            return i if p.kind is p.POSITIONAL_OR_KEYWORD else None
    return None


@functools.cache
def _training_default(cls: type) -> bool | None:
    """The default of `training` in `cls.call`'s signature (None when it has none)."""
    param = inspect.signature(cls.call).parameters.get("training")
    return None if param is None or param.default is param.empty else param.default


@functools.cache
def method_takes(cls: type, method: str, argument: str) -> bool:
    """Whether `cls.<method>` takes `argument` by name (or **kwargs); cached per class."""
    params = inspect.signature(getattr(cls, method)).parameters
    return argument in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


_FLOAT_SIZES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


def _activity_loss(regularizer: Any, output: Any) -> Any:
    """The activity penalty of one output over its batch size (Keras 3.15: the same strength at any batch
    size; a scalar output is not divided, an empty batch gives 0)."""
    loss = regularizer(output)
    if getattr(output, "ndim", 0) == 0:
        return loss
    batch = output.shape[0]
    return ops.divide(loss, float(batch)) if batch else ops.multiply(loss, 0.0)


def mask_of(x: Any) -> Any:
    """The mask attached to a Tensor, or the list of masks of a list of Tensors (None when none has one)."""
    if type(x) is Tensor:
        return getattr(x, "_keras_mask", None)
    if isinstance(x, (list, tuple)):
        masks = [mask_of(v) for v in x]
        return masks if any(m is not None for m in masks) else None
    return None


def _autocast(x: Any, dtype: str, mask: Any = None) -> Any:
    """Float inputs of another float dtype (float64, float16) cast to the layer's dtype, as Keras's
    autocast does, keeping their mask; integer inputs are left alone. (Compares kind and size:
    dtype.name is slow.)"""
    if type(x) is Tensor:
        data_dtype = x.data.dtype
        if data_dtype.kind != "f" and data_dtype.name != "bfloat16" or \
                data_dtype.itemsize == _FLOAT_SIZES.get(dtype, data_dtype.itemsize):
            return x
        out = ops.cast(x, dtype)
        mask = mask if mask is not None else getattr(x, "_keras_mask", None)
        if mask is not None:
            set_keras_mask(out, mask)
        return out
    if isinstance(x, (list, tuple)):
        masks = mask if isinstance(mask, (list, tuple)) else [None] * len(x)
        return type(x)(_autocast(v, dtype, m) for v, m in zip(x, masks))
    if isinstance(x, dict):
        return {k: _autocast(v, dtype) for k, v in x.items()}
    return x


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


def _single(values: list[Any]) -> Any:
    """One tensor as itself, several as a list (Keras's `input`/`output`)."""
    return values[0] if len(values) == 1 else values
