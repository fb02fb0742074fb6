"""Pooling layers: Max/AveragePooling 1D/2D/3D and the global variants."""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.layers.convolution import check_input_rank, window_output_shape
from gpukeras.layers.layer import Layer
from gpukeras.ops.convolution import normalize_data_format, normalize_padding, normalize_tuple, pool


class BasePooling(Layer):
    """Window pooling over `rank` spatial axes; strides default to pool_size."""

    rank = 2
    mode = "max"

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, self.rank, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)

    def build(self, input_shape: Any) -> None:
        check_input_rank(self, input_shape, self.rank + 2)
        self.built = True

    def call(self, inputs: Any) -> Any:
        check_input_rank(self, inputs.shape, self.rank + 2)
        return pool(self.mode, inputs, self.pool_size, self.strides, self.padding, self.data_format)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        check_input_rank(self, input_shape, self.rank + 2)
        return window_output_shape(input_shape, self.rank, self.data_format, self.pool_size, self.strides,
                                   self.padding, (1,) * self.rank, None)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(BasePooling):
    """Max over windows of `pool_size` steps."""

    rank, mode = 1, "max"


class MaxPooling2D(BasePooling):
    """Max over `pool_size` windows of (height, width)."""

    rank, mode = 2, "max"


class MaxPooling3D(BasePooling):
    """Max over `pool_size` windows of (depth, height, width)."""

    rank, mode = 3, "max"


class AveragePooling1D(BasePooling):
    """Mean over windows of `pool_size` steps ("same" ignores the padding)."""

    rank, mode = 1, "average"


class AveragePooling2D(BasePooling):
    """Mean over `pool_size` windows of (height, width) ("same" ignores the padding)."""

    rank, mode = 2, "average"


class AveragePooling3D(BasePooling):
    """Mean over `pool_size` windows of (depth, height, width)."""

    rank, mode = 3, "average"


class BaseGlobalPooling(Layer):
    """Reduce every spatial axis (mean or max); keepdims keeps them as size 1."""

    rank = 2
    mode = "average"

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)

    def _axes(self) -> list[int]:
        start = 2 if self.data_format == "channels_first" else 1
        return list(range(start, start + self.rank))

    def build(self, input_shape: Any) -> None:
        check_input_rank(self, input_shape, self.rank + 2)
        self.built = True

    def call(self, inputs: Any) -> Any:
        check_input_rank(self, inputs.shape, self.rank + 2)
        reduce = ops.mean if self.mode == "average" else ops.max
        return reduce(inputs, axis=tuple(self._axes()), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        check_input_rank(self, input_shape, self.rank + 2)
        axes = self._axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over the steps axis; with a mask, over the unmasked steps only (and the mask ends here)."""

    rank, mode = 1, "average"

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return super().call(inputs)
        check_input_rank(self, inputs.shape, 3)
        axis = self._axes()[0]
        weights = ops.expand_dims(ops.cast(mask, "bool"), 2 if axis == 1 else 1)
        total = ops.sum(ops.where(weights, inputs, 0.0), axis=axis, keepdims=self.keepdims)
        return ops.divide(total, ops.sum(ops.cast(weights, inputs.dtype), axis=axis, keepdims=self.keepdims))

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None


class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over height and width."""

    rank, mode = 2, "average"


class GlobalAveragePooling3D(BaseGlobalPooling):
    """Mean over depth, height and width."""

    rank, mode = 3, "average"


class GlobalMaxPooling1D(BaseGlobalPooling):
    """Max over the steps axis."""

    rank, mode = 1, "max"


class GlobalMaxPooling2D(BaseGlobalPooling):
    """Max over height and width."""

    rank, mode = 2, "max"


class GlobalMaxPooling3D(BaseGlobalPooling):
    """Max over depth, height and width."""

    rank, mode = 3, "max"
