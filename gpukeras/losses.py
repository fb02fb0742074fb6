"""Keras 3 losses: per-sample loss functions, `Loss` classes that weight and reduce them, and `get`.

Every computation is a differentiable `gpukeras.ops` call, so a loss inside a GradientTape
backpropagates. Shapes follow Keras 3: y_true/y_pred ranks are squeezed or expanded by one to
match, per-sample losses average over the last axis, and "sum_over_batch_size" divides the
weighted sum by the number of elements (not by the sum of the weights).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

from gpukeras import backend as _backend
from gpukeras import ops
from gpukeras.activations import log_softmax, softmax, softplus
from gpukeras.ops.core import convert_to_tensor
from gpukeras.saving.serialization import (
    Catalogue,
    deserialize_object,
    lookup,
    register_catalogue,
    serialize_object,
    unknown_name_error,
)
from gpukeras.tensor import Tensor, get_keras_mask

EPSILON = 1e-7  # keras.backend.epsilon()'s default; the code reads the value set now
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# ---------------------------------------------------------------------------- shape helpers
def _as_tensor(x: Any, dtype: Any = None) -> Tensor:
    """`x` as a Tensor of `dtype` (cast only when needed, so float32 inputs cost nothing)."""
    if isinstance(x, Tensor):
        return x if dtype is None or x.data.dtype == dtype else ops.cast(x, dtype)
    return convert_to_tensor(x, dtype)


def _like(y_true: Any, y_pred: Any) -> tuple[Tensor, Tensor]:
    """y_pred as a tensor and y_true cast to its dtype."""
    y_pred = _as_tensor(y_pred)
    return _as_tensor(y_true, y_pred.data.dtype), y_pred


def squeeze_or_expand_to_same_rank(x1: Tensor, x2: Tensor,
                                   expand_rank_1: bool = True) -> tuple[Tensor, Tensor]:
    """Make ranks equal when they differ by one and the longer one ends in 1 ((n,) vs (n, 1))."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, -1)
        else:
            x1 = ops.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, -1)
        else:
            x2 = ops.squeeze(x2, -1)
    return x1, x2


def _divide_no_nan(num: Tensor, den: Any) -> Tensor:
    """num / den, or 0 where den is 0 (Keras's divide_no_nan)."""
    if not isinstance(den, Tensor):
        return ops.multiply(num, 0.0) if den == 0 else ops.divide(num, float(den))
    zero = ops.equal(den, 0.0)
    return ops.where(zero, 0.0, ops.divide(num, ops.where(zero, 1.0, den)))


def standardize_reduction(reduction: Any) -> Any:
    """`reduction` if Keras knows it, else a ValueError listing the valid ones."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid loss reduction {reduction!r}; expected one of "
                         f"{', '.join(repr(r) for r in REDUCTIONS)}.")
    return reduction


def reduce_values(values: Tensor, sample_weight: Tensor | None = None,
                  reduction: Any = "sum_over_batch_size") -> Tensor:
    """Sum, or sum divided by the element count (or by the weight sum for mean_with_sample_weight)."""
    if reduction is None or reduction == "none" or values.shape in ((), (0,)):
        return values
    if reduction == "sum":
        return ops.sum(values)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _divide_no_nan(ops.sum(values), ops.sum(sample_weight))
    if sample_weight is None and values.size:
        return ops.mean(values)
    return _divide_no_nan(ops.sum(values), values.size)


def reduce_weighted_values(values: Tensor, sample_weight: Any = None, mask: Any = None,
                           reduction: Any = "sum_over_batch_size", dtype: Any = "float32") -> Tensor:
    """Apply the mask and sample weights to per-sample `values`, then reduce them (Keras 3 rules)."""
    reduction = standardize_reduction(reduction)
    if sample_weight is not None:
        sample_weight = _as_tensor(sample_weight, values.data.dtype)
    if mask is not None:
        mask = _as_tensor(mask, values.data.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            # valid entries weigh total/valid, so the mean over all entries is the mean over valid ones
            valid = _backend.active.sum(mask.data)
            mask = ops.multiply(mask, _divide_no_nan(Tensor(_backend.active.full((), mask.size, values.dtype)),
                                                     Tensor(valid)))
        if sample_weight is not None:
            mask, sample_weight = squeeze_or_expand_to_same_rank(mask, sample_weight)
            sample_weight = ops.multiply(sample_weight, mask)
        else:
            sample_weight = mask
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        if sample_weight.ndim < values.ndim:
            extra = (1,) * (values.ndim - sample_weight.ndim)
            sample_weight = ops.reshape(sample_weight, sample_weight.shape + extra)
        values = ops.multiply(values, sample_weight)
    return reduce_values(values, sample_weight, reduction)


# ---------------------------------------------------------------------------- loss functions
def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """mean((y_true - y_pred)^2) over the last axis."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_like(y_true, y_pred))
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """mean(|y_true - y_pred|) over the last axis."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_like(y_true, y_pred))
    return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Tensor:
    """100 * mean(|(y_true - y_pred) / max(|y_true|, eps)|) over the last axis."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_like(y_true, y_pred))
    diff = ops.abs(ops.divide(ops.subtract(y_true, y_pred), ops.maximum(ops.abs(y_true), _backend.epsilon())))
    return ops.multiply(ops.mean(diff, axis=-1), 100.0)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Tensor:
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2) over the last axis."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_like(y_true, y_pred))
    first = ops.log(ops.add(ops.maximum(y_pred, _backend.epsilon()), 1.0))
    second = ops.log(ops.add(ops.maximum(y_true, _backend.epsilon()), 1.0))
    return ops.mean(ops.square(ops.subtract(first, second)), axis=-1)


