"""Geometric augmentation layers: RandomFlip, RandomRotation, RandomZoom, RandomTranslation and
RandomCrop, with Keras 3's arguments, defaults, transformations and numbers.

Each call draws one transformation per image (one crop window per batch for RandomCrop, as in Keras
3) from the layer's seeded generator and applies it on the backend: flips as reversed views selected
per image, rotations, zooms and translations as one batched affine transform
(`gpukeras.ops.image.affine_transform`). Only when training; see image_layer.py.
"""

from __future__ import annotations

from typing import Any

from gpukeras import ops
from gpukeras.layers.preprocessing.image_layer import (
    AFFINE_FILL_MODES,
    AFFINE_INTERPOLATIONS,
    ImagePreprocessingLayer,
    as_tensor,
    check_choice,
    check_positive_int,
    is_number,
    rotation_matrix,
)
from gpukeras.layers.preprocessing.image_preprocessing import smart_resize
from gpukeras.ops import image as image_ops
from gpukeras.random import SeedGenerator, generator
from gpukeras.tensor import Tensor

HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL = "horizontal", "vertical", "horizontal_and_vertical"


def _check_fill_value(layer: str, fill_value: Any) -> None:
    if not is_number(fill_value):
        raise ValueError(f"{layer}: `fill_value` must be a number, got {fill_value!r}.")


class RandomFlip(ImagePreprocessingLayer):
    """Flips each image with probability 1/2: left-right ("horizontal"), upside down ("vertical"), or
    both at once ("horizontal_and_vertical": one draw per image flips both axes, as in Keras 3)."""

    _USE_BASE_FACTOR = False

    def __init__(self, mode: str = HORIZONTAL_AND_VERTICAL, seed: int | None = None, data_format: str | None = None,
                 **kwargs: Any):
        check_choice("RandomFlip", "mode", mode, (HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL))
        super().__init__(data_format=data_format, **kwargs)
        self.mode = mode
        self.seed = seed
        self.generator = SeedGenerator(seed)

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        if not training:
            return None
        shape = tuple(self._images_of(data).shape)
        flips_shape = (1, 1, 1) if len(shape) == 3 else (shape[0], 1, 1, 1)
        draws = self._uniform(flips_shape, 0.0, 1.0, self._rng(seed))
        return {"flips": ops.less_equal(draws, 0.5), "input_shape": shape}

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Tensor:
        images = ops.cast(images, self.dtype)
        return self._flip(images, transformation) if training else images

    def transform_segmentation_masks(self, segmentation_masks: Any, transformation: Any,
                                     training: bool = True) -> Tensor:
        return self.transform_images(segmentation_masks, transformation, training=training)

    def _flip(self, images: Tensor, transformation: Any) -> Tensor:
        """Each image or its reflection, as `flips` (N, 1, 1, 1) says."""
        if transformation is None:
            return images
        flips = as_tensor(transformation["flips"])
        h_axis, w_axis = self._spatial_axes(images.ndim)
        out = images
        if self.mode in (HORIZONTAL, HORIZONTAL_AND_VERTICAL):
            out = ops.where(flips, _reversed(out, w_axis), out)
        if self.mode in (VERTICAL, HORIZONTAL_AND_VERTICAL):
            out = ops.where(flips, _reversed(out, h_axis), out)
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed, "mode": self.mode}


def _reversed(x: Tensor, axis: int) -> Tensor:
    key = [slice(None)] * x.ndim
    key[axis] = slice(None, None, -1)
    return ops.getitem(x, tuple(key))


class _AffineAugmentation(ImagePreprocessingLayer):
    """What RandomRotation, RandomZoom and RandomTranslation share: the fill and interpolation
    arguments and the batched affine transform that applies their matrices."""

    def _set_affine_arguments(self, fill_mode: str, interpolation: str, fill_value: Any, seed: int | None) -> None:
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value
        self.seed = seed
        self.generator = SeedGenerator(seed)

    @staticmethod
    def _check_affine_arguments(layer: str, fill_mode: str, interpolation: str, fill_value: Any) -> None:
        check_choice(layer, "fill_mode", fill_mode, AFFINE_FILL_MODES)
        check_choice(layer, "interpolation", interpolation, AFFINE_INTERPOLATIONS)
        _check_fill_value(layer, fill_value)

    def _apply_matrix(self, images: Tensor, matrix: Any, interpolation: str) -> Tensor:
        return image_ops.affine_transform(images, matrix, interpolation=interpolation, fill_mode=self.fill_mode,
                                          fill_value=self.fill_value, data_format=self.data_format)

    def _affine_config(self) -> dict[str, Any]:
        return {"fill_mode": self.fill_mode, "interpolation": self.interpolation, "seed": self.seed,
                "fill_value": self.fill_value}


