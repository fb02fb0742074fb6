"""GPU benchmarks of issue 12's convolution kernels, forward + backward, float32, CUDA-event medians:

1. depthwise: `ops.depthwise_conv` with bias and ReLU on MobileNetV2 shapes (batch 64, 56x56x144 stride 1
   and 28x28x192 stride 2, 3x3 same): our direct kernels (kernels/depthwise_conv.cu); the im2col +
   grouped-GEMM path it replaced (a grouped `conv` with C groups); the generic direct code on CuPy
   (kernels off); torch's `conv2d(groups=C)` (cuDNN) when torch has CUDA.
2. transposed: `ops.conv_transpose` on keras.io's autoencoder decoder shapes (batch 64, 14x14x32 -> 28x28x32
   and 7x7x32 -> 14x14x32, 3x3 stride 2 same): the direct input-gradient kernel (kernels/conv_input_grad.cu)
   against GEMM + col2im (the kernel's launcher switched off); torch's `conv_transpose2d`.
3. bilinear: UpSampling2D(2, "bilinear")'s op on (batch 32, 64x64x64): kernels/upsampling.cu against the
   generic code; torch's `interpolate(bilinear, align_corners=False)` (the same half-pixel rule).

Parts run in that order and are skipped once `--budget` seconds are spent; each is written out as soon as
it is done (vision.json, vision.md under --out). `--dry-run` runs the same code at tiny sizes without a GPU,
on the emulated CuPy (tests/emulation) or else on NumPy, to check the script: its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # a plain checkout: gpukeras importable
sys.path.append(str(HERE))
import bench_kernels_gpu as K  # noqa: E402  (its emulator set-up, timers, GPU name and versions)
import bench_sequence_gpu as S  # noqa: E402  (torch detection and timing)

# (batch, height, width, channels, strides)
DEPTHWISE = [(64, 56, 56, 144, 1), (64, 28, 28, 192, 2)]
TRANSPOSED = [(64, 14, 14, 32, 32), (64, 7, 7, 32, 32)]  # (batch, h, w, in channels, filters)
BILINEAR = [(32, 64, 64, 64)]
DRY = {"depthwise": [(2, 6, 6, 4, 1)], "transposed": [(2, 3, 3, 4, 3)], "bilinear": [(2, 4, 4, 3)]}


class _Switch:
    """Temporarily replace one attribute (a launcher) by a stand-in that declines every call."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name = owner, name

    def __enter__(self) -> None:
        self.saved = getattr(self.owner, self.name)
        setattr(self.owner, self.name, lambda *a, **k: None)

    def __exit__(self, *exc: Any) -> None:
        setattr(self.owner, self.name, self.saved)


def _step(keras: Any, fn: Callable[..., Any], arrays: list[np.ndarray]) -> Callable[[], None]:
    """forward + backward of fn(*arrays) w.r.t. every array, against a fixed upstream gradient."""
    tensors = [keras.Variable(a) for a in arrays]
    probe = fn(*tensors)
    dy = keras.ops.convert_to_tensor(np.random.default_rng(1).normal(size=probe.shape).astype("float32"))

    def step() -> None:
        with keras.GradientTape() as tape:
            loss = keras.ops.sum(fn(*tensors) * dy)
        tape.gradient(loss, tensors)

    return step


def _kernels_on_off(B: Any, timer: Callable, step: Callable[[], None], iters: int) -> dict[str, float]:
    if not hasattr(B, "use_kernels"):
        return {"generic_ms": timer(step, 1, iters)}
    saved = B.use_kernels
    try:
        B.use_kernels = True
        out = {"kernels_ms": timer(step, 2, iters)}
        B.use_kernels = False
        out["generic_ms"] = timer(step, 1, iters)
    finally:
        B.use_kernels = saved
    return out


def depthwise_part(keras: Any, timer: Callable, torch: Any, shape: tuple, iters: int) -> dict[str, Any]:
    from gpukeras.ops.convolution import conv_bias, depthwise_conv_bias

    n, h, w, c, s = shape
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(n, h, w, c)).astype("float32"), rng.normal(size=(3, 3, c, 1)).astype("float32"),
              rng.normal(size=(c,)).astype("float32")]
    B = keras.backend.get()
    row: dict[str, Any] = {"part": "depthwise", "shape": shape}
    row.update(_kernels_on_off(B, timer, _step(keras, lambda x, k, b: depthwise_conv_bias(
        x, k, b, s, "same", None, 1, "relu"), arrays), iters))
    grouped = _step(keras, lambda x, k, b: conv_bias(x, keras.ops.reshape(k, (3, 3, 1, c)), b, s, "same", None, 1, c,
                                                     "relu"), arrays)
    row["im2col_grouped_ms"] = timer(grouped, 1, iters)
    if torch is not None:
        x = torch.randn(n, c, h, w, device="cuda", requires_grad=True)
        k = torch.randn(c, 1, 3, 3, device="cuda", requires_grad=True)
        b = torch.randn(c, device="cuda", requires_grad=True)
        dy = torch.randn_like(torch.nn.functional.conv2d(x, k, b, s, 1, groups=c))
        row["torch_ms"] = S._torch_timer(torch, lambda: torch.relu(torch.nn.functional.conv2d(
            x, k, b, s, 1, groups=c)).backward(dy), 3, iters)
    return row