def _binary_crossentropy_elements(y_true: Tensor, y_pred: Tensor, from_logits: bool) -> Tensor:
    """Element-wise binary cross-entropy: log-sigmoid form for logits, clipped logs for probabilities."""
    if from_logits:
        # -t*log(sigmoid(z)) - (1-t)*log(sigmoid(-z)) = t*softplus(-z) + (1-t)*softplus(z)
        return ops.add(ops.multiply(y_true, softplus(ops.negative(y_pred))),
                       ops.multiply(ops.subtract(1.0, y_true), softplus(y_pred)))
    p = ops.clip(y_pred, _backend.epsilon(), 1.0 - _backend.epsilon())
    bce = ops.add(ops.multiply(y_true, ops.log(p)),
                  ops.multiply(ops.subtract(1.0, y_true), ops.log(ops.subtract(1.0, p))))
    return ops.negative(bce)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> Tensor:
    """Binary cross-entropy averaged over `axis`; probabilities are clipped to [eps, 1 - eps]."""
    y_true, y_pred = _like(y_true, y_pred)
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    return ops.mean(_binary_crossentropy_elements(y_true, y_pred, from_logits), axis=axis)


def _check_axis(axis: Any) -> None:
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(f"`axis` must be an int, got {axis!r}.")


def _log_probs(y_pred: Tensor, from_logits: bool, axis: int) -> Tensor:
    """log of the class probabilities: log_softmax of logits, or log of renormalized clipped probabilities."""
    if from_logits:
        return log_softmax(y_pred, axis=axis)
    p = ops.divide(y_pred, ops.sum(y_pred, axis=axis, keepdims=True))
    return ops.log(ops.clip(p, _backend.epsilon(), 1.0 - _backend.epsilon()))


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """-sum(y_true * log p) over `axis` for one-hot (or soft) targets."""
    _check_axis(axis)
    y_true, y_pred = _like(y_true, y_pred)
    if label_smoothing:
        n = y_true.shape[-1]
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), label_smoothing / n)
    return ops.negative(ops.sum(ops.multiply(y_true, _log_probs(y_pred, from_logits, axis)), axis=axis))


def _move_axis_last(x: Tensor, axis: int) -> Tensor:
    axis %= x.ndim
    if axis == x.ndim - 1:
        return x
    order = [i for i in range(x.ndim) if i != axis] + [axis]
    return ops.transpose(x, order)


def _sparse_crossentropy(labels: Tensor, y_pred: Tensor, from_logits: bool) -> Tensor:
    """-log p[label] along the last axis; labels out of range contribute 0 (as Keras's one-hot does)."""
    labels = _as_tensor(labels, "int32")
    if from_logits:
        return ops.sparse_softmax_cross_entropy(labels, y_pred)
    return ops.sparse_crossentropy_from_probs(labels, y_pred, _backend.epsilon())  # the ops of _log_probs, fused


