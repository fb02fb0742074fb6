"""The text workloads (W4, W5) as a Keras user writes them, one source for gpukeras and Keras 3.

`keras` is passed in (`import gpukeras as keras` or the real `import keras`), as in
tests/reference/keras_io_programs.py, so both libraries run the very same model code. No import of
either library here: the Keras 3 runner loads this file from Keras's own venv.
"""

from __future__ import annotations

from typing import Any

if not __package__:  # run by path: siblings importable, the stdlib not shadowed
    import workloads as W  # noqa: E402
else:
    from gpukeras.bench import workloads as W


def build(keras: Any, w: W.Workload) -> Any:
    """W4 or W5, compiled with Adam(1e-3), its cross-entropy and `metrics=["accuracy"]`."""
    if w.kind == "lstm":
        return lstm_text(keras, w)
    if w.kind == "transformer":
        return transformer_text(keras, w)
    raise ValueError(f"{w.key} ({w.kind}) is not a text workload")


def lstm_text(keras: Any, w: W.Workload) -> Any:
    """Input((T,), int32) -> Embedding(vocab, embed) -> LSTM(64) -> Dense(1, sigmoid); binary cross-entropy."""
    layers = keras.layers
    inputs = keras.Input(w.input_shape, dtype="int32")
    x = layers.Embedding(w.vocab, w.embed)(inputs)
    x = layers.LSTM(W.LSTM_UNITS)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=W.LEARNING_RATE), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def transformer_text(keras: Any, w: W.Workload) -> Any:
    """keras.io/examples/nlp/text_classification_with_transformer: token + position embedding, one
    transformer block (2 heads of 32, feed-forward 32, dropout 0.1), average pooling, Dense(20, relu),
    Dense(2, softmax); sparse categorical cross-entropy."""
    layers = keras.layers
    token_and_position, block = _transformer_layers(keras)
    inputs = keras.Input(w.input_shape, dtype="int32")
    x = token_and_position(w.input_shape[0], w.vocab, w.embed)(inputs)
    x = block(w.embed, W.TRANSFORMER_HEADS, W.TRANSFORMER_FF, W.TRANSFORMER_DROPOUT)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(W.TRANSFORMER_DROPOUT)(x)
    x = layers.Dense(W.TRANSFORMER_DENSE, activation="relu")(x)
    x = layers.Dropout(W.TRANSFORMER_DROPOUT)(x)
    outputs = layers.Dense(W.TRANSFORMER_CLASSES, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=W.LEARNING_RATE),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _transformer_layers(keras: Any) -> tuple[type, type]:
    """keras.io's TokenAndPositionEmbedding and TransformerBlock, subclassing this `keras`'s Layer."""
    layers, ops = keras.layers, keras.ops

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen: int, vocab_size: int, embed_dim: int):
            super().__init__()
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x: Any) -> Any:
            positions = self.pos_emb(ops.arange(start=0, stop=ops.shape(x)[-1], step=1))
            return self.token_emb(x) + positions

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim: int, num_heads: int, ff_dim: int, rate: float = 0.1):
            super().__init__()
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=W.LAYERNORM_EPSILON)
            self.layernorm2 = layers.LayerNormalization(epsilon=W.LAYERNORM_EPSILON)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs: Any) -> Any:
            attn_output = self.dropout1(self.att(inputs, inputs))
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.dropout2(self.ffn(out1))
            return self.layernorm2(out1 + ffn_output)

    return TokenAndPositionEmbedding, TransformerBlock
