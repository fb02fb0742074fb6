"""Colour augmentation layers: RandomContrast and RandomBrightness, with Keras 3's arguments,
defaults, transformations and numbers (one factor per image, applied on the backend when training)."""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.layers.preprocessing.image_layer import ImagePreprocessingLayer, as_tensor, check_value_range
from gpukeras.random import SeedGenerator
from gpukeras.tensor import Tensor


class _ColorAugmentation(ImagePreprocessingLayer):
    """One value per image, drawn when training; labels and segmentation masks pass unchanged."""

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: int | None = None, **kwargs: Any):
        value_range_sorted = check_value_range(type(self).__name__, value_range)
        super().__init__(factor=factor, **kwargs)
        self._value_range_sorted = value_range_sorted
        self.seed = seed
        self.generator = SeedGenerator(seed)

    def _factor_shape(self, data: Any) -> tuple[int, ...]:
        shape = tuple(self._images_of(data).shape)
        if len(shape) == 3:
            return (1, 1, 1)
        if len(shape) == 4:
            return (shape[0], 1, 1, 1)
        raise ValueError(f"Expected the input image to be rank 3 or 4. Received inputs.shape={shape}")

    def _as_float(self, images: Any) -> Tensor:
        """Integer images in the layer's dtype (Keras 3 adds a delta cast to uint8 there, which wraps)."""
        images = as_tensor(images)
        return ops.cast(images, self.dtype) if images.dtype[0] in "biu" else images

    def transform_segmentation_masks(self, segmentation_masks: Any, transformation: Any,
                                     training: bool = True) -> Any:
        return segmentation_masks

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range, "seed": self.seed}


class RandomContrast(_ColorAugmentation):
    """(x - mean) * c + mean per image and channel (mean over height then width), clipped to
    `value_range`; c is drawn from [1 - lower, 1 + upper] of `factor` (Keras 3 reads a number f as
    (0, f), so it only raises contrast)."""

    _FACTOR_BOUNDS = (0, 1)

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: int | None = None, **kwargs: Any):
        super().__init__(factor, value_range=value_range, seed=seed, **kwargs)
        self.value_range = value_range

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        shape = self._factor_shape(data)
        if not training:
            return {"contrast_factor": ops.zeros(shape)}
        factor = self._uniform(shape, 1.0 - self.factor[0], 1.0 + self.factor[1], self._rng(seed), dtype=self.dtype)
        return {"contrast_factor": factor}

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Any:
        if not training:
            return images
        images = self._as_float(images)
        h_axis, w_axis = self._spatial_axes(images.ndim)
        mean = ops.mean(ops.mean(images, axis=h_axis, keepdims=True), axis=w_axis, keepdims=True)
        factor = as_tensor(transformation["contrast_factor"])
        out = ops.add(ops.multiply(ops.subtract(images, mean), factor), mean)
        return ops.clip(out, self.value_range[0], self.value_range[1])


class RandomBrightness(_ColorAugmentation):
    """x + delta per image, clipped to `value_range`; delta is drawn from `factor` (a number f means
    [-f, f]) times the width of `value_range`."""

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: int | None = None, **kwargs: Any):
        super().__init__(factor, value_range=value_range, seed=seed, **kwargs)
        self.value_range = self._value_range_sorted

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        shape = self._factor_shape(data)
        if not training:
            return {"rgb_delta": ops.zeros(shape)}
        delta = self._uniform(shape, self.factor[0], self.factor[1], self._rng(seed))
        return {"rgb_delta": ops.multiply(delta, self.value_range[1] - self.value_range[0])}

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Any:
        if not training:
            return images
        images = self._as_float(images)
        delta = ops.cast(as_tensor(transformation["rgb_delta"]), images.dtype)
        return ops.clip(ops.add(images, delta), self.value_range[0], self.value_range[1])
