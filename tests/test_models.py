"""Layers and models: building, weights, nesting, functional graphs, subclassing, summary."""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import layers, ops


def _mlp() -> keras.Sequential:
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3, activation="relu"), layers.Dense(2)])


def test_sequential_builds_from_input_and_counts_params() -> None:
    model = _mlp()
    assert model.built
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]
    assert [w.shape for w in model.weights] == [(4, 3), (3,), (3, 2), (2,)]
    assert [w.path for w in model.weights] == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    assert model.count_params() == 4 * 3 + 3 + 3 * 2 + 2


def test_sequential_lazy_build_on_first_data_and_input_shape_kwarg() -> None:
    lazy = keras.Sequential([layers.Flatten(), layers.Dense(5)])
    assert not lazy.built
    out = lazy.predict(np.ones((3, 2, 2), "float32"), verbose=0)
    assert out.shape == (3, 5) and lazy.weights[0].shape == (4, 5)
    declared = keras.Sequential([layers.Dense(2, input_shape=(7,))])
    assert declared.built and declared.weights[0].shape == (7, 2)


def test_sequential_add_pop_and_get_layer() -> None:
    model = keras.Sequential()
    model.add(keras.Input(shape=(3,)))
    model.add(layers.Dense(4, name="hidden"))
    model.add(layers.Dense(1, name="out"))
    assert model.get_layer("hidden").units == 4
    assert model.get_layer(index=1).name == "out"
    popped = model.pop()
    assert popped.name == "out" and [layer.name for layer in model.layers] == ["hidden"]
    with pytest.raises(ValueError, match="No layer named 'nope'"):
        model.get_layer("nope")
    with pytest.raises(TypeError, match="expects a Layer"):
        model.add("dense")


def test_dense_forward_matches_formula() -> None:
    layer = layers.Dense(3, activation="tanh")
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    y = layer(x).numpy()
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(y, np.tanh(x @ kernel + bias), rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32


def test_dense_validates_units_and_input_dim() -> None:
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="activation|Unknown"):
        layers.Dense(2, activation="no_such_activation")
    layer = layers.Dense(2)
    layer(np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match="last dimension 3"):
        layer(np.ones((1, 4), "float32"))


def test_set_weights_checks_all_shapes_before_writing() -> None:
    model = _mlp()
    before = model.get_weights()
    bad = [w.copy() + 1 for w in before]
    bad[-1] = np.zeros(5, "float32")
    with pytest.raises(ValueError, match=r"dense_1/bias.*\(2,\).*\(5,\)"):
        model.set_weights(bad)
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_trainable_flag_moves_weights() -> None:
    model = _mlp()
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2


def test_functional_two_inputs_two_outputs() -> None:
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(2,), name="b")
    merged = layers.Concatenate()([a, b])
    hidden = layers.Dense(4, activation="relu", name="hidden")(merged)
    out1 = layers.Dense(1, name="out1")(hidden)
    out2 = layers.Add(name="out2")([layers.Dense(2)(hidden), b])
    model = keras.Model(inputs=[a, b], outputs=[out1, out2])
    assert isinstance(model, keras.models.Functional)
    assert model.output_names == ["out1", "out2"]
    xa = np.ones((5, 3), "float32")
    xb = np.full((5, 2), 2.0, "float32")
    p1, p2 = model.predict([xa, xb], verbose=0)
    assert p1.shape == (5, 1) and p2.shape == (5, 2)
    hidden_layer = model.get_layer("hidden")
    h = np.maximum(np.concatenate([xa, xb], 1) @ hidden_layer.get_weights()[0] + hidden_layer.get_weights()[1], 0)
    w1, b1 = model.get_layer("out1").get_weights()
    np.testing.assert_allclose(p1, h @ w1 + b1, rtol=1e-5, atol=1e-6)
    model.compile(optimizer="sgd", loss=["mse", "mse"], loss_weights=[1.0, 0.5])
    history = model.fit([xa, xb], [np.zeros((5, 1)), np.zeros((5, 2))], epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    assert {"out1_loss", "out2_loss"} <= set(history.history)


def test_functional_rejects_non_symbolic_and_disconnected_inputs() -> None:
    with pytest.raises(ValueError, match="symbolic"):
        keras.Model(inputs=np.ones(3), outputs=np.ones(3))
    a, b = keras.Input(shape=(2,)), keras.Input(shape=(2,))
    with pytest.raises(ValueError, match="not among the model's inputs"):
        keras.Model(inputs=a, outputs=layers.Add()([a, b]))


class TwoLayer(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(8, activation="relu")
        self.out = layers.Dense(1)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs) * 2.0)