def transposed_part(keras: Any, timer: Callable, torch: Any, shape: tuple, iters: int) -> dict[str, Any]:
    n, h, w, cin, filters = shape
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(n, h, w, cin)).astype("float32"),
              rng.normal(size=(3, 3, filters, cin)).astype("float32")]
    step = _step(keras, lambda x, k: keras.ops.conv_transpose(x, k, 2, "same"), arrays)
    B = keras.backend.get()
    row: dict[str, Any] = {"part": "transposed", "shape": shape}
    if hasattr(B, "kernels"):
        row["direct_ms"] = timer(step, 2, iters)
        with _Switch(B.kernels.vision, "conv_input_grad"):
            row["gemm_col2im_ms"] = timer(step, 1, iters)
    else:
        row["generic_ms"] = timer(step, 1, iters)
    if torch is not None:
        x = torch.randn(n, cin, h, w, device="cuda", requires_grad=True)
        k = torch.randn(cin, filters, 3, 3, device="cuda", requires_grad=True)
        y = torch.nn.functional.conv_transpose2d(x, k, None, 2, 1, 1)
        dy = torch.randn_like(y)
        row["torch_ms"] = S._torch_timer(torch, lambda: torch.nn.functional.conv_transpose2d(
            x, k, None, 2, 1, 1).backward(dy), 3, iters)
    return row


def bilinear_part(keras: Any, timer: Callable, torch: Any, shape: tuple, iters: int) -> dict[str, Any]:
    from gpukeras.ops.resampling import upsample_bilinear

    rng = np.random.default_rng(0)
    step = _step(keras, lambda x: upsample_bilinear(x, (2, 2)), [rng.normal(size=shape).astype("float32")])
    row: dict[str, Any] = {"part": "bilinear", "shape": shape}
    row.update(_kernels_on_off(keras.backend.get(), timer, step, iters))
    if torch is not None:
        n, h, w, c = shape
        x = torch.randn(n, c, h, w, device="cuda", requires_grad=True)
        dy = torch.randn(n, c, 2 * h, 2 * w, device="cuda")
        row["torch_ms"] = S._torch_timer(torch, lambda: torch.nn.functional.interpolate(
            x, scale_factor=2, mode="bilinear", align_corners=False).backward(dy), 3, iters)
    return row


PARTS = {"depthwise": depthwise_part, "transposed": transposed_part, "bilinear": bilinear_part}


def markdown(r: dict[str, Any]) -> str:
    cols = ["kernels_ms", "direct_ms", "generic_ms", "im2col_grouped_ms", "gemm_col2im_ms", "torch_ms"]
    lines = [f"# gpukeras convolution-family kernels (issue 12) — {r['date']}", "", f"- GPU: {r['gpu']}",
             f"- mode: {r['mode']}", f"- versions: {json.dumps(r['versions'])}",
             "- float32, forward + backward, CUDA-event medians (ms); — where not measured", "",
             "| part | shape | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for row in r["rows"]:
        cells = " | ".join("—" if row.get(c) is None else f"{row[c]:.3f}" for c in cols)
        lines.append(f"| {row['part']} | {row['shape']} | {cells} |")
    lines += [f"| {label} | skipped: out of time |" + " |" * len(cols) for label in r["skipped"]]
    if r["errors"]:
        lines += ["", "Errors: " + "; ".join(r["errors"])]
    if r["mode"] != "gpu":
        lines += ["", f"Not a GPU measurement ({r['mode']}): tiny sizes, to check the script."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for vision.json / vision.md")
    parser.add_argument("--dry-run", action="store_true", help="no GPU, tiny sizes: rehearse the script")
    parser.add_argument("--budget", type=float, default=40.0, help="seconds; later parts are skipped after it")
    parser.add_argument("--iters", type=int, default=5, help="timed calls per figure")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    on_numpy = args.dry_run and not K._emulate_cupy()
    K._ON_NUMPY = on_numpy
    import gpukeras as keras

    keras.backend.set_backend("numpy" if on_numpy else "cupy")
    mode = "gpu" if not args.dry_run else ("dry-run on numpy" if on_numpy else "dry-run on emulated cupy")
    torch = None if args.dry_run else S._torch()
    result: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "mode": mode,
                              "gpu": K._gpu_name() if mode == "gpu" else "none (dry run)",
                              "versions": K._versions(), "rows": [], "skipped": [], "errors": [], "argv": sys.argv}
    timer = K._timer("numpy" if on_numpy else "cupy")
    iters = 2 if args.dry_run else args.iters
    sizes = DRY if args.dry_run else {"depthwise": DEPTHWISE, "transposed": TRANSPOSED, "bilinear": BILINEAR}
    for part, fn in PARTS.items():
        for shape in sizes[part]:
            label = f"{part} {shape}"
            if time.monotonic() - t_start > args.budget:
                result["skipped"].append(label)
                continue
            try:
                result["rows"].append(fn(keras, timer, torch, shape, iters))
                print(f"[vision] {label}: ok", flush=True)
            except Exception as exc:  # one broken part must not hide the others
                result["errors"].append(f"{label}: {type(exc).__name__}: {exc}"[:500])
                print(f"[vision] {label}: FAILED {type(exc).__name__}: {exc}", flush=True)
            (args.out / "vision.json").write_text(json.dumps(result, indent=2, default=str))
            (args.out / "vision.md").write_text(markdown(result))
    print(markdown(result))
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
