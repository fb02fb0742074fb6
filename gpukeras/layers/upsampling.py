"""Up-sampling layers: UpSampling1D, UpSampling2D (nearest or bilinear), UpSampling3D (nearest)."""

from __future__ import annotations

from typing import Any

from gpukeras.layers.convolution import check_input_rank
from gpukeras.layers.layer import Layer
from gpukeras.ops.convolution import normalize_data_format, normalize_tuple
from gpukeras.ops.image import resize
from gpukeras.ops.resampling import spatial_axes, upsample_bilinear, upsample_nearest

# Keras 3's choices (ops.image.resize's methods)
INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic")


def _scaled_shape(input_shape: Any, axes: list[int], factors: tuple[int, ...]) -> tuple:
    out = list(input_shape)
    for ax, f in zip(axes, factors):
        out[ax] = None if out[ax] is None else out[ax] * f
    return tuple(out)


class UpSampling1D(Layer):
    """Repeat each step `size` times along the steps axis of (batch, steps, features)."""

    def __init__(self, size: int = 2, **kwargs: Any):
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"UpSampling1D: expected an integer value for `size`, got {type(size)}.")
        if size <= 0:
            raise ValueError(f"UpSampling1D: argument `size` should be a positive integer. Received: size={size}")
        super().__init__(**kwargs)
        self.size = size

    def build(self, input_shape: Any) -> None:
        check_input_rank(self, input_shape, 3)
        self.built = True

    def call(self, inputs: Any) -> Any:
        check_input_rank(self, inputs.shape, 3)
        return upsample_nearest(inputs, (self.size,), "channels_last")

    def compute_output_shape(self, input_shape: Any) -> tuple:
        check_input_rank(self, input_shape, 3)
        return _scaled_shape(input_shape, [1], (self.size,))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size}


class _UpSamplingND(Layer):
    """Repeat (or interpolate) along each spatial axis by the factors in `size`."""

    rank = 2

    def __init__(self, size: Any, data_format: str | None = None, **kwargs: Any):
        size = normalize_tuple(size, self.rank, "size")
        data_format = normalize_data_format(data_format)
        super().__init__(**kwargs)
        self.size = size
        self.data_format = data_format

    def build(self, input_shape: Any) -> None:
        check_input_rank(self, input_shape, self.rank + 2)
        self.built = True

    def call(self, inputs: Any) -> Any:
        check_input_rank(self, inputs.shape, self.rank + 2)
        return upsample_nearest(inputs, self.size, self.data_format)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        check_input_rank(self, input_shape, self.rank + 2)
        return _scaled_shape(input_shape, spatial_axes(self.rank + 2, self.data_format), self.size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}


class UpSampling2D(_UpSamplingND):
    """Scale (height, width) by `size`: rows and columns repeated ("nearest"), or interpolated with
    half-pixel centres as Keras 3's jax.image.resize ("bilinear": the backend's up-sampling kernel;
    "bicubic", "lanczos3", "lanczos5": ops.image.resize)."""

    rank = 2

    def __init__(self, size: Any = (2, 2), data_format: str | None = None, interpolation: str = "nearest",
                 **kwargs: Any):
        key = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if key not in INTERPOLATIONS:
            raise ValueError(f"UpSampling2D: invalid value for argument `interpolation`. Expected one of "
                             f"{INTERPOLATIONS}. Received: interpolation={interpolation!r}")
        super().__init__(size, data_format, **kwargs)
        self.interpolation = key

    def call(self, inputs: Any) -> Any:
        check_input_rank(self, inputs.shape, 4)
        if self.interpolation == "nearest":
            return upsample_nearest(inputs, self.size, self.data_format)
        if self.interpolation == "bilinear":
            return upsample_bilinear(inputs, self.size, self.data_format)
        h, w = (inputs.shape[ax] for ax in spatial_axes(4, self.data_format))
        return resize(inputs, (h * self.size[0], w * self.size[1]), self.interpolation,
                      data_format=self.data_format)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "interpolation": self.interpolation}


class UpSampling3D(_UpSamplingND):
    """Repeat each entry of (depth, height, width) by `size`."""

    rank = 3

    def __init__(self, size: Any = (2, 2, 2), data_format: str | None = None, **kwargs: Any):
        super().__init__(size, data_format, **kwargs)
