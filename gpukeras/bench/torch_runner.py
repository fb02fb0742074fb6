"""PyTorch eager on one workload: the usual hand loop (zero_grad, backward, step).

Same model, Adam(1e-3, eps=1e-7 as Keras), the loss from logits, a fresh shuffle per epoch.
The text models (W4, W5; torch_sequence.py) and the image models (W6-W9; torch_vision.py) also count
their accuracy each step, as Keras's `metrics=["accuracy"]` does. `--device gpu` runs on CUDA (cuDNN
with PyTorch's default settings) and reports torch.cuda.max_memory_allocated.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

if not __package__:  # run by path: siblings importable, the stdlib not shadowed
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here] + [_here]
    import _child as C  # noqa: E402
    import workloads as W  # noqa: E402
else:
    from gpukeras.bench import _child as C
    from gpukeras.bench import workloads as W


def build_model(torch: Any, w: W.Workload) -> Any:
    """The workload's model as nn.Sequential (NCHW for the convnet)."""
    nn = torch.nn
    mods: list[Any] = []
    if w.kind == "mlp":
        dims = w.dims()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            mods.append(nn.Linear(a, b))
            if i < len(dims) - 2:
                mods.append(nn.ReLU())
    else:
        cin = w.input_shape[2]
        for f in W.CNN_FILTERS:
            mods += [nn.Conv2d(cin, f, W.CNN_KERNEL), nn.ReLU(), nn.MaxPool2d(2)]
            cin = f
        mods += [nn.Flatten(), nn.Dropout(W.CNN_DROPOUT), nn.Linear(W.CNN_FLAT, W.NUM_CLASSES)]
    return nn.Sequential(*mods)


def _body(args: Any) -> dict[str, Any]:
    try:
        import torch
    except ImportError as exc:
        raise C.NotInstalled(f"torch: {exc}") from exc
    w = W.resolve(args.workload, args.seq_len)
    res = C.base_result("torch", w, args)
    if w.softmax_output:
        raise C.NotAvailable("the softmax-output MLPs (W1S, W2S) compare Keras-API frameworks; PyTorch users "
                             "train from logits (W1, W2)")
    dev = torch.device("cuda" if args.device == "gpu" else "cpu")
    if args.device == "gpu" and not torch.cuda.is_available():
        raise C.NotAvailable("torch has no CUDA device here")
    sync = torch.cuda.synchronize if args.device == "gpu" else (lambda: None)
    torch.manual_seed(0)
    n, batch = C.sizes(args, w)
    xh, yh = W.make_data(w, n)
    if len(w.input_shape) == 3:  # images: NHWC -> NCHW
        xh = xh.transpose(0, 3, 1, 2).copy()
    if w.is_text:
        xh = xh.astype("int64")  # token ids as nn.Embedding's usual LongTensor
    x = torch.from_numpy(xh).to(dev)
    y = torch.from_numpy(yh if yh.dtype.kind == "f" else yh.astype("int64")).to(dev)
    accuracy = None
    if w.is_text:
        if __package__:
            from gpukeras.bench import torch_sequence as TS
        else:  # run by path
            import torch_sequence as TS

        model, loss_fn, accuracy = TS.build(w)
        model = model.to(dev)
    elif w.is_vision:
        if __package__:
            from gpukeras.bench import torch_vision as TV
        else:  # run by path
            import torch_vision as TV

        model, loss_fn, accuracy = TV.build(w)
        model = model.to(dev)
    else:
        model, loss_fn = build_model(torch, w).to(dev), torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=W.LEARNING_RATE, eps=W.ADAM_EPSILON)
    gen = torch.Generator(device="cpu").manual_seed(1)
    steps = n // batch
    acc_total = torch.zeros((), device=dev)

    def train_step(bx: Any, by: Any) -> Any:
        opt.zero_grad(set_to_none=True)
        logits = model(bx)
        loss = loss_fn(logits, by)
        loss.backward()
        opt.step()
        if accuracy is not None:
            with torch.no_grad():
                acc_total.add_(accuracy(logits, by))
        return loss.detach()

    def epoch() -> float:
        model.train()
        acc_total.zero_()
        perm = torch.randperm(n, generator=gen).to(dev)
        total = torch.zeros((), device=dev)
        for s in range(steps):
            idx = perm[s * batch:(s + 1) * batch]
            total += train_step(x[idx], y[idx])
        sync()
        return float(total) / steps

    for _ in range(args.warmup):
        epoch()
    if args.device == "gpu":
        torch.cuda.reset_peak_memory_stats()
    times, cpu, loss = [], [], 0.0
    snap = C.cpu_snapshot()
    for _ in range(args.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = epoch()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    res.update(C.summarize(times, n, batch, snap, cpu))
    res["final_loss"] = loss
    if accuracy is not None:
        res["final_accuracy"] = float(acc_total) / steps
    chunk = min(steps, w.manual_chunk)
    batches = [(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]) for i in range(chunk)]

    def run_chunk() -> None:
        for bx, by in batches:
            train_step(bx, by)
        sync()

    res["manual_step_ms"] = 1000.0 * statistics.median(C.time_repeats(run_chunk, C.manual_repeats(args))) / chunk
    res["versions"] = {"torch": torch.__version__}
    res["threads"] = torch.get_num_threads()
    if args.device == "gpu":
        res["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    res["blas"] = C.blas_info()
    return res


def main(argv: list[str] | None = None) -> int:
    """Entry point: one workload, one JSON line."""
    return C.run_main("torch", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
