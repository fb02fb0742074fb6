"""The attention layers, EinsumDense, ops.einsum and ops.dot_product_attention beyond Keras 3's recorded numbers
(tests/test_keras3_attention.py): finite-difference gradients in float64, argument checks, configs, masks,
symbolic calls, dropout, LoRA and saving.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from gradcheck import check_gradients

import gpukeras as keras
from gpukeras import backend, layers, ops
from gpukeras.backend import kernels as K
from gpukeras.tensor import get_keras_mask, set_keras_mask

pytestmark = pytest.mark.filterwarnings("ignore:Layer .* does not support masking")


@contextlib.contextmanager
def _launches(*names: str):
    """Fail unless each kernel ran inside the block (a silent fallback to the generic code fails)."""
    before = K.launch_counts.copy()
    yield
    missing = [n for n in names if K.launch_counts[n] == before[n]]
    assert not missing, f"these kernels never ran (generic fallback?): {missing}"


def _rand(shape, seed=0, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


# --------------------------------------------------------------------------- ops.einsum
EINSUM_GRAD_CASES = [
    ("abc,cde->abde", (2, 3, 4), (4, 2, 3)),
    ("aecd,abcd->acbe", (2, 3, 2, 3), (2, 4, 2, 3)),
    ("...b,bc->...c", (2, 2, 3), (3, 4)),
    ("ab...,bc->ac...", (2, 3, 2), (3, 2)),
    ("abc,ad->bcd", (2, 3, 2), (2, 3)),
    ("bij,bjk->bik", (1, 2, 3), (3, 3, 2)),
    ("ij,jk", (2, 3), (3, 2)),
]


@pytest.mark.parametrize("equation,a_shape,b_shape", EINSUM_GRAD_CASES, ids=[c[0] for c in EINSUM_GRAD_CASES])
def test_einsum_matches_numpy_and_finite_differences(equation, a_shape, b_shape):
    a, b = _rand(a_shape, 1), _rand(b_shape, 2)
    got = ops.einsum(equation, a.astype("float32"), b.astype("float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(got), np.einsum(equation, a, b), rtol=1e-5, atol=1e-6)
    check_gradients(lambda x, y: ops.einsum(equation, x, y), [a, b], name=equation)


def test_einsum_one_and_three_operands():
    a, b, c = _rand((2, 3), 1), _rand((3, 4), 2), _rand((4, 2), 3)
    np.testing.assert_allclose(ops.convert_to_numpy(ops.einsum("ij->ji", a)), a.T)
    np.testing.assert_allclose(ops.convert_to_numpy(ops.einsum("ij->", a)), a.sum())
    np.testing.assert_allclose(ops.convert_to_numpy(ops.einsum("ab,bc,cd->ad", a, b, c)), a @ b @ c, rtol=1e-12)
    check_gradients(lambda x, y, z: ops.einsum("ab,bc,cd->da", x, y, z), [a, b, c], name="three operands")


def test_einsum_refuses_what_it_cannot_do():
    with pytest.raises(NotImplementedError, match="diagonal"):
        ops.einsum("ii->i", np.eye(3))
    with pytest.raises(ValueError, match="names 2 operands"):
        ops.einsum("ab,bc->ac", np.ones((2, 3)))
    with pytest.raises(ValueError, match="axes"):
        ops.einsum("abc,cd->abd", np.ones((2, 3)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="appear in no operand"):
        ops.einsum("ab,bc->az", np.ones((2, 3)), np.ones((3, 4)))


# --------------------------------------------------------------------------- ops.dot_product_attention
def _reference_attention(q, k, v, bias=None, mask=None, scale=None, causal=False):
    """NumPy float64: softmax(q.k * scale + bias, masked to -0.7 * f32 max) . v, with grouped heads."""
    b, t, n, h = q.shape
    kh = k.shape[2]
    k = np.repeat(k, n // kh, axis=2)
    v = np.repeat(v, n // kh, axis=2)
    logits = np.einsum("btnh,bsnh->bnts", q, k) * (1 / math.sqrt(h) if scale is None else scale)
    if bias is not None:
        logits = logits + bias
    keep = np.ones(logits.shape, bool)
    if mask is not None:
        keep &= np.broadcast_to(mask, logits.shape)
    if causal:
        keep &= np.tril(np.ones(logits.shape[-2:], bool))
    logits = np.where(keep, logits, -0.7 * np.finfo(np.float32).max)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", p, v)


DPA_GRAD_CASES = {
    "plain": dict(q=(2, 3, 2, 3), kv=(2, 4, 2, 3)),
    "mask_bias": dict(q=(1, 3, 2, 2), kv=(1, 4, 2, 2), mask=(1, 1, 3, 4), bias=(1, 2, 3, 4)),
    "causal_scale": dict(q=(1, 3, 2, 2), kv=(1, 3, 2, 2), causal=True, scale=0.5),
    "grouped": dict(q=(1, 3, 4, 2), kv=(1, 4, 2, 2), mask=(3, 4)),
    "value_dim": dict(q=(1, 2, 2, 3), kv=(1, 3, 2, 3), hv=4),
}


@pytest.mark.parametrize("name", list(DPA_GRAD_CASES))
def test_dot_product_attention_matches_reference_and_finite_differences(name):
    spec = DPA_GRAD_CASES[name]
    q, k = _rand(spec["q"], 1), _rand(spec["kv"], 2)
    v = _rand(spec["kv"][:3] + (spec.get("hv", spec["kv"][3]),), 3)
    bias = _rand(spec["bias"], 4) if "bias" in spec else None
    mask = None
    if "mask" in spec:
        mask = _rand(spec["mask"], 5) > -0.3
        mask[..., 0] = True
        mask[..., 1, :] = False  # a fully masked row
    kwargs = dict(mask=mask, scale=spec.get("scale"), is_causal=spec.get("causal", False))
    expected = _reference_attention(q, k, v, bias, mask, spec.get("scale"), spec.get("causal", False))
    got = ops.dot_product_attention(*(a.astype("float32") for a in (q, k, v)),
                                    bias=None if bias is None else bias.astype("float32"), **kwargs)
    np.testing.assert_allclose(ops.convert_to_numpy(got), expected, rtol=1e-5, atol=1e-6)
    inputs = [q, k, v] + ([bias] if bias is not None else [])
    check_gradients(lambda *xs: ops.dot_product_attention(*xs[:3], bias=xs[3] if len(xs) > 3 else None, **kwargs),
                    inputs, name=name)


def test_dot_product_attention_refusals():
    q = np.ones((1, 2, 2, 3), "float32")
    with pytest.raises(ValueError, match="4D"):
        ops.dot_product_attention(q[0], q[0], q[0])
    with pytest.raises(ValueError, match="multiple of key/value heads"):
        ops.dot_product_attention(np.ones((1, 2, 3, 3), "float32"), q, q)
    with pytest.raises(ValueError, match="TPU"):
        ops.dot_product_attention(q, q, q, attn_logits_soft_cap=5.0)
    with pytest.raises(ValueError, match="`mask` of shape"):
        ops.dot_product_attention(q, q, q, mask=np.ones((3, 2), bool))
    with pytest.raises(ValueError, match="`bias` of shape"):
        ops.dot_product_attention(q, q, q, bias=np.ones((1, 3, 2, 2), "float32"))


def test_dot_product_attention_promotes_like_keras():
    q = np.ones((1, 2, 2, 3), "float32")
    assert ops.dot_product_attention(q, q.astype("float64"), q).dtype == "float64"
    assert ops.dot_product_attention(*(q.astype("int32"),) * 3).dtype == "float32"


def test_flash_attention_means_the_fused_kernel():
    """flash_attention=True runs the kernel that never stores the weights (CuPy), or is refused (NumPy)."""
    q = _rand((1, 5, 2, 3)).astype("float32")
    if backend.backend() == "numpy":
        with pytest.raises(ValueError, match="flash attention"):
            ops.dot_product_attention(q, q, q, flash_attention=True)
        return
    with _launches("gk_attention_fwd_f32"):
        flash = ops.dot_product_attention(q, q, q, is_causal=True, flash_attention=True)
    expected = _reference_attention(*(q.astype("float64"),) * 3, causal=True)
    np.testing.assert_allclose(ops.convert_to_numpy(flash), expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- layers: gradients (float64)
def _masked(x, steps):
    """`x` with a mask attached (True except the last `steps[i]` steps of row i)."""
    t = ops.convert_to_tensor(x) if not isinstance(x, keras.Tensor) else x
    keep = np.ones(t.shape[:2], bool)
    for row, n in enumerate(steps):
        if n:
            keep[row, -n:] = False
    set_keras_mask(t, keep)
    return t


LAYER_GRAD_CASES = {
    "mha_dpa_padding": (lambda: layers.MultiHeadAttention(2, 2, dtype="float64"), {}, True),
    "mha_scores_padding": (lambda: layers.MultiHeadAttention(2, 2, dtype="float64"),
                           {"return_attention_scores": True}, True),
    "mha_causal_cross_gate": (lambda: layers.MultiHeadAttention(2, 2, value_dim=3, use_gate=True, dtype="float64"),
                              {"use_causal_mask": True}, False),
    "mha_axes": (lambda: layers.MultiHeadAttention(1, 2, attention_axes=(1, 2), dtype="float64"),
                 {"return_attention_scores": True}, False),
    "gqa": (lambda: layers.GroupQueryAttention(2, 4, 2, dtype="float64"), {"use_causal_mask": True}, True),
    "gqa_scores": (lambda: layers.GroupQueryAttention(2, 2, 1, dtype="float64"),
                   {"return_attention_scores": True}, True),
}


@pytest.mark.parametrize("name", list(LAYER_GRAD_CASES))
def test_layer_input_gradients_match_finite_differences(name):
    make, kwargs, padded = LAYER_GRAD_CASES[name]
    layer = make()
    shape = (2, 2, 3, 4) if name == "mha_axes" else (2, 3, 4)
    q, v = _rand(shape, 1), _rand(shape[:1] + (shape[1] + (name != "mha_axes"),) + shape[2:], 2)

    def fn(query, value):
        if padded:
            query, value = _masked(query, [0, 1]), _masked(value, [1, 0])
        out = layer(query, value, **kwargs)
        return ops.add(ops.sum(out[0]), ops.sum(ops.multiply(out[1], out[1]))) if isinstance(out, tuple) else out

    check_gradients(fn, [q, v], name=name)


@pytest.mark.parametrize("cls,config", [("Attention", {"use_scale": True}),
                                        ("Attention", {"score_mode": "concat", "use_scale": True}),
                                        ("AdditiveAttention", {})])
def test_dot_and_additive_attention_gradients(cls, config):
    layer = getattr(layers, cls)(dtype="float64", **config)
    q, v, k = _rand((2, 3, 4), 1), _rand((2, 4, 4), 2), _rand((2, 4, 4), 3)
    masks = [np.array([[1, 1, 0], [1, 1, 1]], bool), np.array([[1, 1, 1, 0], [1, 0, 1, 1]], bool)]
    check_gradients(lambda a, b, c: layer([a, b, c], mask=masks, use_causal_mask=True), [q, v, k], name=cls)


def test_einsum_dense_gradients_on_both_paths():
    """The fused dense path and the einsum path, input gradients in float64."""
    dense = layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de", activation="tanh",
                               dtype="float64")
    general = layers.EinsumDense("abc,bd->adc", output_shape=(2, None), bias_axes="d", dtype="float64")
    assert dense.built is False
    check_gradients(lambda x: dense(x), [_rand((2, 3, 4), 1)], name="dense path")
    assert dense._dense is not None
    check_gradients(lambda x: general(x), [_rand((2, 3, 4), 2)], name="einsum path")
    assert general._dense is None


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("build,match", [
    (lambda: layers.MultiHeadAttention(0, 2), "num_heads"),
    (lambda: layers.MultiHeadAttention(2, 2.5), "key_dim"),
    (lambda: layers.MultiHeadAttention(2, 2, value_dim=-1), "value_dim"),
    (lambda: layers.MultiHeadAttention(2, 2, dropout=1.5), "dropout"),
    (lambda: layers.MultiHeadAttention(2, 2, output_shape="x"), "output_shape"),
    (lambda: layers.MultiHeadAttention(2, 2, attention_axes="1"), "attention_axes"),
    (lambda: layers.MultiHeadAttention(2, 2, sliding_window=0), "sliding_window"),
    (lambda: layers.MultiHeadAttention(2, 2, flash_attention=True, dropout=0.1), "flash attention"),
    (lambda: layers.MultiHeadAttention(2, 2, seed="x"), "seed"),
    (lambda: layers.GroupQueryAttention(2, 4, 3), "divisible"),
    (lambda: layers.GroupQueryAttention(0, 4, 2), "head_dim"),
    (lambda: layers.Attention(score_mode="general"), "score_mode"),
    (lambda: layers.Attention(dropout=-0.1), "dropout"),
    (lambda: layers.EinsumDense("ab,bc", 3), "Invalid einsum equation"),
    (lambda: layers.EinsumDense("ab,bc->ac", 3, bias_axes="z"), "Bias dimension"),
    (lambda: layers.EinsumDense("ab,bc->ac", "x"), "output_shape"),
    (lambda: layers.EinsumDense("ab,bc->ac", 3, lora_rank=0), "lora_rank"),
])
def test_constructors_refuse_bad_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_einsum_dense_refuses_quantization():
    with pytest.raises(NotImplementedError, match="quantization"):
        layers.EinsumDense("ab,bc->ac", 3, quantization_config={"mode": "int8"})


def test_einsum_dense_build_errors():
    with pytest.raises(ValueError, match="Weight dimension"):
        layers.EinsumDense("ab,cd->ad", 3)(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="do not match at shared dimension"):
        layers.EinsumDense("abc,cd->abd", (5, 3))(np.ones((2, 4, 3), "float32"))


def test_mha_flash_attention_needs_the_kernel_and_no_scores():
    layer = layers.MultiHeadAttention(2, 2, flash_attention=True)
    x = np.ones((1, 3, 4), "float32")
    if backend.backend() == "numpy":
        with pytest.raises(ValueError, match="flash attention"):
            layer(x, x)
    else:
        assert layer(x, x).shape == (1, 3, 4)
    with pytest.raises(ValueError, match="Returning attention scores"):
        layer(x, x, return_attention_scores=True)


# --------------------------------------------------------------------------- configs and saving
@pytest.mark.parametrize("make", [
    lambda: layers.MultiHeadAttention(2, 3, value_dim=4, dropout=0.1, use_bias=False, output_shape=(2, 5),
                                      attention_axes=1, sliding_window=3, use_gate=True, seed=7,
                                      kernel_initializer="he_normal", kernel_regularizer="l2"),
    lambda: layers.GroupQueryAttention(2, 4, 2, dropout=0.2, use_bias=False, sliding_window=2, use_gate=True, seed=3),
    lambda: layers.Attention(use_scale=True, score_mode="concat", dropout=0.1, seed=2),
    lambda: layers.Attention(causal=True),
    lambda: layers.AdditiveAttention(use_scale=False, dropout=0.3),
    lambda: layers.EinsumDense("abc,cd->abd", (None, 4), activation="relu", bias_axes="d", lora_rank=2),
])
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config


def test_mha_saves_under_keras3_paths(tmp_path):
    """The projections sit under query_dense / key_dense / value_dense / output_dense (and _gate_dense)."""
    import h5py

    mha = layers.MultiHeadAttention(2, 2, use_gate=True)
    x = _rand((2, 3, 4)).astype("float32")
    mha(x, x)
    holder = _Holder(mha)
    holder(x)
    holder.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5") as f:
        names = set()
        f.visit(names.add)
    for part in ("query_dense", "key_dense", "value_dense", "output_dense", "_gate_dense"):
        assert f"mha/{part}/vars/0" in names, sorted(names)


class _Holder(keras.Model):
    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def call(self, x):
        return self.mha(x, x)


def test_mha_functional_symbolic_shapes():
    q = keras.Input((3, 4))
    v = keras.Input((5, 6))
    mha = layers.MultiHeadAttention(2, 3, output_shape=7)
    out, scores = mha(q, v, return_attention_scores=True)
    assert out.shape == (None, 3, 7) and scores.shape == (None, 2, 3, 5)
    assert mha.get_build_config() == {"shapes_dict": {"query_shape": [None, 3, 4], "value_shape": [None, 5, 6]}}
    gqa = layers.GroupQueryAttention(2, 4, 2)
    out, scores = gqa(q, q, return_attention_scores=True)
    assert out.shape == (None, 3, 4) and scores.shape == (None, 4, 3, 3)


def test_mha_called_on_two_symbolic_inputs_is_right_or_refused():
    """`MultiHeadAttention(...)(x, x)` in a functional model: the same numbers as a direct call, or (while the
    functional graph feeds only a layer's first argument) a clear error, never a silent wrong answer."""
    inp = keras.Input((5, 8))
    mha = layers.MultiHeadAttention(2, 3)
    model = keras.Model(inp, mha(inp, inp))
    x = _rand((2, 5, 8)).astype("float32")
    try:
        y = model.predict(x, verbose=0)
    except TypeError as e:
        assert "concrete `query`" in str(e)
    else:
        np.testing.assert_allclose(y, ops.convert_to_numpy(mha(x, x)), rtol=1e-6)


def test_attention_in_a_functional_model():
    q = keras.Input((3, 4))
    v = keras.Input((5, 4))
    out = layers.Attention(use_scale=True)([q, v])
    final, scores = layers.AdditiveAttention()([out, v], return_attention_scores=True)
    assert final.shape == (None, 3, 4) and scores.shape == (None, 3, 5)
    model = keras.Model([q, v], [final, scores])
    y, s = model.predict([_rand((2, 3, 4)).astype("float32"), _rand((2, 5, 4), 1).astype("float32")], verbose=0)
    assert y.shape == (2, 3, 4) and s.shape == (2, 3, 5)
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-5)