def _sparse_categorical_crossentropy_masked(y_true: Any, y_pred: Any, from_logits: bool = False,
                                            ignore_class: int | None = None,
                                            axis: int = -1) -> tuple[Tensor, Any]:
    """Per-sample sparse cross-entropy and the mask of labels that count (None without ignore_class)."""
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = ops.squeeze(y_true, axis)
    if y_true.shape != y_pred.shape[:axis % y_pred.ndim] + y_pred.shape[axis % y_pred.ndim + 1:]:
        raise ValueError(f"sparse_categorical_crossentropy: labels of shape {y_true.shape} do not match "
                         f"predictions of shape {y_pred.shape} (expected integer labels without the class "
                         "axis).")
    y_pred = _move_axis_last(y_pred, axis)
    if ignore_class is None:
        return _sparse_crossentropy(y_true, y_pred, from_logits), None
    B = _backend.active
    valid = B.compare("not_equal", y_true.data, ignore_class)
    labels = Tensor(B.where(valid, y_true.data, 0))
    safe_pred = ops.where(Tensor(B.expand_dims(valid, -1)), y_pred, 1.0)
    res = _sparse_crossentropy(labels, safe_pred, from_logits)
    return ops.where(Tensor(valid), res, 0.0), valid


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> Tensor:
    """-log p[label] for integer labels; with `from_logits` one fused softmax-cross-entropy primitive."""
    return _sparse_categorical_crossentropy_masked(y_true, y_pred, from_logits, ignore_class, axis)[0]


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Tensor:
    """0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2; mean over the last axis."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_like(y_true, y_pred))
    error = ops.subtract(y_pred, y_true)
    abs_error = ops.abs(error)
    quad = ops.multiply(ops.square(error), 0.5)
    lin = ops.subtract(ops.multiply(abs_error, float(delta)), 0.5 * float(delta) ** 2)
    return ops.mean(ops.where(ops.less_equal(abs_error, float(delta)), quad, lin), axis=-1)


def log_cosh(y_true: Any, y_pred: Any) -> Tensor:
    """mean(log(cosh(y_pred - y_true))) computed as x + softplus(-2x) - log 2."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_like(y_true, y_pred))
    x = ops.subtract(y_pred, y_true)
    return ops.mean(ops.subtract(ops.add(x, softplus(ops.multiply(x, -2.0))), math.log(2.0)), axis=-1)


def kl_divergence(y_true: Any, y_pred: Any) -> Tensor:
    """sum(t * log(t / p)) over the last axis, both clipped to [eps, 1]."""
    y_true, y_pred = _like(y_true, y_pred)
    t = ops.clip(y_true, _backend.epsilon(), 1.0)
    p = ops.clip(y_pred, _backend.epsilon(), 1.0)
    return ops.sum(ops.multiply(t, ops.log(ops.divide(t, p))), axis=-1)


def poisson(y_true: Any, y_pred: Any) -> Tensor:
    """mean(y_pred - y_true * log(y_pred + eps)) over the last axis."""
    y_true, y_pred = _like(y_true, y_pred)
    return ops.mean(ops.subtract(y_pred, ops.multiply(y_true, ops.log(ops.add(y_pred, _backend.epsilon())))), axis=-1)


def _hinge_labels(y_true: Tensor) -> Tensor:
    """Labels in {0, 1} become {-1, 1}; other labels are used as given."""
    B = _backend.active
    t = y_true.data
    is_binary = not B.any(B.logical("and", B.compare("not_equal", t, 0), B.compare("not_equal", t, 1)))
    return ops.subtract(ops.multiply(y_true, 2.0), 1.0) if is_binary else y_true


