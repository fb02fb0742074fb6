"""W1-W3 (and W1S, W2S) as a Keras user writes them, one source for gpukeras and Keras 3 (`keras` passed in,
as in sequence_models.py and vision_models.py; no import of either library here)."""

from __future__ import annotations

from typing import Any

if not __package__:  # run by path: siblings importable, the stdlib not shadowed
    import workloads as W  # noqa: E402
else:
    from gpukeras.bench import workloads as W


def build(keras: Any, w: W.Workload) -> Any:
    """The MLP or the small convnet, compiled with Adam(1e-3) and sparse CE from logits, or from a softmax
    output with `metrics=["accuracy"]` (W1S, W2S)."""
    layers: list[Any] = [keras.Input(w.input_shape)]
    if w.kind == "mlp":
        layers += [keras.layers.Dense(u, activation="relu") for u in w.units]
    else:
        for f in W.CNN_FILTERS:
            layers += [keras.layers.Conv2D(f, W.CNN_KERNEL, activation="relu"), keras.layers.MaxPooling2D(2)]
        layers += [keras.layers.Flatten(), keras.layers.Dropout(W.CNN_DROPOUT)]
    optimizer = keras.optimizers.Adam(learning_rate=W.LEARNING_RATE)
    if w.softmax_output:
        layers.append(keras.layers.Dense(W.NUM_CLASSES, activation="softmax"))
        model = keras.Sequential(layers)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
    layers.append(keras.layers.Dense(W.NUM_CLASSES))
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
