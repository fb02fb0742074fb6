"""Record Keras 3's text-preprocessing numbers into tests/fixtures/keras3_text.json (+ a .keras file).

Keras 3's TextVectorization, StringLookup, IntegerLookup and Hashing run through TensorFlow even on
the JAX backend, so the side venv needs TensorFlow besides Keras 3.15.1 and JAX:

    /tmp/k3venv/bin/pip install keras==3.15.1 jax h5py tensorflow-cpu
    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_text.py

Recorded: each layer's vocabulary after `adapt` and its outputs in every mode on a small corpus
(punctuation, Unicode, casing, tabs and no-break spaces, n-grams, OOV, padding and truncation),
Hashing bins (FarmHash and salted SipHash), configs, a `.keras` file of a TextVectorization model
(tests/fixtures/keras3_text_vectorization.keras) with the outputs it must give after loading, and a
text classifier (TextVectorization -> Embedding -> GlobalAveragePooling1D -> Dense) trained for a
few epochs. Keras 3 on JAX cannot return strings from a layer (StringLookup(invert=True): its
TensorFlow table lookup is recorded instead) nor feed strings through a model, so the classifier is recorded as
Keras runs it there: the layer vectorizes the corpus, the rest of the model trains on the indices;
the replay trains the whole model end to end from the same weights.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
from keras import layers  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "fixtures"

CORPUS = [
    "The quick brown fox jumps over the lazy dog!",
    "THE LAZY DOG, the end.",
    "Éclair café  naïve\u00a0word — über Straße",
    "tabs\tand\nnewlines\rhere",
    "x—y ¿qué? ¡sí! emoji 🙂🙂 end",
    "don't stop: it's (really) [very] {good}",
    "",
    "the the the fox",
]
QUERIES = ["the fox and the dog", "UNKNOWN words only", "Éclair! the", "", "a b c d e f g h i j k the"]


def _out(x):
    return np.asarray(x).tolist()


def _vocab(layer):
    return [str(v) if isinstance(v, (str, np.str_, bytes)) else int(v) for v in layer.get_vocabulary()]


def text_cases() -> list[dict]:
    specs = [
        {"config": {}},
        {"config": {"max_tokens": 8, "output_sequence_length": 4}},
        {"config": {"output_sequence_length": 12}},
        {"config": {"standardize": "lower"}},
        {"config": {"standardize": "strip_punctuation"}},
        {"config": {"standardize": None}},
        {"config": {"split": "character", "max_tokens": 30, "output_sequence_length": 10}},
        {"config": {"split": None}},
        {"config": {"ngrams": 2}},
        {"config": {"ngrams": [1, 3], "max_tokens": 40}},
        {"config": {"output_mode": "multi_hot"}},
        {"config": {"output_mode": "count", "ngrams": 2}},
        {"config": {"output_mode": "tf_idf"}},
        {"config": {"output_mode": "tf_idf", "max_tokens": 12, "pad_to_max_tokens": True}},
        {"config": {"output_mode": "multi_hot", "max_tokens": 10, "pad_to_max_tokens": True}},
        {"config": {"vocabulary": ["fox", "dog", "the", "éclair"]}, "adapt": None},
        {"config": {"vocabulary": ["", "[UNK]", "fox", "dog", "the"], "output_sequence_length": 3}, "adapt": None},
        {"config": {"output_mode": "tf_idf", "vocabulary": ["fox", "dog", "the"], "idf_weights": [0.5, 1.5, 0.25]},
         "adapt": None},
        {"config": {"output_mode": "count"}, "set_vocabulary": ["the", "fox", "lazy"]},
        {"config": {}, "adapt_batches": [CORPUS[:3], CORPUS[3:6], CORPUS[6:]], "steps": 2},
        {"config": {"split": None, "output_mode": "tf_idf"}, "adapt_batches": [CORPUS[:4], CORPUS[4:]]},
        {"config": {}, "adapt_kwargs": {"batch_size": 3}},
    ]
    cases = []
    for spec in specs:
        config = dict(spec["config"])
        kwargs = dict(config)
        if isinstance(kwargs.get("ngrams"), list):
            kwargs["ngrams"] = tuple(kwargs["ngrams"])
        layer = layers.TextVectorization(**kwargs)
        if "adapt_batches" in spec:
            layer.adapt((np.array(b) for b in spec["adapt_batches"]), steps=spec.get("steps"))
        elif spec.get("adapt", True) is not None and "set_vocabulary" not in spec:
            layer.adapt(CORPUS, **spec.get("adapt_kwargs", {}))
        if "set_vocabulary" in spec:
            layer.set_vocabulary(spec["set_vocabulary"])
        queries = np.array(CORPUS + QUERIES)
        case = {"config": config, "adapt": spec.get("adapt", True) is not None and "set_vocabulary" not in spec
                and "adapt_batches" not in spec, **{k: spec[k] for k in ("adapt_batches", "steps", "set_vocabulary",
                                                                           "adapt_kwargs") if k in spec},
                "vocabulary": _vocab(layer), "vocabulary_no_special": [str(v) for v in
                                                                      layer.get_vocabulary(False)],
                "vocabulary_size": int(layer.vocabulary_size()),
                "inputs": queries.tolist(), "output": _out(layer(queries)),
                "output_2d": _out(layer(queries[:, None])),
                "config_out": {k: v for k, v in layer.get_config().items() if k not in ("dtype", "name")}}
        cases.append(case)
    return cases


def lookup_cases() -> list[dict]:
    tokens = [["a", "b", "a", "c"], ["b", "é", "a", "d"], ["c", "a", "🙂", "a"]]
    queries = [["a", "b", "zz", "é"], ["", "🙂", "q", "c"], ["a", "a", "x", "y"]]
    ints = [[3, 7, 3, 9], [7, 12, 3, 0], [9, 3, 42, 3]]
    int_queries = [[3, 7, 100, 12], [0, 9, -5, 8], [3, 3, 77, 6]]
    specs = [
        ("StringLookup", {}, tokens, queries),
        ("StringLookup", {"mask_token": ""}, tokens, queries),
        ("StringLookup", {"num_oov_indices": 3}, tokens, queries),
        ("StringLookup", {"num_oov_indices": 2, "salt": 7}, tokens, queries),
        ("StringLookup", {"max_tokens": 4}, tokens, queries),
        ("StringLookup", {"output_mode": "one_hot"}, tokens, [["a"], ["zz"], ["c"]]),
        ("StringLookup", {"output_mode": "multi_hot", "mask_token": ""}, tokens, queries),
        ("StringLookup", {"output_mode": "count", "num_oov_indices": 2}, tokens, queries),
        ("StringLookup", {"output_mode": "tf_idf"}, tokens, queries),
        ("StringLookup", {"output_mode": "count", "max_tokens": 8, "pad_to_max_tokens": True}, tokens, queries),
        ("StringLookup", {"vocabulary": ["a", "b", "c"], "invert": True}, None, [[0, 1, 2, 3, 4]]),
        ("StringLookup", {"vocabulary": ["a", "b", "c"], "invert": True, "mask_token": "[MASK]"}, None,
         [[0, 1, 2, 3, 4, 9]]),
        ("StringLookup", {"vocabulary": ["b", "a"], "output_mode": "multi_hot"}, None, [["a", "b", "q"]]),
        ("IntegerLookup", {}, ints, int_queries),
        ("IntegerLookup", {"mask_token": 0}, ints, int_queries),
        ("IntegerLookup", {"num_oov_indices": 3}, ints, int_queries),
        ("IntegerLookup", {"num_oov_indices": 3, "oov_method": "farmhash"}, ints, int_queries),
        ("IntegerLookup", {"num_oov_indices": 2, "oov_method": "farmhash", "salt": [1, 2]}, ints, int_queries),
        ("IntegerLookup", {"output_mode": "multi_hot"}, ints, int_queries),
        ("IntegerLookup", {"output_mode": "tf_idf", "max_tokens": 4}, ints, int_queries),
        ("IntegerLookup", {"vocabulary": [12, 3, 7], "invert": True}, None, [[0, 1, 2, 3, 8]]),
    ]
    cases = []
    for name, config, adapt, queries_ in specs:
        layer = getattr(layers, name)(**config)
        if adapt is not None:
            layer.adapt(np.array(adapt))
        if name == "StringLookup" and config.get("invert"):
            # Keras 3 on JAX cannot return strings from a layer: record its TensorFlow table lookup itself.
            import tensorflow as tf
            from keras.src.layers.preprocessing.index_lookup import IndexLookup
            out = IndexLookup.call(layer, tf.constant(queries_, dtype="int64")).numpy()
        else:
            out = layer(np.array(queries_))
        out = np.asarray(out)
        out = [[v.decode() if isinstance(v, bytes) else v for v in row] for row in out.tolist()] \
            if out.dtype.kind in "OSU" else out.tolist()
        cases.append({"layer": name, "config": config, "adapt": adapt, "inputs": queries_, "vocabulary": _vocab(layer),
                      "vocabulary_size": int(layer.vocabulary_size()), "output": out,
                      "config_out": {k: v for k, v in layer.get_config().items() if k not in ("dtype", "name")}})
    return cases


def hashing_cases() -> list[dict]:
    strings = [["a", "b", "hello world", ""], ["é", "🙂", "x" * 40, "y" * 100]]
    specs = [
        ({"num_bins": 7}, strings), ({"num_bins": 1000003}, strings), ({"num_bins": 5, "salt": 11}, strings),
        ({"num_bins": 9, "salt": [3, 1 << 40]}, strings), ({"num_bins": 6, "mask_value": ""}, strings),
        ({"num_bins": 4, "output_mode": "multi_hot"}, strings), ({"num_bins": 4, "output_mode": "count"}, strings),
        ({"num_bins": 4, "output_mode": "one_hot"}, [["a"], ["b"], ["c"]]),
        ({"num_bins": 11}, [[0, 1, -7, 123456789012]]), ({"num_bins": 11, "mask_value": 0}, [[0, 1, -7, 42]]),
        ({"num_bins": 13}, [[0.0, 1.9, -7.5, 42.0]]),
    ]
    cases = []
    for config, inputs in specs:
        layer = layers.Hashing(**config)
        cases.append({"config": config, "inputs": inputs, "output": _out(layer(np.array(inputs))),
                      "config_out": {k: v for k, v in layer.get_config().items() if k not in ("name",)}})
    return cases


def category_cases() -> list[dict]:
    specs = [({"num_tokens": 5, "output_mode": m}, x) for m in ("one_hot", "multi_hot", "count")
             for x in ([3, 2, 0, 1], [[3, 3, 1], [0, 4, 4]], [[1], [4]])]
    cases = []
    for config, inputs in specs:
        layer = layers.CategoryEncoding(**config)
        cases.append({"config": config, "inputs": inputs, "output": _out(layer(np.array(inputs)))})
    weighted = layers.CategoryEncoding(num_tokens=4, output_mode="count")
    cases.append({"config": {"num_tokens": 4, "output_mode": "count"}, "inputs": [[1, 2, 2], [3, 0, 3]],
                  "count_weights": [[0.5, 1.0, 2.0], [1.5, 0.25, 0.5]],
                  "output": _out(weighted(np.array([[1, 2, 2], [3, 0, 3]]),
                                          count_weights=np.array([[0.5, 1.0, 2.0], [1.5, 0.25, 0.5]])))})
    return cases


def saved_model() -> dict:
    """A functional TextVectorization model saved by Keras 3, and what its layer gives after loading."""
    tv = layers.TextVectorization(max_tokens=20, output_sequence_length=6)
    tv.adapt(CORPUS)
    inp = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(inp, tv(inp))
    path = OUT / "keras3_text_vectorization.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    queries = np.array(QUERIES)[:, None]
    return {"file": path.name, "vocabulary": _vocab(loaded.layers[1]), "inputs": QUERIES,
            "output": _out(loaded.layers[1](queries))}


TRAIN_TEXTS = [
    "a great film with a wonderful cast", "terrible plot and awful acting", "i loved this movie so much",
    "boring long and bad", "wonderful great fun", "awful awful film", "what a great story", "bad and boring plot",
    "the best movie i have seen", "the worst film ever made", "loved the great acting", "terrible waste of time",
    "fun and wonderful", "so bad it hurts", "great cast great fun", "boring awful waste",
]
TRAIN_LABELS = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]


def classifier() -> dict:
    """keras.io's TextVectorization -> Embedding -> GlobalAveragePooling1D -> Dense, a few Adam epochs."""
    keras.utils.set_random_seed(3)
    tv = layers.TextVectorization(max_tokens=40, output_sequence_length=8)
    tv.adapt(TRAIN_TEXTS)
    sequences = np.asarray(tv(np.array(TRAIN_TEXTS)))
    head = keras.Sequential([keras.Input(shape=(8,), dtype="int64"), layers.Embedding(40, 6),
                             layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid")])
    initial = [w.tolist() for w in head.get_weights()]
    head.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    history = head.fit(sequences, np.array(TRAIN_LABELS), batch_size=4, epochs=4, shuffle=False, verbose=0)
    return {"texts": TRAIN_TEXTS, "labels": TRAIN_LABELS, "vocabulary": _vocab(tv), "sequences": sequences.tolist(),
            "initial_weights": initial, "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
            "final_weights": [w.tolist() for w in head.get_weights()],
            "predictions": head.predict(sequences, verbose=0).tolist()}


def main() -> None:
    if keras.__version__ != "3.15.1":
        sys.exit(f"expected Keras 3.15.1, found {keras.__version__}")
    fixture = {"keras_version": keras.__version__, "backend": keras.backend.backend(), "corpus": CORPUS,
               "text_vectorization": text_cases(), "lookups": lookup_cases(), "hashing": hashing_cases(),
               "category_encoding": category_cases(), "saved_model": saved_model(), "classifier": classifier()}
    (OUT / "keras3_text.json").write_text(json.dumps(fixture, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT / 'keras3_text.json'}")


if __name__ == "__main__":
    main()