class RandomRotation(_AffineAugmentation):
    """Rotates each image about its centre by an angle drawn from `factor` (fractions of a full turn:
    0.1 means up to ±36°; (a, b) draws from [a, b]); points from outside are filled by `fill_mode`."""

    def __init__(self, factor: Any, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, data_format: str | None = None, **kwargs: Any):
        self._check_affine_arguments("RandomRotation", fill_mode, interpolation, fill_value)
        super().__init__(factor=factor, data_format=data_format, **kwargs)
        self._set_affine_arguments(fill_mode, interpolation, fill_value, seed)

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        if not training:
            return None
        shape = tuple(self._images_of(data).shape)
        batch, height, width = self._image_size(shape)
        angle = self._uniform((batch,), self.factor[0] * 360.0, self.factor[1] * 360.0, self._rng(seed))
        matrix = rotation_matrix(angle, height, width)
        if len(shape) == 3:
            matrix = ops.squeeze(matrix, 0)
        return {"angle": angle, "rotation_matrix": matrix, "image_height": height, "image_width": width,
                "batch_size": batch}

    def _transform_images(self, images: Tensor, transformation: Any, interpolation: str) -> Tensor:
        if transformation is None:
            return images
        return self._apply_matrix(images, transformation["rotation_matrix"], interpolation)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor, **self._affine_config()}


def _factor_range(layer: str, name: str, factor: Any, lowest_open: bool) -> tuple[float, float]:
    """(lower, upper) of a height/width factor: a number f means (-f, f); values in (-1, 1] for a
    zoom (`lowest_open`), [-1, 1] for a translation."""
    interval = "(-1.0, 1.0]" if lowest_open else "[-1.0, 1.0]"
    error = ValueError(f"{layer}: the `{name}` argument should be a number (or a list of two numbers) in the "
                       f"range {interval}. Received: {name}={factor}")

    def in_range(v: Any) -> bool:
        return is_number(v) and v <= 1.0 and (v > -1.0 if lowest_open else v >= -1.0)

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(map(in_range, factor)):
            raise error
        lower, upper = sorted(factor)
        return lower, upper
    if not in_range(factor):
        raise error
    return -abs(factor), abs(factor)


class RandomZoom(_AffineAugmentation):
    """Zooms each image about its centre by 1 + a draw from `height_factor` (and `width_factor`, or the
    same draw when it is None): positive values zoom out, negative ones zoom in."""

    _USE_BASE_FACTOR = False

    def __init__(self, height_factor: Any, width_factor: Any = None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 data_format: str | None = None, **kwargs: Any):
        height_range = _factor_range("RandomZoom", "height_factor", height_factor, lowest_open=True)
        width_range = None if width_factor is None else _factor_range("RandomZoom", "width_factor", width_factor,
                                                                      lowest_open=True)
        self._check_affine_arguments("RandomZoom", fill_mode, interpolation, fill_value)
        super().__init__(data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = height_range
        if width_range is not None:
            self.width_lower, self.width_upper = width_range
        self._set_affine_arguments(fill_mode, interpolation, fill_value, seed)

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        if not training:
            return None
        shape = tuple(self._images_of(data).shape)
        batch = shape[0] if len(shape) == 4 else 1
        rng = self._rng(seed)
        height_zoom = self._uniform((batch, 1), 1.0 + self.height_lower, 1.0 + self.height_upper, rng)
        width_zoom = height_zoom
        if self.width_factor is not None:
            width_zoom = self._uniform((batch, 1), 1.0 + self.width_lower, 1.0 + self.width_upper, rng)
        return {"height_zoom": height_zoom, "width_zoom": width_zoom, "input_shape": shape}

    def _transform_images(self, images: Tensor, transformation: Any, interpolation: str) -> Tensor:
        if transformation is None:
            return images
        zooms = ops.cast(ops.concatenate([as_tensor(transformation["width_zoom"]),
                                          as_tensor(transformation["height_zoom"])], axis=1), "float32")
        _, height, width = self._image_size(tuple(images.shape))
        return self._apply_matrix(images, _zoom_matrix(zooms, height, width), interpolation)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor,
                **self._affine_config()}


def _zoom_matrix(zooms: Tensor, height: int, width: int) -> Tensor:
    """Transforms (N, 8) scaling by zooms (N, 2) = (x zoom, y zoom) about the image centre."""
    x_zoom, y_zoom = ops.getitem(zooms, (slice(None), slice(0, 1))), ops.getitem(zooms, (slice(None), slice(1, 2)))
    x_offset = ops.multiply((float(width) - 1.0) / 2.0, ops.subtract(1.0, x_zoom))
    y_offset = ops.multiply((float(height) - 1.0) / 2.0, ops.subtract(1.0, y_zoom))
    zeros = ops.zeros_like(x_zoom)
    return ops.concatenate([x_zoom, zeros, x_offset, zeros, y_zoom, y_offset, zeros, zeros], axis=1)