def hinge(y_true: Any, y_pred: Any) -> Tensor:
    """mean(max(1 - y_true * y_pred, 0)) with 0/1 labels mapped to -1/1."""
    y_true, y_pred = _like(y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return ops.mean(ops.maximum(ops.subtract(1.0, ops.multiply(y_true, y_pred)), 0.0), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """mean(max(1 - y_true * y_pred, 0)^2) with 0/1 labels mapped to -1/1."""
    y_true, y_pred = _like(y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return ops.mean(ops.square(ops.maximum(ops.subtract(1.0, ops.multiply(y_true, y_pred)), 0.0)), axis=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> Tensor:
    """max(max((1 - t) * p) - sum(t * p) + 1, 0)."""
    y_true, y_pred = _like(y_true, y_pred)
    pos = ops.sum(ops.multiply(y_true, y_pred), axis=-1)
    neg = ops.max(ops.multiply(ops.subtract(1.0, y_true), y_pred), axis=-1)
    return ops.maximum(ops.add(ops.subtract(neg, pos), 1.0), 0.0)


def _l2_normalize(x: Tensor, axis: int) -> Tensor:
    """x / sqrt(max(sum(x^2), 1e-12)) along `axis` (keras.ops.normalize)."""
    sq = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return ops.divide(x, ops.sqrt(ops.maximum(sq, 1e-12)))


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Tensor:
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)) along `axis` (so minimizing aligns them)."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_like(y_true, y_pred))
    product = ops.multiply(_l2_normalize(y_true, axis), _l2_normalize(y_pred, axis))
    return ops.negative(ops.sum(product, axis=axis))


def binary_focal_crossentropy(y_true: Any, y_pred: Any, apply_class_balancing: bool = False,
                              alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
                              label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Binary cross-entropy scaled by (1 - p_t)^gamma (and alpha class weights when balancing)."""
    y_true, y_pred = _like(y_true, y_pred)
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    if from_logits:
        y_pred = ops.sigmoid(y_pred)
    bce = _binary_crossentropy_elements(y_true, y_pred, False)
    not_t = ops.subtract(1.0, y_true)
    p_t = ops.add(ops.multiply(y_true, y_pred), ops.multiply(not_t, ops.subtract(1.0, y_pred)))
    focal = ops.multiply(ops.power(ops.subtract(1.0, p_t), float(gamma)), bce)
    if apply_class_balancing:
        focal = ops.multiply(ops.add(ops.multiply(y_true, alpha), ops.multiply(not_t, 1.0 - alpha)), focal)
    return ops.mean(focal, axis=axis)


def categorical_focal_crossentropy(y_true: Any, y_pred: Any, alpha: float = 0.25, gamma: float = 2.0,
                                   from_logits: bool = False, label_smoothing: float = 0.0,
                                   axis: int = -1) -> Tensor:
    """sum(alpha * (1 - p)^gamma * -t log p) over `axis`."""
    _check_axis(axis)
    y_true, y_pred = _like(y_true, y_pred)
    if label_smoothing:
        n = y_true.shape[-1]
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), label_smoothing / n)
    if from_logits:
        y_pred = softmax(y_pred, axis=axis)
    eps = _backend.epsilon()
    p = ops.clip(ops.divide(y_pred, ops.sum(y_pred, axis=axis, keepdims=True)), eps, 1.0 - eps)
    cce = ops.multiply(ops.negative(y_true), ops.log(p))
    weight = ops.multiply(ops.power(ops.subtract(1.0, p), float(gamma)), float(alpha))
    return ops.sum(ops.multiply(weight, cce), axis=axis)


# ---------------------------------------------------------------------------- Loss classes
class Loss:
    """Base loss: `call` gives per-sample values; `__call__` weights and reduces them."""

    _label_dtype: str | None = None  # integer-label losses skip the float round trip of y_true

    def __init__(self, name: str | None = None, reduction: Any = "sum_over_batch_size", dtype: Any = None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self.dtype = str(dtype or "float32")

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        """Weighted, reduced loss: a scalar, or per-sample values for reduction "none". The mask of
        `y_pred` (Keras's: from Embedding(mask_zero=True), Masking, ...) leaves masked steps out."""
        in_mask = get_keras_mask(y_pred)
        y_pred = _as_tensor(y_pred, self.dtype)
        y_true = _as_tensor(y_true, self._label_dtype or self.dtype)
        values, mask = self._call_with_mask(y_true, y_pred)
        if in_mask is not None:
            mask = in_mask if mask is None else ops.logical_and(in_mask, mask)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction, self.dtype)

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """Per-sample loss values (subclasses implement this)."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def _call_with_mask(self, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Any]:
        """Per-sample values and an optional mask of entries that count."""
        return self.call(y_true, y_pred), None

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class LossFunctionWrapper(Loss):
    """A Loss around a per-sample function `fn(y_true, y_pred, **kwargs)`."""

    def __init__(self, fn: Callable[..., Any], reduction: Any = "sum_over_batch_size",
                 name: str | None = None, dtype: Any = None, **kwargs: Any):
        if not callable(fn):
            raise ValueError(f"LossFunctionWrapper needs a callable, got {fn!r}.")
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs
        if fn is sparse_categorical_crossentropy:
            self._label_dtype = "int32"

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        y_true, y_pred = squeeze_or_expand_to_same_rank(_as_tensor(y_true), _as_tensor(y_pred))
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", repr(self.fn)), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        config = dict(config)
        fn = config.pop("fn", None)
        if isinstance(fn, str):
            fn = lookup("loss function", fn, _FUNCTIONS)
        return cls(fn, **config)


def _wrapper_class(fn: Callable[..., Any], default_name: str, doc: str, **defaults: Any) -> type:
    """A LossFunctionWrapper subclass with Keras's signature (options, then reduction/name/dtype)."""

    def __init__(self, *args: Any, reduction: Any = "sum_over_batch_size", name: str = default_name,
                 dtype: Any = None, **kwargs: Any):
        if len(args) > len(defaults):
            raise ValueError(f"{type(self).__name__} takes at most {len(defaults)} positional arguments.")
        params = dict(defaults)
        params.update(zip(defaults, args))
        unknown = set(kwargs) - set(defaults)
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown arguments {sorted(unknown)}; "
                             f"valid ones are {sorted(defaults) + ['dtype', 'name', 'reduction']}.")
        params.update(kwargs)
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype, **params)
        for key, value in params.items():
            setattr(self, key, value)

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), **{k: getattr(self, k) for k in defaults}}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    return type("_", (LossFunctionWrapper,), {"__init__": __init__, "get_config": get_config,
                                              "from_config": from_config, "__doc__": doc})


