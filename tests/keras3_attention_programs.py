"""The attention programs both the Keras 3 recorder and gpukeras' replay run, written once against the
Keras API: every function takes the `keras` module to run on (the real Keras 3, or `gpukeras`).

tests/reference/record_keras3_attention.py runs them on Keras 3 (JAX) and stores inputs, weights,
outputs, gradients and training histories in tests/fixtures/keras3_attention.json;
tests/test_keras3_attention.py runs them on gpukeras from the stored inputs and weights.

Cases: `LAYER_CASES` (one attention layer called on fixed inputs: outputs, attention scores and
gradients), `EINSUM_CASES` (EinsumDense), `DPA_CASES` (ops.dot_product_attention) and
`TRAIN_CASES` (a few `fit` steps of a small model around each layer, and keras.io's transformer
text classifier). Masked time steps of an input are zero vectors behind a `Masking` layer, so
the masks reach the layers the way Keras 3 delivers them (attached to the tensors).
"""

from __future__ import annotations

from typing import Any

import numpy as np

B, T, S, D = 2, 4, 5, 6  # batch, query length, key/value length, features
F32 = np.float32

# ---------------------------------------------------------------------------- layer cases
# inputs: name -> (shape, padded steps per batch row or None); masked: inputs sent through Masking;
# call: keyword arguments; "attention_mask" is drawn as a (B, T, S) boolean array (seeded per case).
_SELF = {"query": ((B, T, D), [0, 1])}
_SELF_PLAIN = {"query": ((B, T, D), None)}
_CROSS = {"query": ((B, T, 6), [0, 1]), "value": ((B, S, 7), [1, 0]), "key": ((B, S, 8), [2, 0])}
_CROSS_PLAIN = {"query": ((B, T, 6), None), "value": ((B, S, 7), None), "key": ((B, S, 8), None)}
_ATT = {"query": ((B, T, D), [1, 0]), "value": ((B, S, D), [0, 2])}
_ATT_KEY = {"query": ((B, T, D), [1, 0]), "value": ((B, S, D), [0, 2]), "key": ((B, S, D), None)}

