"""Dense: activation(inputs @ kernel + bias), computed by one fused primitive; optional LoRA."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from gpukeras import activations, constraints, initializers, ops, regularizers
from gpukeras.layers.layer import Layer
from gpukeras.tensor import Variable


class Dense(Layer):
    """Fully connected layer; the kernel has Keras's (input_dim, units) layout.

    LoRA (Keras 3's `lora_rank`/`enable_lora`): the kernel is frozen and the layer computes with
    `kernel + (lora_alpha / lora_rank) * lora_kernel_a @ lora_kernel_b`, training only the two
    low-rank factors (and the bias). Saving writes the merged kernel, as Keras 3 does. As in Keras
    3.15, building a `Dense(lora_rank=r)` calls `enable_lora(r)`, which sets `lora_alpha` to r.
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: int | None = None, lora_alpha: float | None = None,
                 **kwargs: Any):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.supports_masking = True
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"Dense: `units` must be a positive integer, got {units!r}.")
        if lora_rank is not None and (isinstance(lora_rank, bool) or not isinstance(lora_rank, int)
                                      or lora_rank <= 0):
            raise ValueError(f"Dense: `lora_rank` must be a positive integer or None, got {lora_rank!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self._fused = activations.fused_primitive(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.bias = None
        self._kernel: Variable | None = None
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False

    def build(self, input_shape: Any) -> None:
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense {self.name!r}: the last input dimension must be known, got {input_shape}.")
        self._kernel = self.add_weight((input_dim, self.units), self.kernel_initializer, name="kernel",
                                       regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True
        if self.lora_rank:
            self.enable_lora(self.lora_rank)

    @property
    def kernel(self) -> Any:
        """The kernel Variable; with LoRA on, the merged kernel (a Tensor the factors' gradients flow through)."""
        if not self.lora_enabled:
            return self._kernel
        update = ops.matmul(self.lora_kernel_a, self.lora_kernel_b)
        return ops.add(self._kernel, ops.multiply(update, self.lora_alpha / self.lora_rank))

    def enable_lora(self, rank: int, lora_alpha: float | None = None, a_initializer: Any = "he_uniform",
                    b_initializer: Any = "zeros") -> None:
        """Freeze the kernel and train a rank-`rank` update `lora_kernel_a @ lora_kernel_b` instead."""
        if self.kernel_constraint is not None:
            raise ValueError(f"Dense {self.name!r}: LoRA is incompatible with kernel constraints; remove "
                             "`kernel_constraint` to enable it.")
        if not self.built:
            raise ValueError(f"Dense {self.name!r}: cannot enable LoRA on a layer that isn't built yet; build it "
                             "(call it on data) first.")
        if self.lora_enabled:
            raise ValueError(f"Dense {self.name!r}: LoRA is already enabled; this can only be done once per layer.")
        if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0:
            raise ValueError(f"Dense {self.name!r}: the LoRA rank must be a positive integer, got {rank!r}.")
        input_dim = self._kernel.shape[0]
        self.lora_kernel_a = self.add_weight((input_dim, rank), initializers.get(a_initializer), dtype="float32",
                                             name="lora_kernel_a", regularizer=self.kernel_regularizer)
        self.lora_kernel_b = self.add_weight((rank, self.units), initializers.get(b_initializer), dtype="float32",
                                             name="lora_kernel_b", regularizer=self.kernel_regularizer)
        self._kernel.trainable = False
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def call(self, inputs: Any) -> Any:
        if inputs.shape[-1] != self._kernel.shape[0]:
            raise ValueError(f"Dense {self.name!r} expects inputs with last dimension {self._kernel.shape[0]}, "
                             f"got shape {tuple(inputs.shape)}.")
        kernel = self.kernel
        if self._fused is not None:
            name, params = self._fused
            return ops.dense(inputs, kernel, self.bias, name, params)
        return self.activation(ops.dense(inputs, kernel, self.bias))

    def save_own_variables(self, store: MutableMapping[str, Any]) -> None:
        """Kernel and bias; with LoRA the merged kernel (the factors are not saved, as in Keras 3)."""
        if not self.lora_enabled:
            return super().save_own_variables(store)
        store["0"] = ops.convert_to_numpy(self.kernel)
        if self.use_bias:
            store["1"] = self.bias.numpy()

    def load_own_variables(self, store: Mapping[str, Any]) -> None:
        """Kernel and bias; with LoRA the loaded kernel is the whole update, so the factors restart at zero."""
        if not self.lora_enabled:
            return super().load_own_variables(store)
        expected = 2 if self.use_bias else 1
        if len(store) != expected:
            raise ValueError(f"Layer {self.name!r} expects {expected} variables (the merged kernel"
                             f"{' and the bias' if self.use_bias else ''}), but the file holds {len(store)}.")
        self._kernel.assign(store["0"])
        if self.use_bias:
            self.bias.assign(store["1"])
        for factor in (self.lora_kernel_a, self.lora_kernel_b):
            factor.assign(ops.zeros(factor.shape, factor.dtype))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            **({"lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha} if self.lora_rank else {}),
        }