def _named(cls: type, name: str) -> type:
    cls.__name__ = cls.__qualname__ = name
    cls.__module__ = __name__
    return cls


MeanSquaredError = _named(_wrapper_class(mean_squared_error, "mean_squared_error",
                                         "Mean of squared errors."), "MeanSquaredError")
MeanAbsoluteError = _named(_wrapper_class(mean_absolute_error, "mean_absolute_error",
                                          "Mean of absolute errors."), "MeanAbsoluteError")
MeanAbsolutePercentageError = _named(_wrapper_class(
    mean_absolute_percentage_error, "mean_absolute_percentage_error", "Mean absolute percentage error."),
    "MeanAbsolutePercentageError")
MeanSquaredLogarithmicError = _named(_wrapper_class(
    mean_squared_logarithmic_error, "mean_squared_logarithmic_error", "Mean squared logarithmic error."),
    "MeanSquaredLogarithmicError")
BinaryCrossentropy = _named(_wrapper_class(
    binary_crossentropy, "binary_crossentropy", "Binary cross-entropy for 0/1 labels.",
    from_logits=False, label_smoothing=0.0, axis=-1), "BinaryCrossentropy")
CategoricalCrossentropy = _named(_wrapper_class(
    categorical_crossentropy, "categorical_crossentropy", "Cross-entropy for one-hot labels.",
    from_logits=False, label_smoothing=0.0, axis=-1), "CategoricalCrossentropy")
Huber = _named(_wrapper_class(huber, "huber_loss", "Huber loss.", delta=1.0), "Huber")
LogCosh = _named(_wrapper_class(log_cosh, "log_cosh", "Logarithm of the hyperbolic cosine of the error."),
                 "LogCosh")
KLDivergence = _named(_wrapper_class(kl_divergence, "kl_divergence", "Kullback-Leibler divergence."),
                      "KLDivergence")
Poisson = _named(_wrapper_class(poisson, "poisson", "Poisson loss."), "Poisson")
Hinge = _named(_wrapper_class(hinge, "hinge", "Hinge loss."), "Hinge")
SquaredHinge = _named(_wrapper_class(squared_hinge, "squared_hinge", "Squared hinge loss."), "SquaredHinge")
CategoricalHinge = _named(_wrapper_class(categorical_hinge, "categorical_hinge", "Categorical hinge loss."),
                          "CategoricalHinge")
CosineSimilarity = _named(_wrapper_class(cosine_similarity, "cosine_similarity",
                                         "Negative cosine similarity.", axis=-1), "CosineSimilarity")
BinaryFocalCrossentropy = _named(_wrapper_class(
    binary_focal_crossentropy, "binary_focal_crossentropy", "Focal loss for binary labels.",
    apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1),
    "BinaryFocalCrossentropy")
