"""keras.io's text and sequence example programs, written once and run with either library.

Each function is the program as keras.io writes it (model, compile, fit, evaluate), with `keras`
passed in so the same source runs with `import keras` (the Keras 3 recorder,
tests/reference/record_keras3_programs.py) and `import gpukeras as keras` (the tests). Only the data
differs from keras.io: local stand-ins of the same shape (keras_io_data.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def conv1d_text_classifier(keras: Any, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                           y_test: np.ndarray, epochs: int = 3) -> dict[str, float]:
    """keras.io/examples/nlp/text_classification_from_scratch (after its TextVectorization step)."""
    layers = keras.layers
    max_features, embedding_dim = 20000, 128
    inputs = keras.Input(shape=(None,), dtype="int64")
    x = layers.Embedding(max_features, embedding_dim)(inputs)
    x = layers.Dropout(0.5)(x)
    x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inputs, predictions)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
    return model.evaluate(x_test, y_test, verbose=0, return_dict=True)


def bidirectional_lstm_classifier(keras: Any, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                                  y_val: np.ndarray, epochs: int = 2) -> dict[str, float]:
    """keras.io/examples/nlp/bidirectional_lstm_imdb."""
    layers = keras.layers
    max_features = 20000
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(max_features, 128)(inputs)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_data=(x_val, y_val), verbose=0)
    return model.evaluate(x_val, y_val, verbose=0, return_dict=True)


def transformer_classifier(keras: Any, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                           y_val: np.ndarray, epochs: int = 2) -> dict[str, float]:
    """keras.io/examples/nlp/text_classification_with_transformer."""
    layers, ops = keras.layers, keras.ops

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

    vocab_size, maxlen = 20000, 200
    embed_dim, num_heads, ff_dim = 32, 2, 32
    inputs = layers.Input(shape=(maxlen,))
    embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
    x = embedding_layer(inputs)
    transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
    x = transformer_block(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_data=(x_val, y_val), verbose=0)
    return model.evaluate(x_val, y_val, verbose=0, return_dict=True)


def weather_forecaster(keras: Any, features: np.ndarray, epochs: int = 10) -> dict[str, float]:
    """keras.io/examples/timeseries/timeseries_weather_forecasting (from its normalized features on)."""
    split_fraction = 0.715
    train_split = int(split_fraction * int(features.shape[0]))
    step, past, future = 6, 720, 72
    learning_rate, batch_size = 0.001, 256
    train_data = features[0:train_split - 1]
    val_data = features[train_split:]
    start = past + future
    end = start + train_split
    x_train = train_data[:, :]
    y_train = features[start:end][:, [1]]
    sequence_length = int(past / step)
    dataset_train = keras.preprocessing.timeseries_dataset_from_array(
        x_train, y_train, sequence_length=sequence_length, sampling_rate=step, batch_size=batch_size)
    x_end = len(val_data) - past - future
    label_start = train_split + past + future
    x_val = val_data[:x_end][:, :]
    y_val = features[label_start:][:, [1]]
    dataset_val = keras.preprocessing.timeseries_dataset_from_array(
        x_val, y_val, sequence_length=sequence_length, sampling_rate=step, batch_size=batch_size)
    for batch in dataset_train.take(1):
        inputs, targets = batch
    inputs = keras.layers.Input(shape=(inputs.shape[1], inputs.shape[2]))
    lstm_out = keras.layers.LSTM(32)(inputs)
    outputs = keras.layers.Dense(1)(lstm_out)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    history = model.fit(dataset_train, epochs=epochs, validation_data=dataset_val, verbose=0)
    return {"loss": float(history.history["loss"][-1]), "val_loss": float(history.history["val_loss"][-1])}
