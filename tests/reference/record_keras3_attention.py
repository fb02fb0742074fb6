"""Record Keras 3's numbers for the attention layers, EinsumDense and ops.dot_product_attention (JAX, CPU).

The programs live in tests/keras3_attention_programs.py, written against the Keras API and run here
on the real Keras 3; tests/test_keras3_attention.py runs the same programs on gpukeras and compares
with what this script stores:

  layers      every LAYER_CASES entry: inputs, initial weights (uniform(-0.5, 0.5) in `weights` order),
              the attention mask when the case has one, outputs, attention scores, the gradients of
              sum(output * w_out) [+ sum(scores * w_scores)] w.r.t. the inputs and the weights, the
              config, build config and weight names/shapes
  einsum      every EINSUM_CASES entry: the same for EinsumDense, plus compute_output_shape
  dpa         every DPA_CASES entry: ops.dot_product_attention's output and its gradients w.r.t.
              query, key, value (and bias)
  training    every TRAIN_CASES entry: data, initial weights, `fit` history (batch 4, 2 epochs, no
              shuffling, no dropout), final weights and predictions
  saved_model keras.io's transformer text classifier (dropout 0.1) trained 2 epochs, written to
              tests/fixtures/keras3_models/transformer_classifier.keras with inputs and predictions in
              transformer_classifier.npz

Gradients come from jax.grad over the layer called inside a `keras.StatelessScope`. Everything is deterministic: fixed
RandomState seeds per case, set weights, shuffle=False, no dropout while training.

How to run (from the repository root, with the side venv that has Keras 3 and JAX)::

    python3 -m venv /tmp/k3venv && /tmp/k3venv/bin/pip install keras jax h5py numpy
    KERAS_BACKEND=jax JAX_PLATFORMS=cpu /tmp/k3venv/bin/python tests/reference/record_keras3_attention.py

Output: tests/fixtures/keras3_attention.json (one top-level entry per line) and the two model files.
"""

import datetime
import json
import os
import sys
import zipfile

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import keras3_attention_programs as P  # noqa: E402
import numpy as np  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), "fixtures")
OUT_PATH = os.path.join(FIXTURES, "keras3_attention.json")
MODEL_DIR = os.path.join(FIXTURES, "keras3_models")
F32 = np.float32


def f32list(a):
    """float32 values as nested lists of the shortest decimals that read back as the same float32."""
    arr = np.asarray(a, dtype=F32)
    return np.asarray([float(str(v)) for v in arr.ravel()], dtype=np.float64).reshape(arr.shape).tolist()


def uniform_weights(variables, seed):
    rs = np.random.RandomState(seed)
    return [rs.uniform(-0.5, 0.5, size=tuple(v.shape)).astype(F32) for v in variables]


def loss_weights(shape, seed):
    return np.random.RandomState(seed).uniform(0.5, 1.5, size=tuple(shape)).astype(F32)


def weights_info(layer):
    return [{"path": v.path, "name": v.name, "shape": list(v.shape), "trainable": bool(v.trainable)}
            for v in layer.weights]


# --------------------------------------------------------------------------- layers
def record_layer(case, seed):
    arrays = P.layer_inputs(case, seed)
    mask = P.attention_mask_for(case, seed) if case["call"].get("attention_mask") else None
    layer = getattr(keras.layers, case["cls"])(**case["config"])
    P.call_layer(keras, layer, case, dict(arrays), mask)  # builds
    init = uniform_weights(layer.weights, seed + 100)
    layer.set_weights(init)
    out, scores = P.call_layer(keras, layer, case, dict(arrays), mask)
    w_out = loss_weights(out.shape, seed + 200)
    w_scores = None if scores is None else loss_weights(scores.shape, seed + 300)
    names = list(arrays)

    def loss_fn(trainable, *xs):
        # layer.__call__ inside a StatelessScope, not layer.stateless_call: stateless_call runs `call`
        # directly and so drops the masks Keras 3 takes from the input tensors (value_mask, key_mask).
        with keras.StatelessScope(state_mapping=list(zip(layer.trainable_variables, trainable))):
            o, s = P.call_layer(keras, layer, case, dict(zip(names, xs)), mask)
        total = jnp.sum(o * w_out)
        if s is not None:
            total = total + jnp.sum(s * w_scores)
        return total

    eager_loss = float(np.sum(np.asarray(out) * w_out))
    if scores is not None:
        eager_loss += float(np.sum(np.asarray(scores) * w_scores))
    values = [v.value for v in layer.trainable_variables]
    traced_loss = float(loss_fn(values, *[jnp.asarray(arrays[n]) for n in names]))
    assert abs(eager_loss - traced_loss) <= 1e-4 * max(1.0, abs(eager_loss)), (case["id"], eager_loss, traced_loss)
    argnums = tuple(range(len(names) + 1))
    grads = jax.grad(loss_fn, argnums=argnums)([v.value for v in layer.trainable_variables],
                                                *[jnp.asarray(arrays[n]) for n in names])
    return {
        "case": case,
        "seed": seed,
        "inputs": {n: f32list(a) for n, a in arrays.items()},
        "attention_mask": None if mask is None else mask.tolist(),
        "initial_weights": [f32list(w) for w in init],
        "weights": weights_info(layer),
        "output": f32list(out),
        "scores": None if scores is None else f32list(scores),
        "loss_weights": {"output": f32list(w_out), "scores": None if w_scores is None else f32list(w_scores)},
        "input_gradients": {n: f32list(g) for n, g in zip(names, grads[1:])},
        "weight_gradients": [f32list(g) for g in grads[0]],
        "config": layer.get_config(),
        "build_config": layer.get_build_config(),
    }


