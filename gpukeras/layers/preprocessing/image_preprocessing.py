"""The deterministic image preprocessing layers: Rescaling, Resizing and CenterCrop (Keras 3's
arguments, defaults and numbers), computed on the backend through gpukeras.ops.image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gpukeras import ops
from gpukeras.layers.layer import Layer
from gpukeras.layers.preprocessing.image_layer import (
    ImagePreprocessingLayer,
    check_choice,
    check_positive_int,
    is_number,
)
from gpukeras.ops import image as image_ops
from gpukeras.ops.image import RESIZE_METHODS
from gpukeras.saving.serialization import deserialize_keras_object, serialize_keras_object


def _check_numbers(layer: str, name: str, value: Any) -> None:
    """A number or an array-like of numbers (per-channel values)."""
    if is_number(value):
        return
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = None
    if array is None or array.dtype.kind not in "iuf" or array.size == 0:
        raise ValueError(f"{layer}: `{name}` must be a number or an array of numbers, got {value!r}.")


class Rescaling(Layer):
    """inputs * scale + offset in the layer's dtype, in training and inference (integer inputs too);
    `scale` and `offset` may be per-channel arrays. Passes masks on."""

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        _check_numbers("Rescaling", "scale", scale)
        _check_numbers("Rescaling", "offset", offset)
        self.scale = scale
        self.offset = offset
        self.supports_masking = True

    def call(self, inputs: Any) -> Any:
        scale = ops.cast(self.scale, self.dtype)
        offset = ops.cast(self.offset, self.dtype)
        return ops.add(ops.multiply(ops.cast(inputs, self.dtype), scale), offset)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": serialize_keras_object(self.scale),
                "offset": serialize_keras_object(self.offset)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Rescaling:
        config = dict(config)
        for key in ("scale", "offset"):
            if key in config:
                config[key] = deserialize_keras_object(config[key])
        return super().from_config(config)


class Resizing(ImagePreprocessingLayer):
    """Images resized to (height, width) with `interpolation` ("bilinear", "nearest", "bicubic",
    "lanczos3", "lanczos5"), optionally cropped (`crop_to_aspect_ratio`) or padded with `fill_value`
    (`pad_to_aspect_ratio`) to the target aspect ratio first; `antialias` widens the kernel when
    shrinking. Integer images keep their dtype (rounded), as in Keras 3."""

    _USE_BASE_FACTOR = False

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", crop_to_aspect_ratio: bool = False,
                 pad_to_aspect_ratio: bool = False, fill_mode: str = "constant", fill_value: float = 0.0,
                 antialias: bool = False, data_format: str | None = None, **kwargs: Any):
        check_positive_int("Resizing", "height", height)
        check_positive_int("Resizing", "width", width)
        check_choice("Resizing", "interpolation", interpolation, RESIZE_METHODS)
        image_ops.check_resize_arguments((height, width), interpolation, fill_mode, crop_to_aspect_ratio,
                                         pad_to_aspect_ratio)
        if not is_number(fill_value):
            raise ValueError(f"Resizing: `fill_value` must be a number, got {fill_value!r}.")
        super().__init__(data_format=data_format, **kwargs)
        self.height = int(height)
        self.width = int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = bool(antialias)

    def _transform_images(self, images: Any, transformation: Any, interpolation: str) -> Any:
        return image_ops.resize(images, (self.height, self.width), interpolation=interpolation,
                                antialias=self.antialias, crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                                pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_mode=self.fill_mode,
                                fill_value=self.fill_value, data_format=self.data_format)

    def transform_images(self, images: Any, transformation: Any = None, training: bool = True) -> Any:
        """Resized in training and inference alike; the input's dtype is kept."""
        return self._transform_images(images, transformation, self.interpolation)

    def transform_segmentation_masks(self, segmentation_masks: Any, transformation: Any = None,
                                     training: bool = True) -> Any:
        return self._transform_images(segmentation_masks, transformation, "nearest")

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        _, height, width = self._image_size(tuple(self._images_of(data).shape))
        return height, width

    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = list(input_shape)
        h_axis, w_axis = self._spatial_axes(len(shape))
        shape[h_axis], shape[w_axis] = self.height, self.width
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


def smart_resize(images: Any, size: tuple[int, int], data_format: str) -> Any:
    """The largest centred window with the aspect ratio of `size`, resized to it (bilinear)."""
    cropped = image_ops.crop_to_aspect(images, size, data_format)
    return image_ops.resize(cropped, size, interpolation="bilinear", data_format=data_format)


class CenterCrop(ImagePreprocessingLayer):
    """The central (height, width) window of each image; an image smaller than that on either side is
    instead cropped to the target aspect ratio and resized (bilinear), as Keras 3 does. The output is
    in the layer's dtype."""

    _USE_BASE_FACTOR = False

    def __init__(self, height: int, width: int, data_format: str | None = None, **kwargs: Any):
        check_positive_int("CenterCrop", "height", height)
        check_positive_int("CenterCrop", "width", width)
        super().__init__(data_format=data_format, **kwargs)
        self.height = int(height)
        self.width = int(width)

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        return {"input_shape": tuple(self._images_of(data).shape)}

    def transform_images(self, images: Any, transformation: Any = None, training: bool = True) -> Any:
        images = ops.cast(images, self.dtype)
        h_axis, w_axis = self._spatial_axes(len(images.shape))
        h_diff = images.shape[h_axis] - self.height
        w_diff = images.shape[w_axis] - self.width
        if h_diff < 0 or w_diff < 0:
            return smart_resize(images, (self.height, self.width), self.data_format)
        key = [slice(None)] * len(images.shape)
        key[h_axis] = slice(h_diff // 2, h_diff // 2 + self.height)
        key[w_axis] = slice(w_diff // 2, w_diff // 2 + self.width)
        return ops.getitem(images, tuple(key))

    def transform_segmentation_masks(self, segmentation_masks: Any, transformation: Any = None,
                                     training: bool = True) -> Any:
        return self.transform_images(segmentation_masks, transformation, training=training)

    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = list(input_shape)
        if len(shape) not in (3, 4):
            raise ValueError("CenterCrop: `input_shape` must be of rank 3 (unbatched) or 4 (batched), got "
                             f"{tuple(input_shape)}.")
        h_axis, w_axis = self._spatial_axes(len(shape))
        shape[h_axis], shape[w_axis] = self.height, self.width
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width}
