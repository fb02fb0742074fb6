"""Run keras.io's vision, timeseries, structured-data and distillation programs
(tests/reference/keras_io_vision_programs.py) with the real Keras 3 on the local stand-in data
(keras_io_vision_data.py), over several seeds, and record what each run reaches.

tests/test_keras_io_vision_programs.py runs the same program source with gpukeras at the same sizes
and must land within Keras 3's spread: initial weights, dropout masks, noise and shuffling come from
each library's own random streams, so single runs differ; the seeds recorded here show how much a
run of the program varies in Keras 3 itself, and that spread sets the tests' tolerances. The sizes
are small (CI runs the gpukeras side on two CPU cores), so most programs are recorded early in
training, where runs vary most: hence several seeds per program.

Keras 3's IntegerLookup and StringLookup (the structured-data program's encoding) need TensorFlow,
so the venv needs it beside JAX. From the repository root::

    python3.11 -m venv /tmp/k3tfvenv
    /tmp/k3tfvenv/bin/pip install keras==3.15.1 "jax[cpu]" tensorflow-cpu
    KERAS_BACKEND=jax JAX_PLATFORMS=cpu /tmp/k3tfvenv/bin/python \
        tests/reference/record_keras3_vision_programs.py [PROGRAM ...]

Output: ``tests/fixtures/keras3_vision_programs.json`` (naming programs re-records only those).
"""

import datetime
import json
import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import keras_io_vision_data as data  # noqa: E402
import keras_io_vision_programs as programs  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                        "keras3_vision_programs.json")
SIZES = {  # read back by tests/test_keras_io_vision_programs.py from the fixture
    "autoencoder": dict(train=384, test=64, epochs=[8, 8]),
    "toy_resnet": dict(samples=960, epochs=3),
    "timeseries_fcn": dict(train=192, test=128, epochs=8),
    "structured_data": dict(rows=303, epochs=50),
    "distillation": dict(train=512, test=256, epochs=[2, 2]),
}
SEEDS = {name: list(range(1, 17)) for name in SIZES}  # early in training a run varies: 16 seeds show how much
SEEDS["autoencoder"] = list(range(1, 9))  # a minute a run, and its losses vary little
SEEDS["structured_data"] = list(range(1, 41))  # a few seconds a run; most stall, a few learn (see the test)


def run(program, seed):
    """One run of `program` with Keras 3 from `seed`; its results as plain floats."""
    keras.utils.set_random_seed(seed)
    keras.backend.clear_session()
    with tempfile.TemporaryDirectory() as workdir:
        args, kwargs = data.program_arguments(program, SIZES[program], workdir)
        result = programs.PROGRAMS[program](keras, *args, **kwargs)
    return {key: float(value) for key, value in result.items()}


def main(names):
    out = {"programs": {}}
    if os.path.exists(OUT_PATH) and names:
        with open(OUT_PATH) as f:
            out = json.load(f)
    for name in names or list(SIZES):
        runs = []
        for seed in SEEDS[name]:
            runs.append(run(name, seed))
            print(name, seed, runs[-1], flush=True)
        out["programs"][name] = {"sizes": SIZES[name], "seeds": SEEDS[name], "runs": runs}
    out["versions"] = {"keras": keras.__version__, "backend": keras.backend.backend()}
    out["recorded_on"] = datetime.date.today().isoformat()
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