LAYER_CASES: list[dict[str, Any]] = [
    {"id": "mha_self", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _SELF_PLAIN, "masked": [], "call": {}},
    {"id": "mha_self_scores", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _SELF_PLAIN, "masked": [], "call": {"return_attention_scores": True}},
    # Keras 3 (JAX) fails on value_dim != key_dim without scores: jax's dot_product_attention wants equal sizes
    {"id": "mha_cross", "cls": "MultiHeadAttention",
     "config": {"num_heads": 2, "key_dim": 3, "value_dim": 3, "output_shape": 5},
     "inputs": _CROSS_PLAIN, "masked": [], "call": {}},
    {"id": "mha_cross_scores", "cls": "MultiHeadAttention",
     "config": {"num_heads": 2, "key_dim": 3, "value_dim": 4, "output_shape": [5]},
     "inputs": _CROSS_PLAIN, "masked": [], "call": {"return_attention_scores": True}},
    {"id": "mha_padding", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _SELF, "masked": ["query"], "call": {}},
    {"id": "mha_padding_scores", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _SELF, "masked": ["query"], "call": {"return_attention_scores": True}},
    {"id": "mha_cross_padding", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _CROSS, "masked": ["query", "value", "key"], "call": {}},
    {"id": "mha_cross_padding_scores", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _CROSS, "masked": ["query", "value", "key"], "call": {"return_attention_scores": True}},
    {"id": "mha_attention_mask", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _CROSS, "masked": ["value"], "call": {"attention_mask": True}},
    {"id": "mha_attention_mask_scores", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _CROSS, "masked": ["value"], "call": {"attention_mask": True, "return_attention_scores": True}},
    {"id": "mha_causal", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _SELF_PLAIN, "masked": [], "call": {"use_causal_mask": True}},
    {"id": "mha_causal_scores", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _SELF_PLAIN, "masked": [], "call": {"use_causal_mask": True, "return_attention_scores": True}},
    {"id": "mha_causal_padding", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 3},
     "inputs": _SELF, "masked": ["query"], "call": {"use_causal_mask": True}},
    {"id": "mha_causal_cross", "cls": "MultiHeadAttention", "config": {"num_heads": 3, "key_dim": 2},
     "inputs": _CROSS_PLAIN, "masked": [], "call": {"use_causal_mask": True}},
    {"id": "mha_axes_2d", "cls": "MultiHeadAttention",
     "config": {"num_heads": 2, "key_dim": 3, "attention_axes": [1, 2]},
     "inputs": {"query": ((B, 2, 3, D), None), "value": ((B, 3, 2, 5), None)}, "masked": [],
     "call": {"return_attention_scores": True}},
    {"id": "mha_axes_inner", "cls": "MultiHeadAttention",
     "config": {"num_heads": 2, "key_dim": 2, "attention_axes": 2},
     "inputs": {"query": ((B, 3, 4, D), None), "value": ((B, 3, 5, D), None)}, "masked": [],
     "call": {"return_attention_scores": True}},
    {"id": "mha_axes_2d_output", "cls": "MultiHeadAttention",
     "config": {"num_heads": 2, "key_dim": 3, "attention_axes": [1, 2], "output_shape": [2, 3]},
     "inputs": {"query": ((B, 2, 3, D), None), "value": ((B, 3, 2, 5), None)}, "masked": [], "call": {}},
    {"id": "mha_gate_window", "cls": "MultiHeadAttention",
     "config": {"num_heads": 2, "key_dim": 3, "use_gate": True, "sliding_window": 2, "use_bias": False},
     "inputs": _SELF_PLAIN, "masked": [], "call": {"use_causal_mask": True}},
    {"id": "mha_dropout_inference", "cls": "MultiHeadAttention",
     "config": {"num_heads": 2, "key_dim": 3, "dropout": 0.3, "seed": 1},
     "inputs": _CROSS, "masked": ["query", "value"], "call": {"training": False}},
    {"id": "gqa", "cls": "GroupQueryAttention",
     "config": {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2},
     "inputs": _SELF, "masked": ["query"], "call": {}},
    {"id": "gqa_cross_causal_scores", "cls": "GroupQueryAttention",
     "config": {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2},
     "inputs": {"query": ((B, T, D), None), "value": ((B, S, D), [1, 0]), "key": ((B, S, 7), None)},
     "masked": ["value"], "call": {"use_causal_mask": True, "return_attention_scores": True}},
    {"id": "gqa_mqa_gate_window", "cls": "GroupQueryAttention",
     "config": {"head_dim": 2, "num_query_heads": 3, "num_key_value_heads": 1, "use_gate": True,
                "sliding_window": 3},
     "inputs": {"query": ((B, T, D), None), "value": ((B, S, D), None)}, "masked": [],
     "call": {"attention_mask": True}},
    {"id": "attention_dot", "cls": "Attention", "config": {},
     "inputs": _ATT, "masked": ["query", "value"], "call": {}},
    {"id": "attention_scale_key_causal", "cls": "Attention", "config": {"use_scale": True},
     "inputs": _ATT_KEY, "masked": ["value"], "call": {"use_causal_mask": True, "return_attention_scores": True}},
    {"id": "attention_concat", "cls": "Attention", "config": {"score_mode": "concat", "use_scale": True},
     "inputs": _ATT, "masked": ["query", "value"], "call": {"return_attention_scores": True}},
    {"id": "attention_concat_noscale", "cls": "Attention", "config": {"score_mode": "concat"},
     "inputs": _ATT_KEY, "masked": [], "call": {}},
    {"id": "additive", "cls": "AdditiveAttention", "config": {},
     "inputs": _ATT_KEY, "masked": ["query", "value"], "call": {"return_attention_scores": True}},
    {"id": "additive_noscale_causal", "cls": "AdditiveAttention", "config": {"use_scale": False},
     "inputs": _ATT, "masked": [], "call": {"use_causal_mask": True}},
]


