"""Keras 3 on one workload, on JAX, torch or TensorFlow (`--variant`, sets KERAS_BACKEND).

Same public-API path as the gpukeras runner: Sequential, compile, fit(verbose=0) timed
per epoch by a callback, plus a `train_on_batch` loop. Meant to run from Keras's own venv
(`--python-for keras3=/path/to/python` in the tool).
"""

from __future__ import annotations

import importlib.util
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

BACKEND_MODULES = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}


def _gpu_peak_mb(backend: str) -> float | None:
    try:
        if backend == "torch":
            import torch

            return torch.cuda.max_memory_allocated() / 2**20
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            return stats.get("peak_bytes_in_use", 0) / 2**20
        if backend == "tensorflow":
            import tensorflow as tf

            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    except Exception:
        return None
    return None


def _body(args: Any) -> dict[str, Any]:
    backend = args.variant or os.environ.get("KERAS_BACKEND") or "jax"
    name = f"keras3-{backend}"
    if backend not in BACKEND_MODULES:
        raise ValueError(f"unknown Keras backend {backend!r}")
    for mod in ("keras", BACKEND_MODULES[backend]):
        if importlib.util.find_spec(mod) is None:
            raise C.NotInstalled(f"{mod} is not installed in {sys.executable}")
    os.environ["KERAS_BACKEND"] = backend
    if args.device == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    import keras

    if not keras.__version__.startswith("3"):
        raise C.NotInstalled(f"keras {keras.__version__} is not Keras 3")
    w = W.resolve(args.workload, args.seq_len)
    res = C.base_result(name, w, args)
    keras.utils.set_random_seed(0)
    n, batch = C.sizes(args, w)
    x, y = W.make_data(w, n)
    model = SM.build(keras, w) if w.is_text else VM.build(keras, w) if w.is_vision else MM.build(keras, w)
    times: list[float] = []
    cpu: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._t0, self._c0 = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            times.append(time.perf_counter() - self._t0)
            cpu.append(time.process_time() - self._c0)
            self.last_loss = float((logs or {}).get("loss", float("nan")))
            self.last_accuracy = (logs or {}).get("accuracy")

    timer = EpochTimer()
    snap = C.cpu_snapshot()
    model.fit(x, y, batch_size=batch, epochs=args.warmup + args.epochs, verbose=0, shuffle=True,
              callbacks=[timer])
    res.update(C.summarize(times[args.warmup:], n, batch, snap, cpu[args.warmup:]))
    res["final_loss"] = timer.last_loss
    if timer.last_accuracy is not None:
        res["final_accuracy"] = float(timer.last_accuracy)
    steps = n // batch
    chunk = min(steps, w.manual_chunk)
    batches = [(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]) for i in range(chunk)]

    def run_chunk() -> None:
        for bx, by in batches:
            out = model.train_on_batch(bx, by)
        float(out if not isinstance(out, list) else out[0])  # wait for the device

    run_chunk()
    res["manual_step_ms"] = 1000.0 * statistics.median(C.time_repeats(run_chunk, C.manual_repeats(args))) / chunk
    res["versions"] = {"keras": keras.__version__}
    mod = sys.modules.get(BACKEND_MODULES[backend])
    if mod is not None:
        res["versions"][backend] = getattr(mod, "__version__", "?")
    if args.device == "gpu":
        res["gpu_peak_mb"] = _gpu_peak_mb(backend)
    res["blas"] = C.blas_info()
    return res


def main(argv: list[str] | None = None) -> int:
    """Entry point: one workload, one JSON line."""
    name = "keras3-" + (os.environ.get("KERAS_BACKEND") or "jax")
    if "--variant" in (argv if argv is not None else sys.argv):
        args = argv if argv is not None else sys.argv
        name = "keras3-" + args[args.index("--variant") + 1]
    return C.run_main(name, _body, argv)


if __name__ == "__main__":
    sys.exit(main())
