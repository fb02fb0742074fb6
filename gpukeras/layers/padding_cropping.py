"""Layers that add zeros around, or cut rows off, the spatial axes: ZeroPadding1D/2D/3D, Cropping1D/2D/3D."""

from __future__ import annotations

from typing import Any

from gpukeras.layers.convolution import check_input_rank
from gpukeras.layers.layer import Layer
from gpukeras.ops.convolution import normalize_data_format, normalize_tuple
from gpukeras.ops.resampling import crop, spatial_axes, zero_pad

_ORDINALS = ("1st", "2nd", "3rd")


def normalize_borders(value: Any, rank: int, name: str, cls: str) -> tuple[tuple[int, int], ...]:
    """Keras's spellings of per-axis borders as ((before, after), ...): an int for every side, or one
    entry per spatial axis, each an int (both sides) or a (before, after) pair; all >= 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{cls}: `{name}` cannot be negative. Received: {name}={value}.")
        return ((value, value),) * rank
    if not hasattr(value, "__len__") or isinstance(value, str) or len(value) != rank:
        raise ValueError(f"{cls}: `{name}` should be an int or a tuple of {rank} entries, each an int or a tuple "
                         f"of 2 ints (before, after). Received: {name}={value!r}.")
    return tuple(normalize_tuple(v, 2, f"{_ORDINALS[i]} entry of {name}", allow_zero=True)
                 for i, v in enumerate(value))


class _Borders(Layer):
    """Padding or cropping of `rank` spatial axes by ((before, after), ...)."""

    rank = 2
    argument = "padding"

    def __init__(self, borders: Any, data_format: str | None = None, **kwargs: Any):
        cls = type(self).__name__
        if self.rank == 1:
            borders = (normalize_tuple(borders, 2, self.argument, allow_zero=True),)
        else:
            borders = normalize_borders(borders, self.rank, self.argument, cls)
        data_format = normalize_data_format(data_format)
        super().__init__(**kwargs)
        self._borders = borders
        self.data_format = data_format

    def _axes(self) -> list[int]:
        return spatial_axes(self.rank + 2, self.data_format)

    def build(self, input_shape: Any) -> None:
        check_input_rank(self, input_shape, self.rank + 2)
        self.built = True

    def _value(self) -> Any:
        """The argument as Keras 3 stores it: (before, after) in 1-D, one such pair per axis otherwise."""
        return self._borders[0] if self.rank == 1 else self._borders


class _ZeroPadding(_Borders):
    argument = "padding"

    @property
    def padding(self) -> Any:
        return self._value()

    def call(self, inputs: Any) -> Any:
        check_input_rank(self, inputs.shape, self.rank + 2)
        return zero_pad(inputs, self._borders, self.data_format)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        check_input_rank(self, input_shape, self.rank + 2)
        out = list(input_shape)
        for ax, (lo, hi) in zip(self._axes(), self._borders):
            out[ax] = None if out[ax] is None else out[ax] + lo + hi
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after the steps axis: padding an int or (before, after)."""

    rank = 1

    def __init__(self, padding: Any = 1, data_format: str | None = None, **kwargs: Any):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Zero rows and columns around images: an int, (rows, cols), or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None, **kwargs: Any):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Zeros around volumes: an int, 3 ints, or 3 (before, after) pairs."""

    rank = 3

    def __init__(self, padding: Any = ((1, 1), (1, 1), (1, 1)), data_format: str | None = None, **kwargs: Any):
        super().__init__(padding, data_format, **kwargs)


class _Cropping(_Borders):
    argument = "cropping"

    @property
    def cropping(self) -> Any:
        return self._value()

    def _check_fits(self, shape: Any, what: str) -> None:
        for ax, (lo, hi) in zip(self._axes(), self._borders):
            if shape[ax] is not None and lo + hi >= shape[ax]:
                raise ValueError(f"{type(self).__name__}: values in `cropping` should be smaller than the "
                                 f"corresponding spatial dimension of the input. Received: {what}={tuple(shape)}, "
                                 f"cropping={self.cropping}")

    def call(self, inputs: Any) -> Any:
        check_input_rank(self, inputs.shape, self.rank + 2)
        self._check_fits(inputs.shape, "inputs.shape")
        return crop(inputs, self._borders, self.data_format)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        check_input_rank(self, input_shape, self.rank + 2)
        self._check_fits(input_shape, "input_shape")
        out = list(input_shape)
        for ax, (lo, hi) in zip(self._axes(), self._borders):
            out[ax] = None if out[ax] is None else out[ax] - lo - hi
        return tuple(out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}


class Cropping1D(_Cropping):
    """Cut `cropping` = (before, after) steps off (batch, steps, features); channels_last only, as Keras."""

    rank = 1

    def __init__(self, cropping: Any = (1, 1), **kwargs: Any):
        super().__init__(cropping, None, **kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["data_format"]
        return config


class Cropping2D(_Cropping):
    """Cut rows and columns off images: an int, (rows, cols), or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None, **kwargs: Any):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Cut entries off volumes: an int, 3 ints, or 3 (before, after) pairs."""

    rank = 3

    def __init__(self, cropping: Any = ((1, 1), (1, 1), (1, 1)), data_format: str | None = None, **kwargs: Any):
        super().__init__(cropping, data_format, **kwargs)
