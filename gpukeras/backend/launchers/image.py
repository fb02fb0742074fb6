"""Launcher of kernels/affine_sample.cu: the batched affine/projective image sampling behind
RandomRotation, RandomZoom and RandomTranslation (keras.ops.image.affine_transform)."""

from __future__ import annotations

from typing import Any

import cupy
import numpy as np

from gpukeras.backend.launchers.base import BLOCK, Launcher, is_number

Array = Any
FILL_MODE_IDS = {"constant": 0, "nearest": 1, "wrap": 2, "mirror": 3, "reflect": 4}
ORDERS = {"nearest": 0, "bilinear": 1}


class AffineSample(Launcher):
    """y[b, ...] = images[b] sampled at the points transform[b] maps each output pixel to, one thread per
    output element; float images in either layout, transforms (N, 8) read as float32 (as the twin)."""

    kernel = "gk_affine_sample"

    def __call__(self, images: Array, transform: Array, interpolation: str, fill_mode: str, fill_value: Any,
                 channels_first: bool) -> Array | None:
        suffix = self.suffix(images)
        if (suffix is None or images.ndim != 4 or images.size == 0 or not is_number(fill_value)
                or fill_mode not in FILL_MODE_IDS or interpolation not in ORDERS
                or not isinstance(transform, cupy.ndarray) or transform.shape != (images.shape[0], 8)):
            return None
        x = cupy.ascontiguousarray(images)
        t = cupy.ascontiguousarray(transform.astype(cupy.float32, copy=False))
        n = x.shape[0]
        c, h, w = x.shape[1:] if channels_first else (x.shape[3], x.shape[1], x.shape[2])
        y = cupy.empty_like(x)
        fill = float(np.asarray(fill_value, dtype=x.dtype))  # the twin fills with fill_value in the images' dtype
        ok = self.launch(suffix, (self.device.grid(y.size),), (BLOCK,), x, t, y, n, h, w, c, int(bool(channels_first)),
                         ORDERS[interpolation], FILL_MODE_IDS[fill_mode], fill)
        return y if ok else None
