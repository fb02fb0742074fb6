"""A functional model built with keras.ops on symbolic tensors, written once for Keras 3 and gpukeras
(`keras` passed in): tests/reference/record_keras3_symbolic_ops.py records Keras 3's numbers and
tests/test_symbolic_ops.py replays them."""

import numpy as np


def build(keras):
    """Arithmetic, slicing, reductions, concatenation and casts on KerasTensors between layers."""
    ops = keras.ops
    inputs = keras.Input((6,))
    x = inputs / 4.0 - 0.5
    hidden = keras.layers.Dense(5, activation="tanh")(x)
    both = ops.concatenate([hidden, x[:, :3] * 2.0], axis=-1)
    spread = ops.max(both, axis=-1, keepdims=True) - ops.mean(both, axis=-1, keepdims=True)
    scaled = both * ops.sigmoid(spread) + ops.expand_dims(ops.sum(x, axis=-1), -1) ** 2 / 10.0
    logits = keras.layers.Dense(3)(-scaled)
    outputs = ops.softmax(logits, axis=-1)
    return keras.Model(inputs, outputs)


def weights(model):
    rs = np.random.RandomState(5)
    return [rs.uniform(-0.6, 0.6, size=tuple(w.shape)).astype("float32") for w in model.get_weights()]


def data():
    rs = np.random.RandomState(8)
    x = rs.uniform(0.0, 4.0, size=(24, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > x[:, 2] + 2).astype("int64") + (x[:, 3] > 3).astype("int64")
    return x, y


def train(keras, model):
    """Three epochs of SGD through the op nodes; returns the history's losses."""
    x, y = data()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history
