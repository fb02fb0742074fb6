"""model.summary(): Keras 3's box table of layers, output shapes and parameter counts.

Every argument of Keras's `summary` works: `line_length` (total width), `positions` (where each
column ends, as fractions of the width or as absolute character positions), `print_fn` (gets the
whole text, as in Keras 3), `expand_nested` (nested models' layers indented below them),
`show_trainable` (a Y/N/- column) and `layer_range` (two names or regexes, both ends included).
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from gpukeras.layers.input_layer import InputLayer
from gpukeras.tree import map_structure


def readable_size(num_bytes: float) -> str:
    """Bytes with Keras's units (B, KB, MB, GB; base 1024, two decimals)."""
    for unit in ("B", "KB", "MB", "GB"):
        if num_bytes < 1024 or unit == "GB":
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} GB"


def _weight_bytes(weights: list) -> int:
    unique = {id(w): w for w in weights}.values()
    return sum(w.size * w.data.dtype.itemsize for w in unique)


def _count(weights: list) -> int:
    return sum(w.size for w in {id(w): w for w in weights}.values())


def _is_graph(model: Any) -> bool:
    """A functional model whose graph is more than a chain (Keras then adds a "Connected to" column)."""
    nodes = [n for n in getattr(model, "_nodes", []) if not isinstance(n.layer, InputLayer)]
    if not nodes:
        return False
    layers = [n.layer for n in nodes]
    return len({id(layer) for layer in layers}) < len(layers) or any(len(n.input_tensors()) > 1 for n in nodes) \
        or len(getattr(model, "inputs", [])) > 1 or len(getattr(model, "outputs", [])) > 1


def _output_shape(model: Any, layer: Any) -> str:
    nodes = [n for n in getattr(model, "_nodes", []) if n.layer is layer]
    if nodes:
        out = nodes[-1].outputs
        return str(out.shape) if hasattr(out, "shape") else str(map_structure(lambda t: t.shape, out))
    if hasattr(model, "output_shape_of"):
        shape = model.output_shape_of(layer)
        if shape is not None:
            return str(shape)
    return "?"


def _connections(model: Any, layer: Any) -> str:
    sources = [f"{t.node.layer.name}[0][0]" for n in getattr(model, "_nodes", []) if n.layer is layer
               for t in n.input_tensors() if hasattr(t, "node")]
    return ", ".join(sources) or "-"


def _params(layer: Any) -> str:
    return f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"


def _trainable_mark(layer: Any) -> str:
    if not layer.weights:
        return "-"
    return "Y" if layer.trainable else "N"


def _select(layers: list[Any], layer_range: Any) -> list[Any]:
    """Layers from the first matching `layer_range[0]` to the last matching `layer_range[1]`, inclusive."""
    if layer_range is None:
        return layers
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2 or not all(
            isinstance(p, str) for p in layer_range):
        raise ValueError(f"layer_range must be two layer names (or regexes), got {layer_range!r}.")
    starts = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    ends = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not starts or not ends:
        missing = layer_range[0] if not starts else layer_range[1]
        raise ValueError(f"layer_range: no layer matches {missing!r}; layers are {[la.name for la in layers]}.")
    if ends[-1] < starts[0]:
        raise ValueError(f"layer_range: {layer_range[1]!r} comes before {layer_range[0]!r} in the model.")
    return layers[starts[0]:ends[-1] + 1]


def _column_widths(positions: Sequence[float], line_length: int) -> list[int]:
    """Column widths from their end positions: fractions of `line_length`, or absolute character positions."""
    ends = [int(p * line_length) for p in positions] if all(p <= 1 for p in positions) else [int(p) for p in
                                                                                            positions]
    widths, start = [], 0
    for end in ends:
        if end - start < 4:
            raise ValueError(f"Insufficient width to print the summary: positions {list(positions)} with "
                             f"line_length {line_length} leave a column narrower than 4 characters.")
        widths.append(end - start)
        start = end
    return widths


_JUSTIFY = {"left": str.ljust, "right": str.rjust, "center": str.center}


