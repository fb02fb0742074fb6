"""gpukeras on one workload through the public API: Sequential, compile, fit(verbose=0).

Epochs are timed by a Callback (on_epoch_begin/end) inside one `fit` call; the first
`--warmup` epochs are dropped. Also reports the per-step time of a `train_on_batch` loop.
`--variant numpy|cupy` picks the backend (GPUKERAS_BACKEND); `--step compiled|eager` the training step
(compile's jit_compile=True or False: the "gpukeras" and "gpukeras-eager" rows); `--step plan` the compiled
step without CUDA graphs (GPUKERAS_STEP_GRAPHS=0: the "gpukeras-nographs" row, equal to "gpukeras" on NumPy).
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
    import sequence_models as SM  # noqa: E402
    import small_models as MM  # noqa: E402
    import vision_models as VM  # noqa: E402
    import workloads as W  # noqa: E402
else:
    from gpukeras.bench import _child as C
    from gpukeras.bench import sequence_models as SM
    from gpukeras.bench import small_models as MM
    from gpukeras.bench import vision_models as VM
    from gpukeras.bench import workloads as W

import numpy as np  # noqa: E402


def has_conv(keras: Any) -> bool:
    """True when gpukeras has the layers W3 needs."""
    return all(hasattr(keras.layers, n) for n in ("Conv2D", "MaxPooling2D", "Flatten", "Dropout"))


def build_model(keras: Any, w: W.Workload) -> Any:
    """The workload's model, compiled with Adam(1e-3) and sparse CE from logits, or from a softmax output with
    accuracy (W1S, W2S; text and image models: as sequence_models and vision_models write them)."""
    if w.is_text:
        return SM.build(keras, w)
    if w.is_vision:
        return VM.build(keras, w)
    if w.kind == "cnn" and not has_conv(keras):
        raise C.NotAvailable("gpukeras has no Conv2D/MaxPooling2D yet")
    return MM.build(keras, w)


def _row_name(args: Any) -> str:
    """The table row this run fills: gpukeras, gpukeras-eager, gpukeras-nographs, gpukeras-<policy> or
    gpukeras-<n>ranks."""
    if args.ranks > 1:
        return f"gpukeras-{args.ranks}ranks"
    if args.policy != "float32":
        return f"gpukeras-{args.policy}"
    return {"eager": "gpukeras-eager", "plan": "gpukeras-nographs"}.get(args.step, "gpukeras")


def _body(args: Any) -> dict[str, Any]:
    if args.step == "plan":  # the compiled step replayed call by call, never captured as a CUDA graph
        os.environ["GPUKERAS_STEP_GRAPHS"] = "0"
    if args.variant:
        os.environ["GPUKERAS_BACKEND"] = args.variant
    elif args.device == "gpu":
        os.environ["GPUKERAS_BACKEND"] = "cupy"
    try:
        import gpukeras as keras
    except ImportError as exc:
        raise C.NotInstalled(f"gpukeras: {exc}") from exc
    except RuntimeError as exc:  # BackendUnavailableError: e.g. cupy asked for, no GPU
        raise C.NotAvailable(str(exc)) from exc
    w = W.resolve(args.workload, args.seq_len)
    res = C.base_result(_row_name(args), w, args)
    keras.mixed_precision.set_global_policy(args.policy)
    if args.ranks > 1:  # every rank trains on its slice of each global batch; rank 0's line is the row
        keras.distribution.initialize(num_processes=args.ranks)
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        res["rank"] = keras.distribution.process_id()
    B = keras.backend.get()
    n, batch = C.sizes(args, w)
    x, y = W.make_data(w, n)
    if hasattr(keras.utils, "set_random_seed"):
        keras.utils.set_random_seed(0)
    model = build_model(keras, w)
    model.jit_compile = args.step != "eager"  # read at every step: the compiled step, or the eager one

    times: list[float] = []
    cpu: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t0, self._c0 = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            B.synchronize()
            times.append(time.perf_counter() - self._t0)
            cpu.append(time.process_time() - self._c0)
            self.last_loss = (logs or {}).get("loss")
            self.last_accuracy = (logs or {}).get("accuracy")

    timer = EpochTimer()
    snap = C.cpu_snapshot()
    model.fit(x, y, batch_size=batch, epochs=args.warmup + args.epochs, verbose=0, shuffle=True,
              callbacks=[timer])
    if args.ranks > 1:  # CPU time of the whole job: every rank's, summed per epoch
        cpu = [sum(per_rank) for per_rank in zip(*keras.distribution.process_group().allgather(cpu))]
    res.update(C.summarize(times[args.warmup:], n, batch, snap, cpu[args.warmup:]))
    res["final_loss"] = timer.last_loss
    if timer.last_accuracy is not None:
        res["final_accuracy"] = timer.last_accuracy

    if args.ranks > 1:  # train_on_batch is not sharded: its per-step time says nothing about ranks
        return res
    # Manual loop: train_on_batch on pre-sliced NumPy batches, median over chunks of steps.
    steps = n // batch
    chunk = min(steps, w.manual_chunk)
    batches = [(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]) for i in range(chunk)]

    def run_chunk() -> None:
        for bx, by in batches:
            model.train_on_batch(bx, by)
        B.synchronize()

    run_chunk()
    manual = C.time_repeats(run_chunk, C.manual_repeats(args))
    res["manual_step_ms"] = 1000.0 * statistics.median(manual) / chunk
    res["backend"] = keras.backend.backend()
    res["versions"] = {"gpukeras": keras.__version__, "numpy": np.__version__}
    if res["backend"] == "cupy":
        cupy = B.xp  # CuPy reaches us through the backend package only

        res["versions"]["cupy"] = cupy.__version__
        res["gpu_peak_mb"] = cupy.get_default_memory_pool().total_bytes() / 2**20
        res["gpu_peak_note"] = "CuPy pool size at the end (the pool keeps freed blocks)"
    res["blas"] = C.blas_info()
    return res


def main(argv: list[str] | None = None) -> int:
    """Entry point: one workload, one JSON line."""
    return C.run_main("gpukeras", _body, argv)


if __name__ == "__main__":
    sys.exit(main())