# --------------------------------------------------------------------------- EinsumDense
def record_einsum(case, seed):
    rs = np.random.RandomState(seed)
    x = rs.uniform(-1, 1, case["input"]).astype(F32)
    layer = keras.layers.EinsumDense(**case["config"])
    symbolic = layer.compute_output_shape((None,) + tuple(case["input"][1:]))
    layer(x)
    init = uniform_weights(layer.weights, seed + 100)
    layer.set_weights(init)
    y = layer(x)
    w_out = loss_weights(y.shape, seed + 200)

    def loss_fn(trainable, x):
        return jnp.sum(layer.stateless_call(trainable, [], x)[0] * w_out)

    g_weights, g_x = jax.grad(loss_fn, argnums=(0, 1))([v.value for v in layer.trainable_variables], jnp.asarray(x))
    return {
        "case": case,
        "input": f32list(x),
        "initial_weights": [f32list(w) for w in init],
        "weights": weights_info(layer),
        "output": f32list(y),
        "loss_weights": f32list(w_out),
        "input_gradient": f32list(g_x),
        "weight_gradients": [f32list(g) for g in g_weights],
        "config": layer.get_config(),
        "keras_symbolic_output_shape": list(symbolic),
    }


# --------------------------------------------------------------------------- ops.dot_product_attention
def record_dpa(case, seed):
    arrays = P.dpa_inputs(case, seed)
    w_out = None
    names = [n for n in ("query", "key", "value", "bias") if n in arrays]

    def run(*xs):
        named = dict(zip(names, xs))
        return keras.ops.dot_product_attention(named["query"], named["key"], named["value"], bias=named.get("bias"),
                                               mask=None if "mask" not in arrays else jnp.asarray(arrays["mask"]),
                                               **case["kwargs"])

    out = run(*[jnp.asarray(arrays[n]) for n in names])
    w_out = loss_weights(out.shape, seed + 200)
    grads = jax.grad(lambda *xs: jnp.sum(run(*xs) * w_out), argnums=tuple(range(len(names))))(
        *[jnp.asarray(arrays[n]) for n in names])
    return {
        "case": case,
        "inputs": {n: (a.tolist() if a.dtype == bool else f32list(a)) for n, a in arrays.items()},
        "output": f32list(out),
        "loss_weights": f32list(w_out),
        "gradients": {n: f32list(g) for n, g in zip(names, grads)},
    }


# --------------------------------------------------------------------------- training
def history_of(hist):
    return {k: [float(F32(v)) for v in vals] for k, vals in hist.history.items()}


def record_training(case, seed):
    x, y = P.train_data(case, seed)
    model = P.train_model(keras, case)
    model(x[:2])  # build
    init = uniform_weights(model.weights, seed + 100)
    model.set_weights(init)
    hist = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {
        "case": case,
        "x": x.tolist(),
        "y": y.tolist(),
        "initial_weights": [f32list(w) for w in init],
        "weight_paths": [v.path for v in model.weights],
        "history": history_of(hist),
        "final_weights": [f32list(w) for w in model.get_weights()],
        "predictions": f32list(model.predict(x, verbose=0)),
    }


def record_saved_model(seed):
    """The transformer classifier with dropout 0.1, trained 2 epochs (optimizer state in the file)."""
    case = {"id": "transformer_classifier", "kind": "transformer"}
    x, y = P.train_data(case, seed)
    keras.utils.set_random_seed(seed)
    model = P.transformer_classifier(keras, rate=0.1)
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    x_test = np.random.RandomState(seed + 1).randint(0, P.VOCAB, size=(5, P.MAXLEN)).astype("int32")
    path = os.path.join(MODEL_DIR, "transformer_classifier.keras")
    model.save(path)
    _recompress(path)
    np.savez(os.path.join(MODEL_DIR, "transformer_classifier.npz"), x0=x_test, y=model.predict(x_test, verbose=0))
    return {"file": "keras3_models/transformer_classifier.keras", "seed": seed}


def _recompress(path):
    with zipfile.ZipFile(path) as zf:
        members = [(info, zf.read(info.filename)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info.filename, data)


# --------------------------------------------------------------------------- main
def main():
    keras.utils.set_random_seed(1234)
    result = {
        "versions": {"keras": keras.__version__, "keras_backend": keras.backend.backend(), "jax": jax.__version__,
                     "numpy": np.__version__},
        "recorded_on": datetime.date.today().isoformat(),
        "layers": {c["id"]: record_layer(c, 1000 + i) for i, c in enumerate(P.LAYER_CASES)},
        "einsum": {c["id"]: record_einsum(c, 2000 + i) for i, c in enumerate(P.EINSUM_CASES)},
        "dpa": {c["id"]: record_dpa(c, 3000 + i) for i, c in enumerate(P.DPA_CASES)},
        "training": {c["id"]: record_training(c, 4000 + i) for i, c in enumerate(P.TRAIN_CASES)},
        "saved_model": record_saved_model(5000),
    }
    with open(OUT_PATH, "w") as f:
        f.write("{\n")
        items = list(result.items())
        for i, (key, val) in enumerate(items):
            f.write(json.dumps(key) + ": " + json.dumps(val) + ("," if i < len(items) - 1 else "") + "\n")
        f.write("}\n")
    print("wrote", OUT_PATH)


if __name__ == "__main__":
    main()