CategoricalFocalCrossentropy = _named(_wrapper_class(
    categorical_focal_crossentropy, "categorical_focal_crossentropy", "Focal loss for one-hot labels.",
    alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1), "CategoricalFocalCrossentropy")


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer labels; `ignore_class` labels are masked out of the mean."""

    _label_dtype = "int32"

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: Any = "sum_over_batch_size", axis: int = -1,
                 name: str = "sparse_categorical_crossentropy", dtype: Any = None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def _call_with_mask(self, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, Any]:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return _sparse_categorical_crossentropy_masked(y_true, y_pred, self.from_logits, self.ignore_class,
                                                       self.axis)

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), "from_logits": self.from_logits, "ignore_class": self.ignore_class}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)


# ---------------------------------------------------------------------------- lookup
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    fn.__name__: fn for fn in (
        mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
        mean_squared_logarithmic_error, binary_crossentropy, categorical_crossentropy,
        sparse_categorical_crossentropy, huber, log_cosh, kl_divergence, poisson, hinge, squared_hinge,
        categorical_hinge, cosine_similarity, binary_focal_crossentropy, categorical_focal_crossentropy,
    )
}
_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (
        Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError, BinaryCrossentropy, CategoricalCrossentropy,
        SparseCategoricalCrossentropy, Huber, LogCosh, KLDivergence, Poisson, Hinge, SquaredHinge,
        CategoricalHinge, CosineSimilarity, BinaryFocalCrossentropy, CategoricalFocalCrossentropy,
    )
}
_ALIASES: dict[str, Callable[..., Any]] = {
    "mse": mean_squared_error, "MSE": mean_squared_error, "mae": mean_absolute_error,
    "MAE": mean_absolute_error, "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "kld": kl_divergence, "KLD": kl_divergence, "bce": binary_crossentropy, "BCE": binary_crossentropy,
    "logcosh": log_cosh, "huber_loss": huber,
}
ALL_LOSSES: dict[str, Any] = {**_FUNCTIONS, **_CLASSES, **_ALIASES}


def get(identifier: Any) -> Loss | None:
    """A Loss from a name ("mse", "binary_crossentropy", "MeanSquaredError", ...), class, instance,
    config dict or plain function `fn(y_true, y_pred)` (wrapped so it reduces like a Loss)."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        obj = lookup("loss", identifier, ALL_LOSSES)
        return obj() if inspect.isclass(obj) else LossFunctionWrapper(obj, name=identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret loss identifier {identifier!r}: expected a name, a Loss, "
                     f"a config dict or a callable.")


def target_kind(loss: Any) -> str | None:
    """How a built-in loss reads its targets: "sparse" (integer class labels, one fewer axis than the
    output), "dense" (the output's shape), or None for a loss gpukeras does not know (not checked)."""
    fn = loss.fn if isinstance(loss, LossFunctionWrapper) else None
    if isinstance(loss, SparseCategoricalCrossentropy) or fn is sparse_categorical_crossentropy:
        return "sparse"
    if type(loss).__module__ == __name__ and (fn is None or fn in _FUNCTIONS.values()):
        return "dense"
    return None


def ignored_label(loss: Any) -> int | None:
    """The `ignore_class` of a sparse cross-entropy (labels equal to it are not counted), else None."""
    found = getattr(loss, "ignore_class", None)
    return found if found is not None else getattr(loss, "_fn_kwargs", {}).get("ignore_class")


def binary_or_sparse(y_true_shape: Any, y_pred_shape: Any) -> tuple[bool, bool]:
    """Keras's shape rule: binary when y_pred ends in 1; sparse when y_true has lower rank (or ends in 1)."""
    t, p = tuple(y_true_shape), tuple(y_pred_shape)
    t_last = t[-1] if t else None
    p_last = p[-1] if p else None
    binary = p_last == 1
    sparse = len(t) < len(p) or (t_last == 1 and p_last is not None and p_last > 1)
    return binary, sparse


def resolve_crossentropy(identifier: str, y_true_shape: Any, y_pred_shape: Any) -> Loss:
    """Keras's "crossentropy"/"ce" shortcut: binary, sparse categorical or categorical by the shapes."""
    binary, sparse = binary_or_sparse(y_true_shape, y_pred_shape)
    if binary:
        fn = binary_crossentropy
    else:
        fn = sparse_categorical_crossentropy if sparse else categorical_crossentropy
    return LossFunctionWrapper(fn, name=identifier)


def serialize(loss: Any) -> Any:
    """Keras's config dict for a Loss (a plain function serializes as its name)."""
    if loss is None:
        return None
    if isinstance(loss, Loss):
        return serialize_object(loss, "keras.losses")
    name = getattr(loss, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize loss {loss!r}.")
    return name


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Loss:
    """Inverse of `serialize`."""
    if isinstance(config, str):
        if custom_objects and config in custom_objects:
            return get(custom_objects[config])
        return get(config)
    if isinstance(config, dict):
        return get(deserialize_object("loss", config, _CLASSES, custom_objects))
    raise unknown_name_error("loss config", config, ALL_LOSSES)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


register_catalogue(Catalogue("keras.losses", base=Loss, deserialize=deserialize,
                             find_function=lambda name: _FUNCTIONS.get(name) or _ALIASES.get(name)))
