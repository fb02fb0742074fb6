"""The seed article's program on the bundled 8x8 digits: `python -m gpukeras.demo`.

Every argument the article lists for Flatten, Dense, compile, fit, evaluate and predict is
passed explicitly (tf.keras 2 names included), so this file doubles as the API check.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import gpukeras as keras


def build_model(hidden_units: int = 64) -> keras.Sequential:
    """Flatten → Dense(hidden, relu) → Dense(10, softmax), as the article stacks them."""
    model = keras.Sequential()
    model.add(keras.layers.Flatten(data_format=None))
    model.add(keras.layers.Dense(
        hidden_units, activation="relu", use_bias=True, kernel_initializer="glorot_uniform",
        bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
        activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
    ))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
        loss_weights=None, sample_weight_mode=None, weighted_metrics=None,
    )
    return model


def run(epochs: int = 30, verbose: int = 2, seed: int = 7) -> dict[str, Any]:
    """Train on digits, evaluate on the held-out split, predict a few images; returns the numbers."""
    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train = x_train.astype("float32") / 16.0
    x_test = x_test.astype("float32") / 16.0
    model = build_model()
    history = model.fit(
        x=x_train, y=y_train, batch_size=32, epochs=epochs, verbose=verbose, callbacks=None,
        validation_split=0.1, validation_data=None, shuffle=True, class_weight=None,
        sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
        validation_batch_size=None, validation_freq=1, max_queue_size=10, workers=1,
        use_multiprocessing=False,
    )
    loss, accuracy = model.evaluate(
        x=x_test, y=y_test, batch_size=None, verbose=verbose, sample_weight=None, steps=None,
        callbacks=None, max_queue_size=10, workers=1, use_multiprocessing=False, return_dict=False,
    )
    predictions = model.predict(
        x_test[:8], batch_size=None, verbose=0, steps=None, callbacks=None, max_queue_size=10,
        workers=1, use_multiprocessing=False,
    )
    return {"model": model, "history": history, "loss": loss, "accuracy": accuracy,
            "predicted": np.argmax(predictions, axis=-1), "actual": y_test[:8]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    args = parser.parse_args(argv)
    print(f"gpukeras {keras.__version__} on the {keras.backend.backend()} backend")
    result = run(epochs=args.epochs, verbose=args.verbose)
    result["model"].summary()
    print(f"loss: {result['loss']:.3f}")
    print(f"accuracy: {result['accuracy']:.3f}")
    print(f"predicted: {result['predicted'].tolist()}")
    print(f"actual:    {result['actual'].tolist()}")


if __name__ == "__main__":
    main()
