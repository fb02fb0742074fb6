"""The base of the image preprocessing and augmentation layers (Keras 3's BaseImagePreprocessingLayer).

A call draws one transformation for the batch (`get_random_transformation`: per-image angles,
zooms, flips... as Tensors, or None when not training) and applies it (`transform_images`, and for
a dict input `transform_labels` / `transform_segmentation_masks`). Both are public, as in Keras 3,
so a given transformation can be applied (that is how the tests compare with Keras 3's numbers).
Inputs are one image (rank 3) or a batch (rank 4), in either data format. As in Keras 3, a call
without `training` augments (Keras resolves it to the call's default, True); `fit` passes True and
`predict`/`evaluate` pass False, which leaves images as they are. Random parameters are drawn on the
host from the layer's seeded generator (a few numbers per image) and the images never leave the
backend.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras import ops
from gpukeras.layers.layer import Layer
from gpukeras.ops.convolution import normalize_data_format
from gpukeras.random import SeedGenerator
from gpukeras.tensor import Tensor

AFFINE_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_choice(layer: str, name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{layer}: unknown `{name}` {value!r}. Expected one of {allowed}.")
    return value


def check_positive_int(layer: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: `{name}` must be a positive integer, got {value!r}.")
    return int(value)


def check_value_range(layer: str, value_range: Any) -> list[float]:
    """Keras 3's `value_range`: two numbers, stored sorted."""
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or not all(map(is_number, value_range)):
        raise ValueError(f"{layer}: the `value_range` argument should be a list of two numbers. "
                         f"Received: value_range={value_range}")
    return sorted(value_range)