def test_einsum_dense_lora():
    layer = layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de")
    x = _rand((2, 3, 4)).astype("float32")
    before = ops.convert_to_numpy(layer(x))
    layer.enable_lora(2)
    assert [w.name for w in layer.trainable_weights] == ["bias", "lora_kernel_a", "lora_kernel_b"]
    assert layer.lora_kernel_a.shape == (4, 2, 2) and layer.lora_kernel_b.shape == (2, 3)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), before, rtol=1e-6)  # b starts at zero
    layer.lora_kernel_b.assign(np.ones((2, 3), "float32"))
    merged = layer._kernel.numpy() + np.einsum("abr,rc->abc", layer.lora_kernel_a.numpy(), np.ones((2, 3)))
    expected = np.einsum("abc,cde->abde", x, merged) + layer.bias.numpy()
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-6)
    store = {}
    layer.save_own_variables(store)
    np.testing.assert_allclose(store["0"], merged, rtol=1e-6)


def test_einsum_dense_kernel_scaled_by_its_input_and_output_axes():
    """Keras 3's fans for an EinsumDense kernel (64, 8, 16): fan_in 64, fan_out 128 (not a conv's)."""
    layer = layers.EinsumDense("abc,cde->abde", (None, 8, 16), kernel_initializer=keras.initializers.GlorotUniform(1))
    layer.build((None, 3, 64))
    limit = math.sqrt(6.0 / (64 + 128))
    w = layer.kernel.numpy()
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit


