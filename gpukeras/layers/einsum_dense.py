"""EinsumDense: activation(einsum(equation, inputs, kernel) + bias), Keras 3's weights and layouts.

The kernel's shape comes from the equation (its letters sized by the input or by `output_shape`);
the bias covers the output axes named in `bias_axes`, from the first of them to the end, size 1
on the others. When the equation is a plain dense product in disguise (the input's trailing axes
contracted with the kernel's leading ones, output = input's leading axes + kernel's trailing
axes, as in every MultiHeadAttention projection) the layer runs one fused `ops.dense` on
reshaped views; otherwise `ops.einsum`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple

from gpukeras import activations, constraints, initializers, ops, regularizers
from gpukeras.layers.layer import Layer
from gpukeras.ops.einsum import einsum
from gpukeras.tensor import Variable

_FORMS = (  # (pattern, where the '...' is): Keras 3's three accepted equation shapes
    (re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)"), None),
    (re.compile(r"\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)"), "left"),
    (re.compile(r"([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\."), "right"),
)


class EinsumPlan(NamedTuple):
    """What an equation means for one input shape."""

    kernel_shape: tuple[int, ...]
    bias_shape: tuple[int, ...] | None
    output_shape: tuple[int | None, ...]
    input_axes: tuple[int, ...]  # kernel axes sized by the input (its fan-in)
    output_axes: tuple[int, ...]  # kernel axes sized by the output (its fan-out)


def split_equation(equation: str) -> tuple[str, str, str, str | None]:
    """(input spec, kernel spec, output spec, where '...' is: None / "left" / "right"), or ValueError."""
    if isinstance(equation, str):
        for pattern, elided in _FORMS:
            found = pattern.fullmatch(equation.replace(" ", ""))
            if found:
                return found.group(1), found.group(2), found.group(3), elided
    raise ValueError(f"Invalid einsum equation {equation!r}. Equations must be in the form [X],[Y]->[Z], "
                     "...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")


def plan_einsum(equation: str, bias_axes: str | None, input_shape: Sequence[int | None],
                partial_output_shape: Sequence[int | None]) -> EinsumPlan:
    """Kernel, bias and output shapes of `equation` for `input_shape` (Keras 3's rules)."""
    input_spec, kernel_spec, output_spec, elided_side = split_equation(equation)
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(input_spec)
    if elided < 0 or (elided and elided_side is None):
        raise ValueError(f"EinsumDense {equation!r}: input of rank {len(input_shape)} does not fit "
                         f"input subscripts {input_spec!r}.")
    left = elided if elided_side == "left" else 0
    out = [input_shape[0], *partial_output_shape]
    if elided_side == "left":
        out[1:1] = input_shape[1:elided]
    elif elided_side == "right":
        out += input_shape[len(input_shape) - elided:]
    input_pos = {c: i + left for i, c in enumerate(input_spec)}
    output_pos = {c: i + left for i, c in enumerate(output_spec)}
    for c in output_spec:
        if c not in input_spec and c not in kernel_spec:
            raise ValueError(f"Dimension {c!r} was specified in the output {output_spec!r} but has no "
                             f"corresponding dim in the input spec {input_spec!r} or weight spec {kernel_spec!r}.")
    for c, i in input_pos.items():
        if c in output_pos:
            want, have = out[output_pos[c]], input_shape[i]
            if want is not None and have is not None and want != have:
                raise ValueError(f"Input shape and output shape do not match at shared dimension {c!r}. Input "
                                 f"shape is {have}, and output shape is {want}.")
            if want is None:
                out[output_pos[c]] = have
    kernel_shape, input_axes, output_axes = [], [], []
    for axis, c in enumerate(kernel_spec):
        if c in output_pos:
            kernel_shape.append(out[output_pos[c]])
            output_axes.append(axis)
        elif c in input_pos:
            kernel_shape.append(input_shape[input_pos[c]])
            input_axes.append(axis)
        else:
            raise ValueError(f"Weight dimension {c!r} did not have a match in either the input spec "
                             f"{input_spec!r} or the output spec {output_spec!r}. For this layer, the weight "
                             "must be fully specified.")
    if any(d is None for d in kernel_shape):
        raise ValueError(f"EinsumDense {equation!r}: the kernel shape {tuple(kernel_shape)} has unknown "
                         f"dimensions for input shape {input_shape}; give them in `output_shape`.")
    bias_shape = None
    if bias_axes:
        first = min(output_spec.index(c) for c in bias_axes)
        bias_shape = tuple(out[output_pos[c]] if c in bias_axes else 1 for c in output_spec[first:])
        if elided_side == "right":
            bias_shape += (1,) * elided
    return EinsumPlan(tuple(kernel_shape), bias_shape, tuple(out), tuple(input_axes), tuple(output_axes))


def dense_form(equation: str, plan: EinsumPlan) -> tuple[int, int, int] | None:
    """(contracted axes, contracted size, kernel free size) when `equation` is x @ kernel on reshaped views with a
    bias over the whole kernel-free part (or none); None otherwise."""
    input_spec, kernel_spec, output_spec, elided_side = split_equation(equation)
    if elided_side == "right":
        return None
    contracted = [c for c in input_spec if c in kernel_spec and c not in output_spec]
    n = len(contracted)
    input_free, kernel_free = input_spec[:len(input_spec) - n], kernel_spec[n:]
    if (not n or input_spec[len(input_spec) - n:] != "".join(contracted) or kernel_spec[:n] != "".join(contracted)
            or output_spec != input_free + kernel_free):
        return None
    free_shape = plan.kernel_shape[n:]
    if plan.bias_shape is not None and tuple(plan.bias_shape) != tuple(free_shape):
        return None
    return n, math.prod(plan.kernel_shape[:n]), math.prod(free_shape)


class EinsumDense(Layer):
    """A dense layer computed by an einsum `equation` (Keras 3's `layers.EinsumDense`).

    `output_shape` gives the output's sizes without the batch axis and the '...' axes (None where
    the input fixes it); `bias_axes` names the output letters that get a bias. With `lora_rank`
    the kernel is frozen and `lora_kernel_a` (kernel.shape[:-1] + (rank,)) @ `lora_kernel_b`
    (rank, kernel.shape[-1]), scaled by lora_alpha / lora_rank, is trained instead.
    """

    def __init__(self, equation: str, output_shape: Any, activation: Any = None, bias_axes: str | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: int | None = None, lora_alpha: float | None = None,
                 gptq_unpacked_column_size: int | None = None, quantization_config: Any = None, **kwargs: Any):
        _, _, output_spec, _ = split_equation(equation)
        partial = _partial_output_shape(output_shape)
        if bias_axes is not None:
            if not isinstance(bias_axes, str):
                raise ValueError(f"EinsumDense: `bias_axes` must be a string of output letters, got {bias_axes!r}.")
            for c in bias_axes:
                if c not in output_spec:
                    raise ValueError(f"Bias dimension {c!r} was requested, but is not part of the output spec "
                                     f"{output_spec!r}")
        if lora_rank is not None and (isinstance(lora_rank, bool) or not isinstance(lora_rank, int)
                                      or lora_rank <= 0):
            raise ValueError(f"EinsumDense: `lora_rank` must be a positive integer or None, got {lora_rank!r}.")
        if quantization_config is not None or gptq_unpacked_column_size is not None:
            raise NotImplementedError("EinsumDense: quantization (quantization_config, gptq_unpacked_column_size) "
                                      "is not supported by gpukeras.")
        super().__init__(**kwargs)
        self.equation = equation
        self.partial_output_shape = partial
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self._fused = activations.fused_primitive(self.activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False
        self.bias: Variable | None = None
        self._kernel: Variable | None = None
        self._dense: tuple[int, int, int] | None = None

    def build(self, input_shape: Any) -> None:
        plan = plan_einsum(self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        self._kernel = self.add_weight(plan.kernel_shape, _fan_aware(self.kernel_initializer, plan), name="kernel",
                                       regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if plan.bias_shape is not None:
            self.bias = self.add_weight(plan.bias_shape, self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self._dense = dense_form(self.equation, plan)
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank, lora_alpha=self.lora_alpha)

    @property
    def kernel(self) -> Any:
        """The kernel Variable; with LoRA on, the merged kernel (a Tensor the factors' gradients flow through)."""
        if self._kernel is None:
            raise AttributeError("You must build the layer before accessing `kernel`.")
        if not self.lora_enabled:
            return self._kernel
        update = ops.matmul(self.lora_kernel_a, self.lora_kernel_b)
        return ops.add(self._kernel, ops.multiply(update, self.lora_alpha / self.lora_rank))

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        kernel = self.kernel
        if self._dense is not None and inputs.ndim >= self._dense[0]:
            return self._dense_call(inputs, kernel)
        x = einsum(self.equation, inputs, kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return self.activation(x)

    def _dense_call(self, inputs: Any, kernel: Any) -> Any:
        """The equation as one fused dense product: (..., contracted) @ (contracted, free) + bias."""
        n, contracted, free = self._dense
        lead = tuple(inputs.shape[:inputs.ndim - n])
        x = ops.reshape(inputs, lead + (contracted,)) if n != 1 else inputs
        w = ops.reshape(kernel, (contracted, free)) if kernel.ndim != 2 else kernel
        b = None if self.bias is None else (ops.reshape(self.bias, (free,)) if self.bias.ndim != 1 else self.bias)
        if self._fused is not None:
            name, params = self._fused
            y = ops.dense(x, w, b, name, params)
        else:
            y = self.activation(ops.dense(x, w, b))
        out_shape = lead + tuple(self._kernel.shape[n:])
        return ops.reshape(y, out_shape) if tuple(y.shape) != out_shape else y

    def enable_lora(self, rank: int, lora_alpha: float | None = None, a_initializer: Any = "he_uniform",
                    b_initializer: Any = "zeros") -> None:
        """Freeze the kernel and train `lora_kernel_a @ lora_kernel_b` (scaled by lora_alpha / rank) instead."""
        if self.kernel_constraint is not None:
            raise ValueError("Lora is incompatible with kernel constraints. In order to enable lora on this layer, "
                             "remove the `kernel_constraint` argument.")
        if not self.built:
            raise ValueError("Cannot enable lora on a layer that isn't yet built.")
        if self.lora_enabled:
            raise ValueError("lora is already enabled. This can only be done once per layer.")
        if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0:
            raise ValueError(f"EinsumDense {self.name!r}: the LoRA rank must be a positive integer, got {rank!r}.")
        shape = self._kernel.shape
        self.lora_kernel_a = self.add_weight(shape[:-1] + (rank,), initializers.get(a_initializer), dtype="float32",
                                             name="lora_kernel_a", regularizer=self.kernel_regularizer)
        self.lora_kernel_b = self.add_weight((rank, shape[-1]), initializers.get(b_initializer), dtype="float32",
                                             name="lora_kernel_b", regularizer=self.kernel_regularizer)
        self._kernel.trainable = False
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def save_own_variables(self, store: MutableMapping[str, Any]) -> None:
        """Kernel and bias; with LoRA the merged kernel (the factors are not saved, as in Keras 3)."""
        if not self.lora_enabled:
            return super().save_own_variables(store)
        store["0"] = ops.convert_to_numpy(self.kernel)
        if self.bias is not None:
            store["1"] = self.bias.numpy()

    def load_own_variables(self, store: Mapping[str, Any]) -> None:
        """Kernel and bias; with LoRA the loaded kernel is the whole update, so the factors restart at zero."""
        if not self.lora_enabled:
            return super().load_own_variables(store)
        expected = 1 if self.bias is None else 2
        if len(store) != expected:
            raise ValueError(f"Layer {self.name!r} expects {expected} variables (the merged kernel"
                             f"{'' if self.bias is None else ' and the bias'}), but the file holds {len(store)}.")
        self._kernel.assign(store["0"])
        if self.bias is not None:
            self.bias.assign(store["1"])
        for factor in (self.lora_kernel_a, self.lora_kernel_b):
            factor.assign(ops.zeros(factor.shape, factor.dtype))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return plan_einsum(self.equation, self.bias_axes, input_shape, self.partial_output_shape).output_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_shape": self.partial_output_shape,
            "equation": self.equation,
            "activation": activations.serialize(self.activation),
            "bias_axes": self.bias_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "quantization_config": None,
            **({"lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha} if self.lora_rank else {}),
        }


def _partial_output_shape(output_shape: Any) -> tuple[int | None, ...]:
    """`output_shape` as a tuple of positive ints and Nones, or ValueError."""
    shape = (output_shape,) if isinstance(output_shape, int) and not isinstance(output_shape, bool) else output_shape
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(f"EinsumDense: `output_shape` must be an int or a tuple/list of ints and None, got "
                         f"{output_shape!r}.") from None
    for d in shape:
        if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d <= 0):
            raise ValueError(f"EinsumDense: `output_shape` entries must be positive ints or None, got "
                             f"{output_shape!r}.")
    return shape


def _fan_aware(initializer: Any, plan: EinsumPlan) -> Any:
    """Keras 3 sizes a VarianceScaling kernel by its input axes (fan-in) and output axes (fan-out), not by
    its rank: draw a (fan_in, fan_out) matrix (same i.i.d. distribution) and lay it out as the kernel."""
    if not isinstance(initializer, initializers.VarianceScaling):
        return initializer
    fan_in = math.prod(plan.kernel_shape[a] for a in plan.input_axes)
    fan_out = math.prod(plan.kernel_shape[a] for a in plan.output_axes)

    def draw(shape: tuple[int, ...], dtype: Any = None) -> Any:
        return ops.reshape(initializer((fan_in, fan_out), dtype=dtype), shape)

    return draw