def test_subclassed_model_tracks_nested_layers_and_trains() -> None:
    model = TwoLayer()
    x = np.random.default_rng(1).normal(size=(64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert len(model.weights) == 4 and model.name == "two_layer"
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_gradient_tape_custom_training_loop() -> None:
    model = _mlp()
    opt = keras.optimizers.SGD(0.1)
    x = np.random.default_rng(2).normal(size=(16, 4)).astype("float32")
    y = np.zeros((16, 2), "float32")
    losses = []
    for _ in range(5):
        with keras.GradientTape() as tape:
            loss = ops.mean(ops.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        losses.append(float(loss))
    assert all(g is not None for g in grads)
    assert losses[-1] < losses[0]


def test_summary_prints_keras_table(capsys) -> None:
    model = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(32, activation="relu"), layers.Dense(10)],
                             name="seed")
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "seed"' in out
    assert "Layer (type)" in out and "Output Shape" in out and "Param #" in out
    assert "dense (Dense)" in out and "(None, 32)" in out and "2,080" in out
    assert "Total params: 2,410 (9.41 KB)" in out
    assert "Trainable params: 2,410 (9.41 KB)" in out
    assert "Non-trainable params: 0 (0.00 B)" in out


def test_layer_config_round_trip() -> None:
    layer = layers.Dense(3, activation="sigmoid", use_bias=False, name="d")
    clone = layers.Dense.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    flat = layers.Flatten(data_format="channels_first")
    assert layers.Flatten.from_config(flat.get_config()).data_format == "channels_first"


def test_dropout_only_in_training() -> None:
    layer = layers.Dropout(0.5, seed=3)
    x = np.ones((200, 10), "float32")
    np.testing.assert_array_equal(layer(x).numpy(), x)
    dropped = layer(x, training=True).numpy()
    assert set(np.unique(dropped)) <= {0.0, 2.0}
    assert 0.35 < (dropped == 0).mean() < 0.65


def test_dropout_noise_shape_shares_one_draw_along_its_ones() -> None:
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 1, 3), seed=4)  # EfficientNet's "drop connect" is (None, 1, 1, 1)
    x = np.ones((64, 4, 5, 3), "float32")
    np.testing.assert_array_equal(layer(x).numpy(), x)
    dropped = layer(x, training=True).numpy()
    assert set(np.unique(dropped)) <= {0.0, 2.0}
    np.testing.assert_array_equal(dropped, np.broadcast_to(dropped[:, :1, :1, :], x.shape))
    assert 0.3 < (dropped[:, 0, 0, :] == 0).mean() < 0.7
    config = layer.get_config()
    assert config["noise_shape"] == (None, 1, 1, 3)
    assert layers.Dropout.from_config(config).noise_shape == (None, 1, 1, 3)
    with pytest.raises(ValueError, match="noise_shape"):
        layers.Dropout(0.5, noise_shape=(None, 0, 3))
    with pytest.raises(ValueError, match="noise_shape"):
        layers.Dropout(0.5, noise_shape=4)


def test_flatten_channels_first_moves_channels_last() -> None:
    x = np.arange(2 * 3 * 2 * 2, dtype="float32").reshape(2, 3, 2, 2)
    out = layers.Flatten(data_format="channels_first")(x).numpy()
    np.testing.assert_array_equal(out, np.transpose(x, (0, 2, 3, 1)).reshape(2, -1))


def test_get_weights_returns_copies_not_live_arrays() -> None:
    model = _mlp()
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    snapshot = [w.copy() for w in before]
    model.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), verbose=0)
    for held, original in zip(before, snapshot):
        np.testing.assert_array_equal(held, original)
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), snapshot))


class NoTrainingArg(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1)

    def call(self, inputs):
        return self.dense(inputs)


def test_subclassed_call_without_training_argument_trains() -> None:
    model = NoTrainingArg()
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((8, 2), "float32"), np.ones((8, 1), "float32"), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(np.ones((3, 2), "float32"), verbose=0).shape == (3, 1)


def test_training_argument_only_reaches_layers_that_take_it() -> None:
    x = np.ones((2, 3), "float32")
    dense = layers.Dense(2)
    np.testing.assert_array_equal(dense(x, training=True).numpy(), dense(x).numpy())
    assert layers.Dropout(0.5)(x, training=True).shape == (2, 3)


def test_per_output_loss_logs_skip_outputs_without_a_loss() -> None:
    inp = keras.Input(shape=(3,))
    out1 = layers.Dense(1, name="out1")(inp)
    out2 = layers.Dense(2, name="out2")(inp)
    model = keras.Model(inp, [out1, out2])
    model.compile(optimizer="sgd", loss={"out2": "mse"})
    x = np.ones((4, 3), "float32")
    logs = model.evaluate(x, [np.zeros((4, 1)), np.ones((4, 2))], verbose=0, return_dict=True)
    assert set(logs) == {"loss"}  # Keras 3 tracks per-output losses only when two or more outputs have one
    assert all(hasattr(m, "variables") for m in model.metrics)  # the loss trackers are real Metrics
    model.compile(optimizer="sgd", loss=[None, "mse"])  # y may then hold only the target of out2 (Keras 3)
    assert model.evaluate(x, np.ones((4, 2)), verbose=0, return_dict=True) == logs
    three = keras.Model(inp, [out1, out2, layers.Dense(1, name="out3")(inp)])
    three.compile(optimizer="sgd", loss=["mse", None, "mae"])
    both = three.evaluate(x, [np.zeros((4, 1)), np.ones((4, 1))], verbose=0, return_dict=True)
    assert set(both) == {"loss", "out1_loss", "out3_loss"}


class _Shift(layers.Layer):
    def call(self, x, offset=None):
        return x + offset


def test_functional_graph_follows_tensors_passed_as_keyword_arguments(tmp_path) -> None:
    a, b = keras.Input((3,)), keras.Input((3,))
    out = _Shift()(a, offset=layers.Dense(3, kernel_initializer="ones")(b))
    model = keras.Model([a, b], out)
    assert len(model.layers) == 4  # the Dense feeding the keyword argument is part of the graph
    x, y = np.ones((2, 3), "float32"), np.full((2, 3), 2.0, "float32")
    np.testing.assert_allclose(model.predict([x, y], verbose=0), 1.0 + 6.0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", custom_objects={"_Shift": _Shift})
    np.testing.assert_allclose(loaded.predict([x, y], verbose=0), 7.0)


def test_summary_of_nested_symbolic_outputs() -> None:
    inputs = keras.Input((5, 2))
    seq, h, c = layers.LSTM(3, return_sequences=True, return_state=True)(inputs)
    lines: list[str] = []
    keras.Model(inputs, [seq, [h, c]]).summary(print_fn=lines.append)
    row = next(line for line in lines[0].splitlines() if "lstm (LSTM)" in line)
    assert "[(None, 5, 3), (None, 3)," in row
