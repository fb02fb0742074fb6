"""keras.applications.imagenet_utils: Keras 3's image preprocessing modes, ImageNet class decoding, and the
input-shape rules every application shares.

`preprocess_input` works on NumPy arrays (on the host, in place for float arrays, as Keras 3 documents) and
on gpukeras Tensors (through gpukeras.ops). `decode_predictions` needs ImageNet's class index, a JSON file
Keras downloads: it is fetched once into the cache (`$GPUKERAS_HOME/models/`, or Keras's own
`~/.keras/models/` copy) and checked by hash; without a network the error names the URL and the path where
a copy can be placed by hand (or `decode_predictions(..., class_index=PATH)` reads a local copy).
"""

from __future__ import annotations

import json
import numbers
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras import backend, ops
from gpukeras.datasets import cache
from gpukeras.keras_tensor import KerasTensor
from gpukeras.tensor import Tensor

CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_ORIGIN = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"  # the hash Keras 3 pins for that file

MODES = ("caffe", "tf", "torch")
DATA_FORMATS = ("channels_first", "channels_last")
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)

_class_index: dict[str, list[str]] | None = None


# ---------------------------------------------------------------------- preprocessing
def preprocess_input(x: Any, data_format: str | None = None, mode: str = "caffe") -> Any:
    """Images with values in [0, 255] prepared as a model trained in `mode` expects.

    caffe: RGB to BGR, then each channel minus ImageNet's mean (no scaling); tf: scaled to [-1, 1];
    torch: scaled to [0, 1], then each channel standardized with ImageNet's mean and std. A float NumPy
    array is overwritten (as in Keras 3: pass `numpy.copy(x)` to keep it); integers become float32.
    """
    if mode not in MODES:
        raise ValueError(f"`mode` must be 'caffe', 'tf' or 'torch'. Received: mode={mode!r}")
    data_format = _data_format(data_format)
    if isinstance(x, KerasTensor):
        raise ValueError("preprocess_input: gpukeras applies it to arrays and tensors, not to symbolic inputs "
                         "(KerasTensors from keras.Input): preprocess the data before calling the model, or "
                         "put a Rescaling/Normalization layer in the model.")
    if isinstance(x, Tensor):
        return _preprocess_tensor(x, data_format, mode)
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    return _preprocess_array(x, data_format, mode)


def _data_format(data_format: str | None) -> str:
    if data_format is None:
        return backend.image_data_format()
    if data_format not in DATA_FORMATS:
        raise ValueError("`data_format` must be 'channels_last', 'channels_first' or None. Received: "
                         f"data_format={data_format!r}")
    return data_format


def _channel_index(ndim: int, data_format: str, channel: int) -> tuple:
    """The index selecting one colour channel of a 3-D image or a 4-D batch."""
    if data_format == "channels_last":
        return (Ellipsis, channel)
    return (channel,) if ndim == 3 else (slice(None), channel)


def _preprocess_array(x: np.ndarray, data_format: str, mode: str) -> np.ndarray:
    """NumPy path: in place on float arrays, channel by channel as Keras 3 computes it."""
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype("float32")
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        mean, std = TORCH_MEAN, TORCH_STD
    else:
        x = _reverse_channels_view(x, data_format)
        mean, std = CAFFE_MEAN_BGR, None
    for c in range(3):
        x[_channel_index(x.ndim, data_format, c)] -= mean[c]
        if std is not None:
            x[_channel_index(x.ndim, data_format, c)] /= std[c]
    return x


def _reverse_channels_view(x: np.ndarray, data_format: str) -> np.ndarray:
    """RGB to BGR as a view of `x` (writing through it changes `x`, as Keras 3's NumPy path does)."""
    if data_format == "channels_last":
        return x[..., ::-1]
    return x[::-1, ...] if x.ndim == 3 else x[:, ::-1, ...]


def _preprocess_tensor(x: Tensor, data_format: str, mode: str) -> Tensor:
    """Tensor path, through gpukeras.ops: the same numbers as the NumPy path."""
    if not str(x.dtype).startswith(("float", "bfloat")):
        x = ops.cast(x, "float32")
    if mode == "tf":
        return ops.subtract(ops.divide(x, 127.5), 1.0)
    if mode == "torch":
        x = ops.divide(x, 255.0)
        mean, std = TORCH_MEAN, TORCH_STD
    else:
        channel_axis = -1 if data_format == "channels_last" else (0 if x.ndim == 3 else 1)
        x = ops.take(x, [2, 1, 0], axis=channel_axis)
        mean, std = CAFFE_MEAN_BGR, None
    shape = _channel_shape(x.ndim, data_format)
    x = ops.subtract(x, ops.reshape(ops.convert_to_tensor(np.asarray(mean), dtype=x.dtype), shape))
    if std is not None:
        x = ops.divide(x, ops.reshape(ops.convert_to_tensor(np.asarray(std), dtype=x.dtype), shape))
    return x


def _channel_shape(ndim: int, data_format: str) -> tuple[int, ...]:
    """Shape of a per-channel constant that broadcasts against an image or batch of rank `ndim`."""
    if data_format == "channels_last":
        return (1,) * (ndim - 1) + (3,)
    return (3, 1, 1) if ndim == 3 else (1, 3) + (1,) * (ndim - 2)


def passthrough_preprocess_input(x: Any, data_format: str | None = None) -> Any:
    """The input unchanged: these models rescale inside themselves (a Rescaling layer); kept for Keras's API."""
    return x


