"""InputSpec: what a layer accepts (rank, dimensions, dtype), checked on every call as Keras 3 does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import tree


class InputSpec:
    """Constraints on one input of a layer: `ndim`, `min_ndim`/`max_ndim`, a full `shape` (None dimensions
    free), `axes` {axis: size} and `dtype`. Assign one (or a list, one per input) to `layer.input_spec`."""

    def __init__(self, dtype: Any = None, shape: Sequence[int | None] | None = None, ndim: int | None = None,
                 max_ndim: int | None = None, min_ndim: int | None = None, axes: dict[int, int] | None = None,
                 allow_last_axis_squeeze: bool = False, name: str | None = None, optional: bool = False):
        self.dtype = None if dtype is None else str(dtype)
        self.shape = None if shape is None else tuple(shape)
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.axes = {int(k): int(v) for k, v in (axes or {}).items()}
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name, self.optional = name, optional

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> InputSpec:
        return cls(**config)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if v not in (None, {}))
        return f"InputSpec({items})"


def check_input_spec(specs: Any, inputs: Any, layer_name: str) -> None:
    """ValueError naming the input, the layer and the constraint when `inputs` break `specs`."""
    spec_list = list(specs) if isinstance(specs, (list, tuple)) else [specs]
    values = tree.flatten(inputs)
    if len(spec_list) != len(values) and len(spec_list) != 1:
        raise ValueError(f"Layer {layer_name!r} expects {len(spec_list)} input(s), but it received {len(values)}.")
    for i, (spec, x) in enumerate(zip(spec_list * (len(values) if len(spec_list) == 1 else 1), values)):
        if spec is None or (x is None and spec.optional):
            continue
        shape = tuple(getattr(x, "shape", ()))
        where = f"Input {i} of layer {layer_name!r} is incompatible with the layer:"
        if spec.ndim is not None and len(shape) != spec.ndim and not (
                spec.allow_last_axis_squeeze and abs(len(shape) - spec.ndim) == 1):
            raise ValueError(f"{where} expected ndim={spec.ndim}, found ndim={len(shape)}. Full shape: {shape}")
        if spec.max_ndim is not None and len(shape) > spec.max_ndim:
            raise ValueError(f"{where} expected max_ndim={spec.max_ndim}, found ndim={len(shape)}. Full shape: "
                             f"{shape}")
        if spec.min_ndim is not None and len(shape) < spec.min_ndim:
            raise ValueError(f"{where} expected min_ndim={spec.min_ndim}, found ndim={len(shape)}. Full shape: "
                             f"{shape}")
        if spec.dtype is not None and str(getattr(x, "dtype", spec.dtype)) != spec.dtype:
            raise ValueError(f"{where} expected dtype={spec.dtype}, found dtype={x.dtype}.")
        for axis, size in spec.axes.items():
            if -len(shape) <= axis < len(shape) and shape[axis] not in (None, size):
                raise ValueError(f"{where} expected axis {axis} of input shape to have value {size}, but received "
                                 f"input with shape {shape}.")
        if spec.shape is not None and len(shape) == len(spec.shape):
            for want, got in zip(spec.shape, shape):
                if want is not None and got is not None and want != got:
                    raise ValueError(f"{where} expected shape={spec.shape}, found shape={shape}.")