class RandomTranslation(_AffineAugmentation):
    """Shifts each image by fractions of its height and width drawn from `height_factor` and
    `width_factor` (a number f means [-f, f]); uncovered points are filled by `fill_mode`."""

    _USE_BASE_FACTOR = False

    def __init__(self, height_factor: Any, width_factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0,
                 data_format: str | None = None, **kwargs: Any):
        height_range = _factor_range("RandomTranslation", "height_factor", height_factor, lowest_open=False)
        width_range = _factor_range("RandomTranslation", "width_factor", width_factor, lowest_open=False)
        self._check_affine_arguments("RandomTranslation", fill_mode, interpolation, fill_value)
        super().__init__(data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = height_range
        self.width_lower, self.width_upper = width_range
        self._set_affine_arguments(fill_mode, interpolation, fill_value, seed)

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        if not training:
            return None
        shape = tuple(self._images_of(data).shape)
        batch, height, width = self._image_size(shape)
        rng = self._rng(seed)
        dy = ops.multiply(self._uniform((batch, 1), self.height_lower, self.height_upper, rng), height)
        dx = ops.multiply(self._uniform((batch, 1), self.width_lower, self.width_upper, rng), width)
        return {"translations": ops.cast(ops.concatenate([dx, dy], axis=1), "float32"), "input_shape": shape}

    def _transform_images(self, images: Tensor, transformation: Any, interpolation: str) -> Tensor:
        if transformation is None:
            return images
        translations = as_tensor(transformation["translations"])
        dx = ops.getitem(translations, (slice(None), slice(0, 1)))
        dy = ops.getitem(translations, (slice(None), slice(1, 2)))
        ones, zeros = ops.ones_like(dx), ops.zeros_like(dx)
        matrix = ops.concatenate([ones, zeros, ops.negative(dx), zeros, ones, ops.negative(dy), zeros, zeros], axis=1)
        return self._apply_matrix(images, matrix, interpolation)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor,
                **self._affine_config()}


class RandomCrop(ImagePreprocessingLayer):
    """A random (height, width) window when training (one window for the whole batch, as in Keras 3;
    an input not larger than the window on both sides is cropped from its aspect-ratio centre and
    resized). At inference the largest centred window with the target aspect ratio, resized to
    (height, width): what Keras documents (tf.keras did so; Keras 3.15 returns the input uncropped,
    which then breaks the model's shapes)."""

    _USE_BASE_FACTOR = False

    def __init__(self, height: int, width: int, seed: int | None = None, data_format: str | None = None,
                 name: str | None = None, **kwargs: Any):
        check_positive_int("RandomCrop", "height", height)
        check_positive_int("RandomCrop", "width", width)
        super().__init__(name=name, data_format=data_format, **kwargs)
        self.height = int(height)
        self.width = int(width)
        self.seed = seed if seed is not None else int(generator().integers(0, 2**31 - 1))
        self.generator = SeedGenerator(seed)

    def get_random_transformation(self, data: Any, training: bool = True, seed: Any = None) -> Any:
        _, input_height, input_width = self._image_size(tuple(self._images_of(data).shape))
        if training and input_height > self.height and input_width > self.width:
            rng = self._rng(seed)
            top = int(float(rng.uniform(0, float(input_height - self.height + 1))))
            left = int(float(rng.uniform(0, float(input_width - self.width + 1))))
            return top, left
        crop_height = max(min(input_height, int(float(input_width * self.height) / self.width)), 1)
        crop_width = max(min(input_width, int(float(input_height * self.width) / self.height)), 1)
        return int(float(input_height - crop_height) / 2), int(float(input_width - crop_width) / 2)

    def transform_images(self, images: Any, transformation: Any, training: bool = True) -> Tensor:
        images = ops.cast(images, self.dtype)
        if not training:
            return smart_resize(images, (self.height, self.width), self.data_format)
        top, left = (int(v) for v in transformation)
        h_axis, w_axis = self._spatial_axes(images.ndim)
        key = [slice(None)] * images.ndim
        key[h_axis] = slice(top, top + self.height)
        key[w_axis] = slice(left, left + self.width)
        images = ops.getitem(images, tuple(key))
        if images.shape[h_axis] != self.height or images.shape[w_axis] != self.width:
            images = image_ops.resize(images, (self.height, self.width), data_format=self.data_format)
        return images

    def transform_segmentation_masks(self, segmentation_masks: Any, transformation: Any,
                                     training: bool = True) -> Tensor:
        return self.transform_images(segmentation_masks, transformation, training=training)

    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = list(input_shape)
        h_axis, w_axis = self._spatial_axes(len(shape))
        shape[h_axis], shape[w_axis] = self.height, self.width
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width, "seed": self.seed}