# ---------------------------------------------------------------------- decoding
def decode_predictions(preds: Any, top: int = 5, *, class_index: str | os.PathLike | None = None
                       ) -> list[list[tuple[str, str, float]]]:
    """The `top` (class id, description, score) triples of each row of ImageNet predictions, best first.

    Reads ImageNet's class index (see the module docstring for where it comes from without a network);
    `class_index` (a gpukeras extension) names a local copy of that JSON file to read instead.
    """
    shape = tuple(np.shape(preds)) if not isinstance(preds, Tensor) else tuple(preds.shape)
    if len(shape) != 2 or shape[1] != 1000:
        raise ValueError("decode_predictions takes a batch of ImageNet predictions, an array of shape "
                         f"(samples, 1000). Received an array of shape {shape}.")
    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or not 1 <= top <= 1000:
        raise ValueError(f"`top` must be an integer from 1 to 1000. Received: top={top!r}")
    index = _load_class_index() if class_index is None else read_class_index(class_index)
    results = []
    for row in np.asarray(ops.convert_to_numpy(preds) if isinstance(preds, Tensor) else preds):
        best = row.argsort()[-top:][::-1]
        entries = [(*index[str(i)], row[i]) for i in best]
        entries.sort(key=lambda entry: entry[2], reverse=True)
        results.append(entries)
    return results


def _load_class_index() -> dict[str, list[str]]:
    """ImageNet's {"0": ["n01440764", "tench"], ...}, from the cache (downloaded once, hash-checked)."""
    global _class_index
    if _class_index is None:
        _class_index = read_class_index(cache.get_file(CLASS_INDEX_FILE, CLASS_INDEX_ORIGIN,
                                                       file_hash=CLASS_INDEX_MD5, cache_subdir="models"))
    return _class_index


def read_class_index(path: str | os.PathLike) -> dict[str, list[str]]:
    """A class index JSON file, checked: keys "0" to "999", each a [WordNet id, description] pair."""
    with open(path, encoding="utf-8") as f:
        index = json.load(f)
    expected = {str(i) for i in range(1000)}
    if not isinstance(index, dict) or set(index) != expected or not all(
            isinstance(v, list) and len(v) == 2 and all(isinstance(s, str) for s in v) for v in index.values()):
        raise ValueError(f"{os.fspath(path)!r} is not ImageNet's class index: expected a JSON object with keys "
                         '"0" to "999", each a [WordNet id, description] pair (as in '
                         f"{CLASS_INDEX_ORIGIN}).")
    return index


# ---------------------------------------------------------------------- shared model rules
def obtain_input_shape(input_shape: Sequence[int | None] | None, default_size: int, min_size: int,
                       data_format: str, require_flatten: bool, weights: Any = None) -> tuple:
    """The per-sample input shape a model is built for (Keras 3's rules).

    Without `input_shape`: the default (size x size x 3) when the top needs a fixed size, else spatial
    dimensions None. With it: three dimensions, each spatial one None or at least `min_size`; with "imagenet"
    weights, 3 channels (and exactly the default shape when `require_flatten`). A channel count other
    than 1 or 3 (without ImageNet weights) only warns.
    """
    channels_first = data_format == "channels_first"
    given = checked_input_shape(input_shape)
    channels = 3
    if weights != "imagenet" and given is not None:
        channels = given[0] if channels_first else given[-1]
        if channels not in (1, 3):
            warnings.warn(f"input_shape={input_shape} has {channels} channels: these models are usually fed "
                          "1 (grey) or 3 (RGB) channels.", stacklevel=3)
    default_shape = (channels, default_size, default_size) if channels_first else \
        (default_size, default_size, channels)
    if weights == "imagenet" and require_flatten:
        if given is not None and given != default_shape:
            raise ValueError(f"input_shape={input_shape}: the ImageNet weights of this model's top "
                             f"(include_top=True) only fit input_shape={default_shape}; pass that shape, or "
                             "include_top=False for other sizes.")
        return default_shape
    if given is not None:
        spatial = given[1:] if channels_first else given[:2]
        given_channels = given[0] if channels_first else given[-1]
        if weights == "imagenet" and given_channels != 3:
            raise ValueError(f"input_shape={input_shape}: the ImageNet weights need 3 (RGB) channels.")
        if any(d is not None and d < min_size for d in spatial):
            raise ValueError(f"input_shape={input_shape}: images must be at least {min_size}x{min_size} for this "
                             "model.")
        shape = given
    elif require_flatten:
        shape = default_shape
    else:
        shape = (3, None, None) if channels_first else (None, None, 3)
    if require_flatten and None in shape:
        raise ValueError(f"input_shape={tuple(shape)}: with include_top=True the top needs fixed image sizes "
                         "(no None); pass them in `input_shape`, or use include_top=False.")
    return shape


def checked_input_shape(input_shape: Any) -> tuple | None:
    """`input_shape` as a tuple of three entries, each a positive integer or None (None or () for no shape)."""
    if input_shape is None:
        return None
    if not isinstance(input_shape, (list, tuple)):
        raise ValueError(f"`input_shape` must be a tuple of three integers (height, width, channels). Received: "
                         f"input_shape={input_shape!r}")
    if len(input_shape) == 0:
        return None
    if len(input_shape) != 3 or not all(
            d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0) for d in input_shape):
        raise ValueError(f"`input_shape` must be a tuple of three positive integers or None (height, width, "
                         f"channels). Received: input_shape={input_shape!r}")
    return tuple(None if d is None else int(d) for d in input_shape)


def correct_pad(inputs: Any, kernel_size: int | tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """ZeroPadding2D's padding before a strided 'valid' convolution that reproduces TensorFlow's 'same'
    (channels_last inputs; one less on the leading side of an even dimension)."""
    size = tuple(inputs.shape[1:3])
    kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    half = (kernel[0] // 2, kernel[1] // 2)
    return ((half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1]))
