"""Record Embedding, Masking and mask propagation numbers from the real Keras 3 (torch backend, CPU).

Why torch: on JAX, Keras 3.15 keeps masks for the loss but its compiled metrics do not see them
(a JAX array cannot carry the mask), so a masked sequence's accuracy counts the padding; on torch
and TensorFlow the metrics skip masked steps (the same numbers for both, and the same losses as
JAX's to 1e-7). gpukeras follows the torch/TensorFlow behaviour.

Each scenario builds a small model, sets deterministic weights, trains a few epochs with
`shuffle=False` and stores the history, final weights, predictions and evaluate() results;
tests/test_keras3_masking.py replays them with gpukeras.

How to run (from the repository root, with a side venv that has Keras 3)::

    python3 -m venv /tmp/k3venv
    /tmp/k3venv/bin/pip install keras h5py numpy torch==2.13.0
    KERAS_BACKEND=torch /tmp/k3venv/bin/python tests/reference/record_keras3_masking.py

Output: ``tests/fixtures/keras3_masking.json``.
"""

import datetime
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                        "keras3_masking.json")


def tolist(a):
    return np.asarray(a).tolist()


def data():
    rs = np.random.RandomState(11)
    lengths = rs.randint(1, 7, size=24)
    tokens = [rs.randint(1, 20, size=n) for n in lengths]
    padded = keras.utils.pad_sequences(tokens, maxlen=6)
    post = keras.utils.pad_sequences(tokens, maxlen=6, padding="post", truncating="post")
    y_bin = rs.randint(0, 2, size=(24, 1)).astype("float32")
    y_seq = rs.randint(0, 5, size=(24, 6))
    floats = rs.normal(size=(24, 6, 3)).astype("float32")
    floats[:, 4:, :] = 0.0
    floats[::3, 2, :] = 0.0
    y_float_seq = rs.normal(size=(24, 6, 2)).astype("float32")
    return {"tokens": [t.tolist() for t in tokens], "padded": padded, "post": post, "y_bin": y_bin,
            "y_seq": y_seq, "floats": floats, "y_float_seq": y_float_seq}


def set_weights(model, seed):
    rs = np.random.RandomState(seed)
    weights = [rs.uniform(-0.3, 0.3, size=w.shape).astype("float32") for w in model.get_weights()]
    model.set_weights(weights)
    return weights


def run(model, x, y, seed, loss, metrics=None, epochs=3, optimizer=None):
    initial = set_weights(model, seed)
    model.compile(optimizer=optimizer or keras.optimizers.SGD(0.1), loss=loss, metrics=metrics or [])
    history = model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    return {
        "initial_weights": [tolist(w) for w in initial],
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "final_weights": [tolist(w) for w in model.get_weights()],
        "predictions": tolist(model.predict(x, verbose=0)),
        "evaluate": {k: float(v) for k, v in model.evaluate(x, y, verbose=0, return_dict=True).items()},
    }


def main():
    keras.utils.set_random_seed(0)
    d = data()
    out = {"versions": {"keras": keras.__version__, "backend": keras.backend.backend(), "numpy": np.__version__},
           "recorded_on": datetime.date.today().isoformat(),
           "data": {k: (v if isinstance(v, list) else tolist(v)) for k, v in d.items()}}

    # Embedding forward: values and the mask it attaches.
    emb = layers.Embedding(20, 3, mask_zero=True)
    emb.build((None, 6))
    set_weights(emb, 1)
    y = emb(d["padded"][:4])
    out["embedding_forward"] = {"weights": [tolist(w) for w in emb.get_weights()],
                                "output": tolist(keras.ops.convert_to_numpy(y)),
                                "mask": tolist(keras.ops.convert_to_numpy(y._keras_mask)),
                                "config": emb.get_config()}
    out["pad_sequences"] = {
        "pre": tolist(keras.utils.pad_sequences(d["tokens"][:5])),
        "post_post_3": tolist(keras.utils.pad_sequences(d["tokens"][:5], maxlen=3, padding="post",
                                                        truncating="post")),
        "value_float": tolist(keras.utils.pad_sequences(d["tokens"][:5], maxlen=4, dtype="float32", value=-1.5)),
    }

    # 1. Embedding(mask_zero) -> GlobalAveragePooling1D (masked mean) -> Dense.
    model = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4, mask_zero=True),
                              layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid")])
    out["pooled_classifier"] = run(model, d["padded"], d["y_bin"], 2, "binary_crossentropy", ["accuracy"])

    # 2. Per-step outputs: the loss and the metric skip padded steps.
    model = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4, mask_zero=True),
                              layers.Dense(8, activation="tanh"), layers.Dense(5)])
    out["sequence_tagger"] = run(model, d["post"], d["y_seq"], 3,
                                 keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])

    # 3. Masking on float sequences, mse per step.
    model = keras.Sequential([keras.Input((6, 3)), layers.Masking(0.0), layers.Dense(2)])
    out["masking_regression"] = run(model, d["floats"], d["y_float_seq"], 4, "mse", ["mae"])

    # 4. BatchNormalization with a mask: batch statistics over the unmasked steps.
    model = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4, mask_zero=True),
                              layers.BatchNormalization(), layers.GlobalAveragePooling1D(), layers.Dense(1)])
    out["batchnorm_masked"] = run(model, d["padded"], d["y_bin"], 5, "mse")

    # 5. Merging masked branches: Add (masks or'ed), Concatenate (masks joined).
    inp = keras.Input((6,))
    a = layers.Embedding(20, 4, mask_zero=True)(inp)
    b = layers.Embedding(20, 4, mask_zero=True)(inp)
    added = layers.Add()([a, b])
    joined = layers.Concatenate()([a, layers.Dense(4)(b)])
    pooled = layers.Concatenate()([layers.GlobalAveragePooling1D()(added), layers.GlobalAveragePooling1D()(joined)])
    model = keras.Model(inp, layers.Dense(1)(pooled))
    out["merged_branches"] = run(model, d["padded"], d["y_bin"], 6, "mse")

    # 6. Embedding LoRA: forward after enable_lora with set factors, and training.
    model = keras.Sequential([keras.Input((6,)), layers.Embedding(20, 4), layers.GlobalAveragePooling1D(),
                              layers.Dense(1)])
    set_weights(model, 7)
    emb = model.layers[0]
    emb.enable_lora(2)
    rs = np.random.RandomState(8)
    emb.lora_embeddings_a.assign(rs.uniform(-0.2, 0.2, size=(20, 2)).astype("float32"))
    emb.lora_embeddings_b.assign(rs.uniform(-0.2, 0.2, size=(2, 4)).astype("float32"))
    lora = {"weights": [[w.name, list(w.shape), bool(w.trainable)] for w in emb.weights],
            "start_weights": [tolist(w) for w in model.get_weights()],
            "forward": tolist(model.predict(d["padded"], verbose=0))}
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(d["padded"], d["y_bin"], batch_size=8, epochs=2, shuffle=False, verbose=0)
    lora.update({"history": [float(v) for v in history.history["loss"]],
                 "final_weights": [tolist(w) for w in model.get_weights()],
                 "merged_embeddings": tolist(keras.ops.convert_to_numpy(emb.embeddings)),
                 "config": emb.get_config()})
    out["embedding_lora"] = lora

    with open(OUT_PATH, "w") as f:
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in out.items()) + "\n}\n")
    print("wrote", OUT_PATH)


if __name__ == "__main__":
    main()
