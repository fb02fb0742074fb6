"""model.summary(): Keras 3's box table of layers, output shapes and parameter counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def readable_size(num_bytes: float) -> str:
    """Bytes with Keras's units (B, KB, MB, GB; base 1024, two decimals)."""
    for unit in ("B", "KB", "MB", "GB"):
        if num_bytes < 1024 or unit == "GB":
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} GB"


def _weight_bytes(weights: list) -> int:
    return sum(w.size * w.data.dtype.itemsize for w in weights)


def _rows(model: Any) -> tuple[list[str], list[int], list[list[str]]]:
    from gpukeras.layers.symbolic import InputLayer

    functional = hasattr(model, "_nodes")
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
    widths = [31, 22, 13] + ([21] if functional else [])
    rows = []
    if functional:
        for node in model._nodes:
            layer = node.layer
            shape = node.outputs.shape if hasattr(node.outputs, "shape") else [o.shape for o in node.outputs]
            sources = [] if isinstance(layer, InputLayer) else [
                f"{t.node.layer.name}[0][0]" for t in node.input_tensors() if hasattr(t, "node")]
            rows.append([f"{layer.name} ({type(layer).__name__})", str(shape),
                         f"{layer.count_params():,}" if layer.built else "0", ", ".join(sources) or "-"])
    else:
        for layer in model.layers:
            shape = model.output_shape_of(layer) if hasattr(model, "output_shape_of") else None
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            rows.append([f"{layer.name} ({type(layer).__name__})", "?" if shape is None else str(shape), params])
    return headers, widths, rows


def print_summary(model: Any, print_fn: Callable[[str], Any] | None = None) -> None:
    """Print (or hand to `print_fn`) the summary table of `model`."""
    out = print_fn or print
    headers, widths, rows = _rows(model)
    widths = [max(w, *(len(r[i]) for r in rows)) if rows else w for i, w in enumerate(widths)]

    def line(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values: list[str], edge: str) -> str:
        parts = [f" {v.rjust(w) if i == 2 else v.ljust(w)} " for i, (v, w) in enumerate(zip(values, widths))]
        return edge + edge.join(parts) + edge

    lines = [f'Model: "{model.name}"', line("┏", "━", "┳", "┓"), cells(headers, "┃"), line("┡", "━", "╇", "┩")]
    for i, row in enumerate(rows):
        lines.append(cells(row, "│"))
        lines.append(line("├", "─", "┼", "┤") if i < len(rows) - 1 else line("└", "─", "┴", "┘"))
    if not rows:
        lines.append(line("└", "─", "┴", "┘"))
    trainable = model.trainable_weights
    frozen = model.non_trainable_weights
    total = trainable + frozen
    for label, weights in (("Total", total), ("Trainable", trainable), ("Non-trainable", frozen)):
        count = sum(w.size for w in weights)
        lines.append(f" {label} params: {count:,} ({readable_size(_weight_bytes(weights))})")
    for text in lines:
        out(text)