class ImagePreprocessingLayer(Layer):
    """Draws a transformation per call and applies it to images (and labels, segmentation masks).

    Subclasses set `_USE_BASE_FACTOR` (whether `factor` is theirs, checked against `_FACTOR_BOUNDS`),
    and define `get_random_transformation` and `transform_images` (or `_transform_images`, applied
    when training after the images are cast to the layer's dtype).
    """

    _USE_BASE_FACTOR = True
    _FACTOR_BOUNDS = (-1, 1)

    def __init__(self, factor: Any = None, bounding_box_format: Any = None, data_format: str | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if bounding_box_format is not None:
            raise NotImplementedError(f"{type(self).__name__}: bounding boxes are not supported by gpukeras "
                                      f"(got bounding_box_format={bounding_box_format!r}); pass images, labels "
                                      "and segmentation masks only.")
        self.bounding_box_format = None
        self.data_format = normalize_data_format(data_format)
        if self._USE_BASE_FACTOR:
            self._set_factor(factor or 0.0)
        elif factor is not None:
            raise ValueError(f"Layer {type(self).__name__} does not take a `factor` argument. Received: "
                             f"factor={factor}")

    def _set_factor(self, factor: Any) -> None:
        """`factor` as (lower, upper) within `_FACTOR_BOUNDS`: a number f means (max(-f, low), f)."""
        low, high = self._FACTOR_BOUNDS
        error = ValueError(f"{type(self).__name__}: the `factor` argument should be a number (or a list of two "
                           f"numbers) in the range [{low}, {high}]. Received: factor={factor}")
        if isinstance(factor, (tuple, list)):
            if len(factor) != 2 or not all(map(is_number, factor)) or factor[0] > high or factor[1] < low:
                raise error
            lower, upper = sorted(factor)
        elif is_number(factor):
            if factor < low or factor > high:
                raise error
            factor = abs(factor)
            lower, upper = max(-factor, low), factor
        else:
            raise error
        self.factor = (lower, upper)

    # ------------------------------------------------------------------ the call
    def call(self, data: Any, training: bool | None = True) -> Any:
        if training is None:
            training = True
        transformation = self.get_random_transformation(data, training=training)
        if isinstance(data, dict):
            return self._transform_dict(data, transformation, training)
        if self._is_batched(data):
            return self.transform_images(data, transformation, training=training)
        return self.transform_single_image(data, transformation, training=training)

    def _transform_dict(self, data: dict, transformation: Any, training: bool) -> dict:
        """Keras 3's dict input: "images" with "labels" and "segmentation_masks" transformed alike."""
        unknown = set(data) - {"images", "labels", "segmentation_masks", "bounding_boxes"}
        if "images" not in data or unknown:
            raise ValueError(f"{type(self).__name__}: a dict input holds 'images' and optionally 'labels' and "
                             f"'segmentation_masks'; got keys {sorted(data)}.")
        if "bounding_boxes" in data:
            raise NotImplementedError(f"{type(self).__name__}: bounding boxes are not supported by gpukeras.")
        batched = self._is_batched(data["images"])
        out = dict(data)
        if batched:
            out["images"] = self.transform_images(data["images"], transformation, training=training)
        else:
            out["images"] = self.transform_single_image(data["images"], transformation, training=training)
        if "labels" in data:
            out["labels"] = self.transform_labels(data["labels"], transformation, training=training)
        if "segmentation_masks" in data:
            masks = data["segmentation_masks"]
            if batched:
                out["segmentation_masks"] = self.transform_segmentation_masks(masks, transformation,
                                                                              training=training)
            else:
                batch = ops.expand_dims(masks, 0)
                out["segmentation_masks"] = ops.squeeze(
                    self.transform_segmentation_masks(batch, transformation, training=training), 0)
        return out

    def _is_batched(self, images: Any) -> bool:
        rank = len(images.shape)
        if rank == 3:
            return False
        if rank == 4:
            return True
        raise ValueError("Expected image tensor to have rank 3 (single image) or 4 (batch of images). "
                         f"Received: data.shape={tuple(images.shape)}")

    # ------------------------------------------------------------------ what subclasses define
    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        """The transformation of one call (None: leave the images as they are)."""
        return None

    def _transform_images(self, images: Tensor, transformation: Any, interpolation: str) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement _transform_images().")

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Tensor:
        """A batch of images, cast to the layer's dtype, transformed when training."""
        images = ops.cast(images, self.dtype)
        if training:
            images = self._transform_images(images, transformation, self.interpolation)
        return images

    def transform_labels(self, labels: Any, transformation: Any, training: bool = True) -> Any:
        return labels

    def transform_segmentation_masks(self, segmentation_masks: Any, transformation: Any,
                                     training: bool = True) -> Any:
        """Masks move with the images, sampled with "nearest" so classes stay classes."""
        if training:
            segmentation_masks = self._transform_images(segmentation_masks, transformation, "nearest")
        return segmentation_masks

    def transform_single_image(self, image: Any, transformation: Any, training: bool = True) -> Tensor:
        out = self.transform_images(ops.expand_dims(image, 0), transformation, training=training)
        return ops.squeeze(out, 0)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    # ------------------------------------------------------------------ helpers for subclasses
    def _spatial_axes(self, rank: int) -> tuple[int, int]:
        return (rank - 2, rank - 1) if self.data_format == "channels_first" else (rank - 3, rank - 2)

    def _image_size(self, shape: Any) -> tuple[int, int, int]:
        """(batch size, height, width) of an image or a batch (batch size 1 for one image)."""
        h_axis, w_axis = self._spatial_axes(len(shape))
        return (shape[0] if len(shape) == 4 else 1), shape[h_axis], shape[w_axis]

    def _rng(self, seed: Any = None) -> np.random.Generator:
        """The host generator of one draw: the layer's own stream, or one made from `seed` (an int,
        a SeedGenerator, or a NumPy Generator)."""
        if seed is None:
            return self.generator.rng
        if isinstance(seed, SeedGenerator):
            return seed.rng
        if isinstance(seed, np.random.Generator):
            return seed
        return np.random.default_rng(seed)

    def _uniform(self, shape: tuple[int, ...], minval: float, maxval: float, rng: np.random.Generator,
                 dtype: str = "float32") -> Tensor:
        """Uniform draws in [minval, maxval) (exactly minval when they are equal), on the backend."""
        return Tensor(_backend.active.random_uniform(tuple(shape), minval, maxval, rng, dtype=dtype))

    @staticmethod
    def _images_of(data: Any) -> Any:
        return data["images"] if isinstance(data, dict) else data

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


def as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else ops.convert_to_tensor(x)


def rotation_matrix(angle: Tensor, height: int, width: int) -> Tensor:
    """Transforms (N, 8) rotating images by `angle` degrees about their centre (Keras 3's affine
    matrix with no translation, unit scale and no shear, in the same order of operations)."""
    radians = ops.multiply(angle, math.pi / 180.0)
    cx = 0.5 * (float(np.float32(width)) - 1.0)
    cy = 0.5 * (float(np.float32(height)) - 1.0)
    cos, sin = ops.cos(radians), ops.sin(radians)
    a2 = ops.subtract(ops.subtract(cx, ops.multiply(cos, cx)), ops.multiply(ops.negative(sin), cy))
    b2 = ops.subtract(ops.subtract(cy, ops.multiply(sin, cx)), ops.multiply(cos, cy))
    zeros = ops.zeros_like(angle)
    return ops.stack([cos, ops.negative(sin), a2, sin, cos, b2, zeros, zeros], axis=1)
