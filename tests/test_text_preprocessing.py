"""Text preprocessing against Keras 3: TextVectorization, StringLookup, IntegerLookup, Hashing, CategoryEncoding.

tests/reference/record_keras3_text.py recorded Keras 3.15.1 (JAX backend, TensorFlow for the string
ops) into tests/fixtures/keras3_text.json: vocabularies after `adapt`, outputs in every mode, hash
bins, configs, a `.keras` file of a TextVectorization model, and a text classifier's training run.
Here gpukeras (no TensorFlow) must give the same vocabularies and outputs, load that file, and train
the classifier end to end (strings in the model) to the same losses and weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend, layers
from gpukeras.layers.preprocessing.fingerprint import fingerprint64, siphash24

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = json.loads((FIXTURES / "keras3_text.json").read_text(encoding="utf-8"))
RTOL, ATOL = 1e-5, 2e-6
DEVICE_ATOL = 1e-5


def _atol() -> float:
    return ATOL if backend.backend() == "numpy" else DEVICE_ATOL


def _values(x) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _text_layer(case: dict) -> layers.TextVectorization:
    config = dict(case["config"])
    if isinstance(config.get("ngrams"), list):
        config["ngrams"] = tuple(config["ngrams"])
    layer = layers.TextVectorization(**config)
    if "adapt_batches" in case:
        layer.adapt((np.array(b) for b in case["adapt_batches"]), steps=case.get("steps"))
    elif case["adapt"]:
        layer.adapt(FIXTURE["corpus"], **case.get("adapt_kwargs", {}))
    if "set_vocabulary" in case:
        layer.set_vocabulary(case["set_vocabulary"])
    return layer


# --------------------------------------------------------------------------- TextVectorization vs Keras 3
@pytest.mark.parametrize("case", FIXTURE["text_vectorization"], ids=lambda c: json.dumps(c["config"])[:60])
def test_text_vectorization_matches_keras3(case):
    """Vocabulary (order, special tokens) and outputs for (batch,) and (batch, 1) inputs, every mode."""
    layer = _text_layer(case)
    assert layer.get_vocabulary() == case["vocabulary"]
    assert layer.get_vocabulary(include_special_tokens=False) == case["vocabulary_no_special"]
    assert layer.vocabulary_size() == case["vocabulary_size"]
    inputs = np.array(case["inputs"])
    for x, key in ((inputs, "output"), (inputs[:, None], "output_2d")):
        out = layer(x)
        expected = np.asarray(case[key])
        if layer._output_mode == "int":
            assert out.dtype == "int64"
            np.testing.assert_array_equal(_values(out), expected)
        else:
            assert out.dtype == "float32"
            np.testing.assert_allclose(_values(out), expected, rtol=RTOL, atol=_atol())
    config = {k: v for k, v in layer.get_config().items() if k not in ("dtype", "name")}
    expected_config = dict(case["config_out"])
    assert {**config, "ngrams": list(config["ngrams"]) if isinstance(config["ngrams"], tuple) else config["ngrams"]} \
        == expected_config


def test_text_vectorization_config_round_trip():
    layer = _text_layer(FIXTURE["text_vectorization"][12])  # tf_idf, adapted
    clone = layers.TextVectorization.from_config(layer.get_config())
    # Until its assets are loaded the clone has no vocabulary (Keras 3 reports its current size), but it
    # knows the size its encodings take.
    assert {**clone.get_config(), "vocabulary_size": None} == {**layer.get_config(), "vocabulary_size": None}
    assert clone.compute_output_shape((None, 1)) == (None, layer.vocabulary_size())
    with pytest.raises(RuntimeError, match="vocabulary size cannot be changed"):
        clone.set_vocabulary(["only", "two"], idf_weights=[1.0, 2.0])  # frozen size from the config
    fixed = layers.TextVectorization(vocabulary=["a", "b"], ngrams=(1, 2), split="character", standardize=None)
    again = layers.TextVectorization.from_config(json.loads(json.dumps(fixed.get_config())))
    assert again.get_config() == fixed.get_config() and again.get_vocabulary() == fixed.get_vocabulary()


def test_text_vectorization_callables_and_files(tmp_path):
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("fox\r\nDOG\nthe\n", encoding="utf-8")
    layer = layers.TextVectorization(vocabulary=str(vocab_file), standardize=lambda t: np.char.upper(t),
                                     split=lambda t: [s.split("-") for s in t.tolist()])
    assert layer.get_vocabulary() == ["", "[UNK]", "fox", "DOG", "the"]
    np.testing.assert_array_equal(_values(layer(np.array(["dog-fox", "x"]))), [[3, 1], [1, 0]])
    assert layer.get_config()["vocabulary"] is None  # a file's vocabulary is saved as an asset, as in Keras 3
    (tmp_path / "bad.txt").write_text("a\n\nb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty line"):
        layers.TextVectorization(vocabulary=str(tmp_path / "bad.txt"))


@pytest.mark.parametrize("kwargs, message", [
    ({"ragged": True}, "ragged=True"), ({"sparse": True}, "sparse=True"), ({"standardize": "upper"}, "standardize"),
    ({"split": "comma"}, "split"), ({"output_mode": "bag"}, "output_mode"), ({"ngrams": 0}, "ngrams"),
    ({"ngrams": [1, 2]}, "ngrams"), ({"output_mode": "count", "output_sequence_length": 3}, "output_sequence_length"),
    ({"output_sequence_length": 0}, "output_sequence_length"), ({"output_mode": "one_hot"}, "split=None"),
    ({"max_tokens": 1}, "max_tokens"), ({"pad_to_max_tokens": True}, "max_tokens"),
    ({"dtype": "float64"}, "dtype"), ({"output_mode": "tf_idf", "vocabulary": ["a"]}, "idf_weights"),
])
def test_text_vectorization_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layers.TextVectorization(**kwargs)


def test_text_vectorization_adapt_arguments_and_errors():
    layer = layers.TextVectorization(output_mode="multi_hot")
    with pytest.raises(RuntimeError, match="set the layer's vocabulary"):
        layer(np.array(["a"]))
    with pytest.raises(ValueError, match="steps"):
        layer.adapt(["a b"], steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        layer.adapt((b for b in [["a"]]), batch_size=2)
    with pytest.raises(ValueError, match="inputs only"):
        layer.adapt(iter([(np.array(["a"]), np.array([1]))]))
    with pytest.raises(TypeError, match="strings"):
        layers.TextVectorization(vocabulary=["a"])(np.array([[1.0]]))
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        layers.TextVectorization(vocabulary=["a"])(np.array([["a", "b"]]))

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.array([["a a b"], ["c"]][i])

    from_dataset = layers.TextVectorization()
    from_dataset.adapt(Batches())
    assert from_dataset.get_vocabulary() == ["", "[UNK]", "a", "c", "b"]
    with pytest.raises(ValueError, match="static vocabulary"):
        layers.TextVectorization(vocabulary=["a"]).adapt(["a"])


# --------------------------------------------------------------------------- lookups, hashing, encoding vs Keras 3
@pytest.mark.parametrize("case", FIXTURE["lookups"], ids=lambda c: f"{c['layer']}-{json.dumps(c['config'])[:50]}")
def test_lookup_layers_match_keras3(case):
    layer = getattr(layers, case["layer"])(**case["config"])
    if case["adapt"] is not None:
        layer.adapt(np.array(case["adapt"]))
    assert layer.get_vocabulary() == case["vocabulary"]
    assert layer.vocabulary_size() == case["vocabulary_size"]
    out = layer(np.array(case["inputs"]))
    values = _values(out)
    if values.dtype.kind in "US":
        assert values.tolist() == case["output"]
    elif case["config"].get("output_mode", "int") == "int":
        assert out.dtype == "int64"
        np.testing.assert_array_equal(values, case["output"])
    else:
        np.testing.assert_allclose(values, case["output"], rtol=RTOL, atol=_atol())
    config = {k: v for k, v in layer.get_config().items() if k not in ("dtype", "name")}
    assert config == case["config_out"]
    clone = type(layer).from_config(json.loads(json.dumps(layer.get_config())))
    if case["config"].get("vocabulary") is not None:
        assert clone.get_vocabulary() == layer.get_vocabulary()


def test_lookup_errors_and_special_tokens():
    strict = layers.StringLookup(vocabulary=["a", "b"], num_oov_indices=0)
    with pytest.raises(ValueError, match="found OOV values"):
        strict(np.array(["a", "zz"]))
    with pytest.raises(ValueError, match="repeated"):
        layers.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="mask token"):
        layers.StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(ValueError, match="larger than max_tokens"):
        layers.StringLookup(vocabulary=["a", "b", "c"], max_tokens=3)
    with pytest.raises(ValueError, match="sparse"):
        layers.StringLookup(sparse=True, output_mode="multi_hot")
    with pytest.raises(ValueError, match="invert"):
        layers.IntegerLookup(invert=True, output_mode="count")
    with pytest.raises(ValueError, match="vocabulary_dtype"):
        layers.IntegerLookup(vocabulary_dtype="int32")
    with pytest.raises(ValueError, match="salt"):
        layers.IntegerLookup(salt=3)
    with pytest.raises(TypeError, match="StringLookup"):
        layers.StringLookup(vocabulary=["a"])(np.array([1, 2]))
    with_specials = layers.StringLookup(vocabulary=["", "[UNK]", "x"], mask_token="")
    assert with_specials.get_vocabulary() == ["", "[UNK]", "x"]
    tfidf = layers.StringLookup(output_mode="tf_idf", vocabulary=["a", "b"], idf_weights=[1.0, 3.0])
    np.testing.assert_allclose(_values(tfidf(np.array([["a", "a", "q"]]))), [[2.0, 2.0, 0.0]])


@pytest.mark.parametrize("case", FIXTURE["hashing"], ids=lambda c: json.dumps(c["config"])[:50])
def test_hashing_matches_keras3(case):
    layer = layers.Hashing(**case["config"])
    out = layer(np.array(case["inputs"]))
    np.testing.assert_array_equal(_values(out), case["output"])
    expected = dict(case["config_out"])
    expected["dtype"] = expected["dtype"]["config"]["name"]  # Keras 3 writes a DTypePolicy, gpukeras its name
    assert {k: v for k, v in layer.get_config().items() if k != "name"} == expected


def test_fingerprints_against_tensorflow_values():
    """Recorded from tf.strings.to_hash_bucket_fast / _strong(..., 2**62): every FarmHash length branch."""
    fast = [1936946117179621455, 3694432073954588131, 1769834696496558107, 3168538174772821140,
            3286434551874864643, 693143013273849025]
    words = [b"", b"a", b"hello world", b"x" * 40, b"y" * 100, "é".encode()]
    assert [fingerprint64(w) % 2**62 for w in words] == fast
    strong = [443797209252341627, 546566331822570742, 1015233985318741638, 620143099891017215]
    assert [siphash24([1, 2], w) % 2**62 for w in words[:4]] == strong


@pytest.mark.parametrize("case", FIXTURE["category_encoding"], ids=lambda c: f"{c['config']['output_mode']}")
def test_category_encoding_matches_keras3(case):
    layer = layers.CategoryEncoding(**case["config"])
    weights = case.get("count_weights")
    out = layer(np.array(case["inputs"]), count_weights=None if weights is None else np.array(weights, "float32"))
    assert out.dtype == "float32"
    np.testing.assert_allclose(_values(out), case["output"], rtol=RTOL, atol=_atol())
    assert layers.CategoryEncoding.from_config(layer.get_config()).get_config() == layer.get_config()


def test_category_encoding_refusals():
    with pytest.raises(ValueError, match="num_tokens"):
        layers.CategoryEncoding()
    with pytest.raises(ValueError, match="sparse"):
        layers.CategoryEncoding(3, sparse=True)
    with pytest.raises(ValueError, match="count_weights"):
        layers.CategoryEncoding(3, output_mode="multi_hot")(np.array([[1]]), count_weights=np.array([[1.0]]))


# --------------------------------------------------------------------------- models, saving, training
def test_keras3_saved_text_vectorization_model_loads():
    saved = FIXTURE["saved_model"]
    model = keras.models.load_model(FIXTURES / saved["file"])
    layer = model.layers[1]
    assert layer.get_vocabulary() == saved["vocabulary"]
    x = np.array(saved["inputs"])[:, None]
    np.testing.assert_array_equal(model.predict(x, verbose=0), saved["output"])


@pytest.mark.parametrize("mode", ["int", "tf_idf"])
def test_save_and_load_keep_the_vocabulary(tmp_path, mode):
    corpus = FIXTURE["corpus"]
    kwargs = {"output_sequence_length": 5} if mode == "int" else {}
    tv = layers.TextVectorization(output_mode=mode, max_tokens=15, **kwargs)
    tv.adapt(corpus)
    lookup = layers.StringLookup(vocabulary=["fox", "dog"], output_mode="multi_hot")
    inp = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(inp, [tv(inp), lookup(inp)])
    x = np.array(corpus)[:, None]
    before = model.predict(x, verbose=0)
    path = tmp_path / "text.keras"
    model.save(path)
    names = zipfile.ZipFile(path).namelist()
    assert "assets/layers/text_vectorization/vocabulary.txt" in names  # Keras 3's place for it
    assert not any("string_lookup/vocabulary" in n for n in names if "_lookup_layer" not in n)  # in its config
    loaded = keras.models.load_model(path)
    assert loaded.layers[1].get_vocabulary() == tv.get_vocabulary()
    for a, b in zip(before, loaded.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b)
    if mode == "tf_idf":
        np.testing.assert_allclose(loaded.layers[1]._lookup_layer.idf_weights, tv._lookup_layer.idf_weights)


def test_string_inputs_only_where_declared():
    numeric = keras.Sequential([keras.Input(shape=(1,)), layers.Dense(1)])
    numeric.compile("sgd", "mse")
    with pytest.raises(TypeError, match='dtype="string"'):
        numeric.fit(np.array([["a"], ["b"]]), np.zeros(2), verbose=0)
    text = keras.Sequential([keras.Input(shape=(1,), dtype="string"),
                             layers.StringLookup(vocabulary=["a", "b"], output_mode="one_hot")])
    with pytest.raises(TypeError, match="non-string"):
        text.predict(np.array([["a"], [3]], dtype=object), verbose=0)
    np.testing.assert_array_equal(text.predict(np.array([["b"], ["zz"]]), verbose=0), [[0, 0, 1], [1, 0, 0]])
    out = text(np.array([["a"]]))  # a direct call keeps the strings on the host as well
    np.testing.assert_array_equal(_values(out), [[0, 1, 0]])


def _classifier(record: dict) -> keras.Model:
    tv = layers.TextVectorization(max_tokens=40, output_sequence_length=8)
    tv.adapt(record["texts"])
    assert tv.get_vocabulary() == record["vocabulary"]
    inputs = keras.Input(shape=(1,), dtype="string")
    x = layers.Embedding(40, 6)(tv(inputs))
    x = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    model.set_weights([np.asarray(w, "float32") for w in record["initial_weights"]])
    return model


def test_text_classifier_trains_as_keras3():
    """keras.io's TextVectorization -> Embedding -> GlobalAveragePooling1D -> Dense, strings fed to fit()."""
    record = FIXTURE["classifier"]
    model = _classifier(record)
    x = np.array(record["texts"])[:, None]
    np.testing.assert_array_equal(_values(model.layers[1](x)), record["sequences"])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, np.array(record["labels"]), batch_size=4, epochs=4, shuffle=False, verbose=0)
    for key, values in record["history"].items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-4, atol=_atol() * 10)
    for got, want in zip(model.get_weights(), record["final_weights"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), record["predictions"], rtol=1e-4, atol=1e-5)
    assert history.history["accuracy"][-1] == 1.0


