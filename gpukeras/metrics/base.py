"""Stateful metric base classes: state lives in backend arrays and updates never build a graph.

Updates use backend primitives in place (no host sync per step on a GPU); only `result()` makes a
fresh scalar Tensor, and reading it to the host is the caller's choice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpukeras import backend as _backend
from gpukeras import initializers
from gpukeras.autodiff import stop_recording
from gpukeras.ops.core import to_backend_array
from gpukeras.tensor import Tensor, Variable, get_keras_mask


def array_of(x: Any, dtype: Any = None) -> Any:
    """The backend array behind `x` (Tensor, backend array or array-like), optionally cast."""
    a = x.data if isinstance(x, Tensor) else to_backend_array(x)
    return a if dtype is None or a.dtype == dtype else _backend.active.cast(a, dtype)


def match_rank(x1: Any, x2: Any) -> tuple[Any, Any]:
    """Keras's squeeze_or_expand_to_same_rank on backend arrays ((n,) vs (n, 1))."""
    B = _backend.active
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1:
            x2 = B.expand_dims(x2, -1)
        else:
            x1 = B.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1:
            x1 = B.expand_dims(x1, -1)
        else:
            x2 = B.squeeze(x2, -1)
    return x1, x2


def samplewise(values: Any, sample_weight: Any, reduce: str, dtype: str) -> tuple[Any, Any]:
    """Weighted per-sample values and weights, reduced over non-batch axes by `reduce` ("mean"/"sum")."""
    B = _backend.active
    fn = getattr(B, reduce)
    values = array_of(values, dtype)
    if sample_weight is not None:
        weight = array_of(sample_weight, dtype)
        values, weight = match_rank(values, weight)
        if values.ndim > weight.ndim:
            values = fn(values, axis=tuple(range(weight.ndim, values.ndim)))
        weight = B.broadcast_to(weight, values.shape)
        values = B.multiply(values, weight)
        if weight.ndim > 1:
            weight = fn(weight, axis=tuple(range(1, weight.ndim)))
        sample_weight = weight
    if values.ndim > 1:
        values = fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


def masked_weights(mask: Any, sample_weight: Any, dtype: str) -> Any:
    """Sample weights with masked entries at 0 (the mask as 0/1 weights when there are none)."""
    B = _backend.active
    weights = B.cast(array_of(mask), dtype)
    if sample_weight is None:
        return weights
    weights, sw = match_rank(weights, array_of(sample_weight, dtype))
    return B.multiply(weights, sw)


class Metric:
    """Base metric: `update_state` accumulates, `result` reads, `reset_state` zeroes the variables."""

    def __init__(self, name: str | None = None, dtype: Any = None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = str(dtype or "float32")
        self._variables: list[Variable] = []

    def add_variable(self, shape: tuple[int, ...] = (), initializer: Any = "zeros", dtype: Any = None,
                     name: str | None = None) -> Variable:
        """A non-trainable state variable owned by this metric."""
        dtype = str(dtype or self.dtype)
        name = name or f"variable_{len(self._variables)}"
        init = initializers.get(initializer)
        var = Variable(init(tuple(shape), dtype=dtype), dtype=dtype, trainable=False, name=name,
                       path=f"{self.name}/{name}")
        self._variables.append(var)
        return var

    # Keras 2 spelling
    add_weight = add_variable

    @property
    def variables(self) -> list[Variable]:
        return list(self._variables)

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self) -> None:
        """Zero every state variable in place."""
        B = _backend.active
        for v in self._variables:
            B.assign(v.data, 0)

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        """Update with one batch and return the running result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """Weighted mean of the values seen: total += sum(v * w), count += sum(w)."""

    def __init__(self, name: str = "mean", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        B = _backend.active
        if type(values) is Tensor and values.ndim == 0 and isinstance(sample_weight, int):
            # The training loop's loss tracker, every step: a scalar weighted by the batch size.
            B.add_inplace(self.total.data, B.multiply(values.data, sample_weight))
            B.add_inplace(self.count.data, sample_weight)
            return
        values, weight = samplewise(values, sample_weight, "mean", self.dtype)
        B.add_inplace(self.total.data, B.sum(values))
        if weight is not None:
            B.add_inplace(self.count.data, B.sum(weight))
        else:
            B.add_inplace(self.count.data, values.shape[0] if values.ndim else 1)

    def result(self) -> Tensor:
        return Tensor(_backend.active.divide_no_nan(self.total.data, self.count.data))


class Sum(Metric):
    """Weighted sum of the values seen."""

    def __init__(self, name: str = "sum", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        B = _backend.active
        values, _ = samplewise(values, sample_weight, "sum", self.dtype)
        B.add_inplace(self.total.data, B.sum(values))

    def result(self) -> Tensor:
        return Tensor(_backend.active.copy(self.total.data))


class MeanMetricWrapper(Mean):
    """Running weighted mean of a per-sample function `fn(y_true, y_pred, **fn_kwargs)`."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None, **kwargs: Any):
        if not callable(fn):
            raise ValueError(f"MeanMetricWrapper needs a callable, got {fn!r}.")
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Update with one batch; masked steps of `y_pred` (its Keras mask) weigh 0."""
        mask = get_keras_mask(y_pred)
        with stop_recording():
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            sample_weight = masked_weights(mask, sample_weight, self.dtype)
        super().update_state(values, sample_weight)

    def get_config(self) -> dict[str, Any]:
        fn_name = getattr(self._fn, "__name__", repr(self._fn))
        return {**super().get_config(), "fn": fn_name, **self._fn_kwargs}


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