def layer_inputs(case: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """The case's inputs: uniform(-1, 1), each padded step (the last `n` of a row) set to zeros."""
    rs = np.random.RandomState(seed)
    out = {}
    for name, (shape, padded) in case["inputs"].items():
        x = rs.uniform(-1.0, 1.0, size=shape).astype(F32)
        for row, n in enumerate(padded or []):
            if n:
                x[row, shape[1] - n:] = 0.0
        out[name] = x
    return out


def attention_mask_for(case: dict[str, Any], seed: int) -> np.ndarray:
    """A (B, T, S) boolean attention mask with one fully masked query row."""
    t = case["inputs"]["query"][0][1]
    s = (case["inputs"].get("key") or case["inputs"]["value"])[0][1]
    mask = np.random.RandomState(seed + 1).uniform(size=(B, t, s)) > 0.35
    mask[:, :, 0] = True
    mask[0, 1, :] = False
    return mask


def call_layer(keras: Any, layer: Any, case: dict[str, Any], tensors: dict[str, Any],
               attention_mask: Any = None) -> tuple[Any, Any]:
    """Call `layer` as the case says; returns (output, attention scores or None)."""
    masking = keras.layers.Masking(mask_value=0.0)
    x = {name: masking(t) if name in case["masked"] else t for name, t in tensors.items()}
    x.setdefault("value", x["query"])  # self-attention: the same tensor (and mask) twice
    kwargs = {k: v for k, v in case["call"].items() if k != "attention_mask"}
    if case["call"].get("attention_mask"):
        kwargs["attention_mask"] = attention_mask
    if case["cls"] in ("Attention", "AdditiveAttention"):
        inputs = [x["query"], x["value"]] + ([x["key"]] if "key" in x else [])
        result = layer(inputs, **kwargs)
    else:
        result = layer(x["query"], x["value"], key=x.get("key"), **kwargs)
    if case["call"].get("return_attention_scores"):
        return result[0], result[1]
    return result, None


# ---------------------------------------------------------------------------- EinsumDense cases
EINSUM_CASES: list[dict[str, Any]] = [
    {"id": "dense_2d", "config": {"equation": "ab,bc->ac", "output_shape": 4, "bias_axes": "c"}, "input": (3, 5)},
    {"id": "sequence", "config": {"equation": "abc,cd->abd", "output_shape": [None, 4], "bias_axes": "d",
                                  "activation": "relu"}, "input": (2, 3, 5)},
    {"id": "heads", "config": {"equation": "abc,cde->abde", "output_shape": [None, 2, 3], "bias_axes": "de"},
     "input": (2, 3, 5)},
    {"id": "merge_heads", "config": {"equation": "abcd,cde->abe", "output_shape": [None, 4], "bias_axes": "e"},
     "input": (2, 3, 2, 3)},
    {"id": "left_ellipsis", "config": {"equation": "...b,bc->...c", "output_shape": 4, "bias_axes": "c",
                                       "activation": "tanh"}, "input": (2, 3, 2, 5)},
    {"id": "right_ellipsis", "config": {"equation": "ab...,bc->ac...", "output_shape": 4, "bias_axes": "c"},
     "input": (2, 5, 3, 2)},
    {"id": "transposed_out", "config": {"equation": "abc,bd->adc", "output_shape": [4, None], "bias_axes": "d"},
     "input": (2, 3, 5)},
    {"id": "no_bias_sigmoid", "config": {"equation": "abc,cd->abd", "output_shape": [None, 3],
                                         "activation": "sigmoid"}, "input": (2, 3, 5)},
]

# ---------------------------------------------------------------------------- ops.dot_product_attention
DPA_CASES: list[dict[str, Any]] = [
    {"id": "plain", "q": (B, T, 2, 3), "kv": (B, S, 2, 3), "kwargs": {}},
    {"id": "mask_bias", "q": (B, T, 2, 3), "kv": (B, S, 2, 3), "mask": (B, 1, T, S), "bias": (1, 2, T, S),
     "kwargs": {}},
    {"id": "causal_scale", "q": (B, T, 2, 3), "kv": (B, T, 2, 3), "kwargs": {"is_causal": True, "scale": 0.7}},
    {"id": "grouped_causal_mask", "q": (B, T, 4, 3), "kv": (B, S, 2, 3), "mask": (T, S),
     "kwargs": {"is_causal": True}},
    {"id": "head_mask", "q": (B, T, 2, 3), "kv": (B, S, 2, 3), "mask": (B, 2, T, S), "kwargs": {}},
]


def dpa_inputs(case: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    rs = np.random.RandomState(seed)
    kv = case["kv"]
    out = {"query": rs.uniform(-1, 1, case["q"]).astype(F32), "key": rs.uniform(-1, 1, kv).astype(F32),
           "value": rs.uniform(-1, 1, kv[:3] + (case.get("value_dim", kv[3]),)).astype(F32)}
    if "mask" in case:
        mask = rs.uniform(size=case["mask"]) > 0.4
        mask[..., 0] = True
        mask[..., 1, :] = False  # a fully masked query row: it attends uniformly
        out["mask"] = mask
    if "bias" in case:
        out["bias"] = rs.uniform(-1, 1, case["bias"]).astype(F32)
    return out


# ---------------------------------------------------------------------------- training programs
VOCAB, MAXLEN, EMBED, HEADS, FF = 12, 6, 8, 2, 8


def custom_classes(keras: Any) -> dict[str, type]:
    """keras.io's transformer text classifier blocks (with get_config), for the module `keras`."""
    layers, ops = keras.layers, keras.ops

    class TransformerBlock(layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
            super().__init__(**kwargs)
            self.embed_dim, self.num_heads, self.ff_dim, self.rate = embed_dim, num_heads, ff_dim, rate
            self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = layers.Dropout(rate)
            self.dropout2 = layers.Dropout(rate)

        def call(self, inputs, training=False):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output, training=training)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output, training=training)
            return self.layernorm2(out1 + ffn_output)

        def get_config(self):
            return {**super().get_config(), "embed_dim": self.embed_dim, "num_heads": self.num_heads,
                    "ff_dim": self.ff_dim, "rate": self.rate}

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
            self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, x):
            maxlen = ops.shape(x)[-1]
            positions = ops.arange(start=0, stop=maxlen, step=1)
            positions = self.pos_emb(positions)
            x = self.token_emb(x)
            return x + positions

        def get_config(self):
            return {**super().get_config(), "maxlen": self.maxlen, "vocab_size": self.vocab_size,
                    "embed_dim": self.embed_dim}

    class SelfAttentionModel(keras.Model):
        """Token ids -> Embedding(mask_zero) -> an attention layer over itself -> masked mean -> Dense."""

        def __init__(self, attention, causal=False, **kwargs):
            super().__init__(**kwargs)
            self.embedding = layers.Embedding(VOCAB, EMBED, mask_zero=True)
            self.attention = attention
            self.causal = causal
            self.pool = layers.GlobalAveragePooling1D()
            self.head = layers.Dense(2)

        def call(self, ids):
            x = self.embedding(ids)
            if isinstance(self.attention, (layers.Attention, layers.AdditiveAttention)):
                y = self.attention([x, x], use_causal_mask=self.causal)
            else:
                y = self.attention(x, x, use_causal_mask=self.causal)
            return self.head(self.pool(y))

    return {"TransformerBlock": TransformerBlock, "TokenAndPositionEmbedding": TokenAndPositionEmbedding,
            "SelfAttentionModel": SelfAttentionModel}