# --------------------------------------------------------------------------- masks and dropout
def test_mha_masks_from_inputs_and_explicit_masks_agree():
    layer = layers.MultiHeadAttention(2, 3)
    x = _rand((2, 4, 5)).astype("float32")
    keep = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    attached = layer(_masked(x, [1, 2]), _masked(x, [1, 2]))
    explicit = layer(x, x, query_mask=keep, value_mask=keep)
    np.testing.assert_allclose(ops.convert_to_numpy(attached), ops.convert_to_numpy(explicit))
    np.testing.assert_array_equal(ops.convert_to_numpy(get_keras_mask(attached)), keep)  # the query's mask
    as_attention_mask = layer(x, x, attention_mask=keep[:, :, None] & keep[:, None, :])
    np.testing.assert_allclose(ops.convert_to_numpy(attached), ops.convert_to_numpy(as_attention_mask))


def test_attention_output_mask_is_the_query_mask():
    q, v = _masked(_rand((2, 3, 4)).astype("float32"), [1, 0]), _masked(_rand((2, 5, 4), 1).astype("float32"), [0, 2])
    out = layers.Attention()([q, v])
    np.testing.assert_array_equal(ops.convert_to_numpy(get_keras_mask(out)), [[1, 1, 0], [1, 1, 1]])
    np.testing.assert_array_equal(ops.convert_to_numpy(out)[0, 2], 0.0)  # masked query steps give zeros