def test_text_model_trains_from_a_generator_and_reloads(tmp_path):
    record = FIXTURE["classifier"]
    model = _classifier(record)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    texts, labels = np.array(record["texts"])[:, None], np.array(record["labels"], "float32")
    batches = ((texts[i:i + 4], labels[i:i + 4]) for i in range(0, 16, 4))
    model.fit(batches, epochs=1, steps_per_epoch=4, verbose=0)
    path = tmp_path / "classifier.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(texts, verbose=0), model.predict(texts, verbose=0), rtol=1e-6)


_KERAS3_CHECK = """
import json, sys
import numpy as np
import keras
model = keras.models.load_model(sys.argv[1])
queries = np.array(json.loads(sys.argv[2]))[:, None]
print(json.dumps([np.asarray(layer(queries)).tolist() for layer in model.layers[1:]]))
"""


def test_keras3_loads_gpukeras_text_models(tmp_path):
    """With KERAS3_PYTHON (a Python with Keras 3, JAX and TensorFlow), Keras 3 loads our file: same outputs."""
    python = os.environ.get("KERAS3_PYTHON")
    if not python:
        pytest.skip("set KERAS3_PYTHON to a Python with keras 3 + jax + tensorflow to run the gpukeras → Keras 3 check")
    corpus = FIXTURE["corpus"]
    tv = layers.TextVectorization(max_tokens=20, output_sequence_length=5)
    tv.adapt(corpus)
    tfidf = layers.TextVectorization(output_mode="tf_idf", ngrams=2)
    tfidf.adapt(corpus)
    inp = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(inp, [tv(inp), tfidf(inp)])
    path = tmp_path / "text.keras"
    model.save(path)
    queries = corpus + ["the fox", "nothing known"]
    result = subprocess.run([python, "-c", _KERAS3_CHECK, str(path), json.dumps(queries)], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    ours = model(np.array(queries)[:, None])
    np.testing.assert_array_equal(got[0], _values(ours[0]))
    np.testing.assert_allclose(got[1], _values(ours[1]), rtol=RTOL, atol=ATOL)
