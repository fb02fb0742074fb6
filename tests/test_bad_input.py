"""Bad input from a new user's probe: each case gets a clear error naming the problem, raised before
any weight changes, or (where Keras accepts the input) Keras 3's behaviour."""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import layers
from gpukeras.utils import PyDataset


def _classifier(classes: int = 4) -> keras.Sequential:
    model = keras.Sequential([keras.Input((3,)), layers.Dense(5, activation="relu"), layers.Dense(classes)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _unchanged(model, before) -> None:
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations.numpy()) == 0


def test_sparse_label_out_of_range_names_the_label_and_its_position() -> None:
    model = _classifier()
    before = model.get_weights()
    x = np.ones((6, 3), "float32")
    with pytest.raises(ValueError, match=r"Label 4 at position \(5,\) of y is out of range.*4 classes"):
        model.fit(x, np.array([0, 1, 2, 3, 0, 4]), verbose=0)
    with pytest.raises(ValueError, match=r"Label -1 at position \(2,\)"):
        model.fit(x, np.array([0, 1, -1, 3, 0, 1]), verbose=0)
    with pytest.raises(ValueError, match=r"Label 7 at position \(1, 0\)"):  # labels of shape (n, 1)
        model.train_on_batch(x[:2], np.array([[0], [7]]))
    _unchanged(model, before)


def test_sparse_labels_out_of_range_on_a_sequence_output_and_in_a_stream() -> None:
    inputs = keras.Input((4, 3))
    model = keras.Model(inputs, layers.Dense(6)(inputs))  # (batch, 4 steps, 6 classes)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    y = np.zeros((2, 4), "int64")
    y[1, 3] = 6
    with pytest.raises(ValueError, match=r"Label 6 at position \(1, 3\).*6 classes"):
        model.fit(np.ones((2, 4, 3), "float32"), y, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)

    class Batches(PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            labels = np.zeros((2, 4), "int64")
            labels[0, 0] = 9 if i == 2 else 1
            return np.ones((2, 4, 3), "float32"), labels

    with pytest.raises(ValueError, match=r"Label 9 at position \(0, 0\)"):
        model.fit(Batches(), verbose=0)  # the third batch is checked on the host before it runs
    assert int(model.optimizer.iterations.numpy()) == 2


def test_ignore_class_labels_are_accepted() -> None:
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1))
    history = model.fit(np.ones((4, 3), "float32"), np.array([0, -1, 2, -1]), verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_integer_inputs_train_in_float32() -> None:
    x = np.arange(24, dtype="int64").reshape(8, 3) % 5
    y = np.arange(8, dtype="float32").reshape(8, 1) / 8
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, verbose=0)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict(x, verbose=0).dtype == np.float32
    assert str(model(x).dtype) == "float32"  # a direct call on int64 data too

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, inputs):
            return self.dense(inputs)

    sub = Sub()
    sub.compile(optimizer="sgd", loss="mse")
    sub.fit(x, y, verbose=0)
    assert sub.predict(x, verbose=0).dtype == np.float32
    assert all(w.dtype == np.float32 for w in sub.get_weights())


@pytest.mark.parametrize("data, dtype", [(np.array([["a", "b", "c"]] * 4), "<U1"),
                                         (np.array([[b"a", b"b", b"c"]] * 4), "|S1"),
                                         (np.array([[{}, 1, 2]] * 4, dtype=object), "object")])
def test_string_or_object_x_names_the_dtype(data, dtype) -> None:
    model = _classifier()
    before = model.get_weights()
    with pytest.raises(TypeError, match=rf"`x`.*dtype {dtype}"):
        model.fit(data, np.zeros(4, "int64"), verbose=0)
    _unchanged(model, before)


def test_one_hot_target_of_the_wrong_width_names_both_widths() -> None:
    model = keras.Sequential([keras.Input((3,)), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"target's width 5 differs from the output's width 10"):
        model.fit(np.ones((4, 3), "float32"), np.eye(5, dtype="float32")[[0, 1, 2, 3]], verbose=0)
    _unchanged(model, before)


def test_regression_target_wider_than_a_one_unit_output_is_refused_not_broadcast() -> None:
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(None, 1\).*width 3 differs from the output's width 1"):
        model.fit(np.ones((4, 3), "float32"), np.ones((4, 3), "float32"), verbose=0)
    _unchanged(model, before)
    model.fit(np.ones((4, 3), "float32"), np.ones(4, "float32"), verbose=0)  # (n,) against (n, 1) is fine


def test_validation_data_of_the_wrong_width_is_refused_before_the_first_epoch() -> None:
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    x, y = np.ones((8, 3), "float32"), np.ones((8, 1), "float32")
    with pytest.raises(ValueError, match=r"validation data does not fit.*expected shape \(None, 3\)"):
        model.fit(x, y, validation_data=(np.ones((4, 5), "float32"), np.ones((4, 1), "float32")), verbose=0)
    with pytest.raises(ValueError, match=r"validation data does not fit.*width 2 differs"):
        model.fit(x, y, validation_data=(np.ones((4, 3), "float32"), np.ones((4, 2), "float32")), verbose=0)
    _unchanged(model, before)


def test_class_weight_covering_some_classes_weighs_the_others_one() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(24, 3)).astype("float32")
    y = rng.integers(0, 3, size=24)
    first, second = _classifier(3), _classifier(3)
    second.set_weights(first.get_weights())
    h1 = first.fit(x, y, class_weight={2: 4.0}, shuffle=False, epochs=2, verbose=0)
    h2 = second.fit(x, y, sample_weight=np.where(y == 2, 4.0, 1.0), shuffle=False, epochs=2, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)


def test_custom_losses_are_not_shape_checked() -> None:
    def first_column_mse(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true[:, :1] - y_pred), axis=-1)

    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss=first_column_mse)
    history = model.fit(np.ones((4, 3), "float32"), np.ones((4, 3), "float32"), verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_input_arguments_gpukeras_lacks_are_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="sparse inputs are not supported"):
        keras.Input((3,), sparse=True)
    with pytest.raises(ValueError, match="tensor=.*not supported"):
        keras.Input((3,), tensor=np.ones((1, 3)))
    with pytest.raises(ValueError, match="optional=True"):
        keras.Input((3,), optional=True)
    with pytest.raises(ValueError, match="sparse=True"):
        keras.ops.convert_to_tensor(np.ones(3), sparse=True)


def test_autocast_casts_float_inputs_to_the_layer_dtype_and_can_be_turned_off() -> None:
    x = keras.ops.convert_to_tensor(np.ones((2, 3), "float64"))
    assert layers.Dense(2)(x).dtype == "float32"
    assert layers.Dense(2, autocast=False)(x).dtype == "float64"
    ints = keras.ops.convert_to_tensor(np.ones((2, 3), "int32"))
    assert layers.Activation("linear")(ints).dtype == "int32"  # integers are not autocast