def _render(headers: list[str], rows: list[list[str]], widths: list[int], align: list[str]) -> list[str]:
    """A box table whose cells wrap to the column widths (each cell has one space of padding a side)."""
    inner = [max(1, w - 3) for w in widths]  # border and a space each side; the table is sum(widths) wide
    inner[-1] = max(1, inner[-1] - 1)

    def rule(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in inner) + right

    def cells(values: list[str], edge: str) -> list[str]:
        wrapped = [textwrap.wrap(v, w, break_on_hyphens=False) or [""] for v, w in zip(values, inner)]
        out = []
        for k in range(max(len(c) for c in wrapped)):
            parts = []
            for lines, w, a in zip(wrapped, inner, align):
                text = lines[k] if k < len(lines) else ""
                parts.append(" " + _JUSTIFY[a](text, w) + " ")
            out.append(edge + edge.join(parts) + edge)
        return out

    lines = [rule("┏", "━", "┳", "┓"), *cells(headers, "┃"), rule("┡", "━", "╇", "┩")]
    for i, row in enumerate(rows):
        lines += cells(row, "│")
        lines.append(rule("├", "─", "┼", "┤") if i < len(rows) - 1 else rule("└", "─", "┴", "┘"))
    if not rows:
        lines.append(rule("└", "─", "┴", "┘"))
    return lines


def print_summary(model: Any, line_length: int | None = None, positions: Sequence[float] | None = None,
                  print_fn: Callable[[str], Any] | None = None, expand_nested: bool = False,
                  show_trainable: bool = False, layer_range: Any = None) -> None:
    """Print (or hand to `print_fn`) the summary table of `model`."""
    graph = _is_graph(model)
    if graph:
        headers, align, default_length = ["Layer (type)", "Output Shape", "Param #", "Connected to"], \
            ["left", "left", "right", "left"], 108
        positions = positions or [0.3, 0.56, 0.74, 1.0]
    else:
        headers, align, default_length = ["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"], 88
        positions = positions or [0.45, 0.80, 1.0]
    if show_trainable:
        default_length += 12
        if all(p <= 1 for p in positions):
            positions = [p * 0.9 for p in positions] + [1.0]
        else:
            positions = list(positions) + [positions[-1] + 12]
        headers, align = headers + ["Trainable"], align + ["center"]
    if len(positions) != len(headers):
        raise ValueError(f"positions must give {len(headers)} column ends for columns {headers}, got {positions}.")
    if line_length is None:
        line_length = min(default_length, shutil.get_terminal_size((default_length + 4, 24)).columns - 4)
    widths = _column_widths(positions, line_length)

    def rows_of(owner: Any, layer: Any, depth: int) -> list[list[str]]:
        prefix = "   " * depth + "└ " if depth else ""
        row = [f"{prefix}{layer.name} ({type(layer).__name__})", _output_shape(owner, layer), _params(layer)]
        if graph:
            row.append(_connections(owner, layer) if depth == 0 else "")
        if show_trainable:
            row.append(_trainable_mark(layer))
        out = [row]
        if expand_nested and getattr(layer, "layers", None):
            for inner in layer.layers:
                out += rows_of(layer, inner, depth + 1)
        return out

    layers = list(getattr(model, "operations", model.layers))  # Keras 3 lists operation nodes too
    rows = [row for layer in _select(layers, layer_range) for row in rows_of(model, layer, 0)]
    lines = [f'Model: "{model.name}"', *_render(headers, rows, widths, align)]
    trainable, frozen = model.trainable_weights, model.non_trainable_weights
    optimizer = getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None
    opt_vars = list(optimizer.variables) if optimizer is not None and optimizer.built else []
    total = trainable + frozen + opt_vars
    for label, weights in (("Total", total), ("Trainable", trainable), ("Non-trainable", frozen)):
        lines.append(f" {label} params: {_count(weights):,} ({readable_size(_weight_bytes(weights))})")
    if opt_vars:
        lines.append(f" Optimizer params: {_count(opt_vars):,} ({readable_size(_weight_bytes(opt_vars))})")
    text = "\n".join(lines)
    if print_fn is None:
        print(text)
    else:
        print_fn(text)