def transformer_classifier(keras: Any, rate: float = 0.0) -> Any:
    """keras.io's "Text classification with Transformer" model, at toy sizes."""
    layers = keras.layers
    classes = custom_classes(keras)
    inputs = layers.Input(shape=(MAXLEN,))
    x = classes["TokenAndPositionEmbedding"](MAXLEN, VOCAB, EMBED)(inputs)
    x = classes["TransformerBlock"](EMBED, HEADS, FF, rate)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(rate)(x)
    x = layers.Dense(8, activation="relu")(x)
    x = layers.Dropout(rate)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def attention_model(keras: Any, case: dict[str, Any]) -> Any:
    """A SelfAttentionModel around the case's layer, compiled."""
    layer = getattr(keras.layers, case["cls"])(**case["config"])
    model = custom_classes(keras)["SelfAttentionModel"](layer, causal=case.get("causal", False))
    # SGD, not Adam: the key projection's bias gets an exactly-zero gradient (it shifts a whole softmax
    # row), so each framework's rounding noise is all there is, and Adam would scale noise up to lr.
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def einsum_model(keras: Any) -> Any:
    layers = keras.layers
    model = keras.Sequential([keras.Input((MAXLEN, 5)),
                              layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de",
                                                 activation="tanh"),
                              layers.EinsumDense("abcd,cde->abe", output_shape=(None, 3), bias_axes="e"),
                              layers.GlobalAveragePooling1D(), layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


TRAIN_CASES: list[dict[str, Any]] = [
    {"id": "transformer_classifier", "kind": "transformer"},
    {"id": "mha_padding", "kind": "attention", "cls": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 4}},
    {"id": "mha_causal_padding", "kind": "attention", "cls": "MultiHeadAttention",
     "config": {"num_heads": 2, "key_dim": 4, "output_shape": 5}, "causal": True},
    {"id": "gqa_causal", "kind": "attention", "cls": "GroupQueryAttention",
     "config": {"head_dim": 4, "num_query_heads": 4, "num_key_value_heads": 2}, "causal": True},
    {"id": "attention_scale", "kind": "attention", "cls": "Attention", "config": {"use_scale": True}},
    {"id": "additive", "kind": "attention", "cls": "AdditiveAttention", "config": {}, "causal": True},
    {"id": "einsum_dense", "kind": "einsum"},
]


def train_data(case: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8 samples: token ids with padding zeros at the end (not for EinsumDense), and targets."""
    rs = np.random.RandomState(seed)
    if case["kind"] == "einsum":
        return rs.uniform(-1, 1, (8, MAXLEN, 5)).astype(F32), rs.uniform(-1, 1, (8, 2)).astype(F32)
    ids = rs.randint(1, VOCAB, size=(8, MAXLEN)).astype("int32")
    for row, n in enumerate([0, 2, 1, 3, 0, 4, 1, 0]):
        if n:
            ids[row, MAXLEN - n:] = 0
    if case["kind"] == "transformer":
        return ids, rs.randint(0, 2, size=(8,)).astype("int32")
    return ids, rs.uniform(-1, 1, (8, 2)).astype(F32)


def train_model(keras: Any, case: dict[str, Any]) -> Any:
    if case["kind"] == "transformer":
        return transformer_classifier(keras)
    if case["kind"] == "einsum":
        return einsum_model(keras)
    return attention_model(keras, case)