def test_legacy_causal_argument_is_use_causal_mask():
    q = _rand((2, 4, 3)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(layers.Attention(causal=True)([q, q])),
                               ops.convert_to_numpy(layers.Attention()([q, q], use_causal_mask=True)))


def test_dropout_only_when_training():
    x = _rand((2, 4, 6)).astype("float32")
    mha = layers.MultiHeadAttention(2, 3, dropout=0.5, seed=3)
    inference = ops.convert_to_numpy(mha(x, x))
    np.testing.assert_allclose(ops.convert_to_numpy(mha(x, x, training=False)), inference)
    _, scores = mha(x, x, training=True, return_attention_scores=True)
    np.testing.assert_allclose(ops.convert_to_numpy(scores).sum(-1), 1.0, rtol=1e-5)  # scores: before dropout
    assert not np.allclose(ops.convert_to_numpy(mha(x, x, training=True)), inference)
    att = layers.Attention(dropout=0.5, seed=1)
    plain = ops.convert_to_numpy(att([x, x]))
    assert not np.allclose(ops.convert_to_numpy(att([x, x], training=True)), plain)
    np.testing.assert_allclose(ops.convert_to_numpy(att([x, x], training=False)), plain)


@pytest.mark.parametrize("cls", ["MultiHeadAttention", "GroupQueryAttention"])
def test_fused_dropout_equals_keras_scores_path(cls):
    """With dropout while training, the fused op (no scores returned) draws the Dropout layer's factors from the
    same stream and masks rows as Keras's Softmax does: the same numbers as the einsum + Dropout path that
    returning the scores takes, gradients included."""
    args = (2, 3) if cls == "MultiHeadAttention" else (3, 4, 2)
    x = _rand((2, 5, 6)).astype("float32")
    keep = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], bool)
    results = []
    for scores in (False, True):
        layer = getattr(layers, cls)(*args, dropout=0.4, seed=11)
        layer(x, x)
        layer.set_weights([_rand(w.shape, i, -0.4, 0.4).astype("float32") for i, w in enumerate(layer.weights)])
        t = ops.convert_to_tensor(x)
        with keras.GradientTape() as tape:
            tape.watch(t)
            out = layer(t, t, query_mask=keep, value_mask=keep, use_causal_mask=True, training=True,
                        return_attention_scores=scores)
            out = out[0] if scores else out
            loss = ops.sum(out * out)
        grads = tape.gradient(loss, [t] + layer.trainable_weights)
        results.append([ops.convert_to_numpy(out)] + [ops.convert_to_numpy(g) for g in grads])
    for fused, unfused in zip(*results, strict=True):  # float32 sums in another order: 1e-4
        np.testing.assert_allclose(fused, unfused, rtol=1e-4, atol=1e-5)
    assert np.any(results[0][0] != 0)
