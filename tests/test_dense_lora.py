"""Dense LoRA (`enable_lora`, `Dense(lora_rank=...)`) against numbers recorded from the real Keras 3.

The recording is the "i_lora" entry of tests/fixtures/keras3_custom_fit.json, written by
tests/reference/record_keras3_custom_fit.py. Keras 3's semantics: `enable_lora(rank)` adds
`lora_kernel_a` (input_dim, rank; he_uniform) and `lora_kernel_b` (rank, units; zeros), freezes
the kernel, and the layer computes `x @ (kernel + (lora_alpha / rank) * A @ B) + bias`.
`save_weights` writes the merged kernel and the bias only; `load_weights` into a LoRA layer
sets the kernel and resets A and B to zeros.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend, layers, ops

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_custom_fit.json").read_text())
LORA = FIXTURE["i_lora"]
RTOL, ATOL = 1e-5, 2e-6
DEVICE_ATOL = 1e-5  # see tests/test_keras3_reference.py


def _atol() -> float:
    return ATOL if backend.backend() == "numpy" else DEVICE_ATOL


def _close(got, expected, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype="float64"), np.asarray(expected, dtype="float64"),
                               rtol=RTOL, atol=_atol(), err_msg=what)


def _f32(name: str) -> np.ndarray:
    return np.asarray(LORA[name], dtype="float32")


def _x() -> np.ndarray:
    return np.asarray(FIXTURE["data"]["x_lora"], dtype="float32")


def _y() -> np.ndarray:
    return np.asarray(FIXTURE["data"]["y_lora"], dtype="float32")


def _lora_model(rank: int | None = 2, lora_alpha=None, assign: bool = True):
    """Dense(4) in a Sequential, recorded kernel/bias, then enable_lora and the recorded A, B."""
    layer = layers.Dense(4, name="lora_dense")
    model = keras.Sequential([keras.Input((8,)), layer], name="lora_model")
    model.set_weights([_f32("kernel"), _f32("bias")])
    if rank is not None:
        if lora_alpha is None:
            layer.enable_lora(rank=rank)
        else:
            layer.enable_lora(rank=rank, lora_alpha=lora_alpha)
        if assign:
            layer.lora_kernel_a.assign(_f32("lora_a"))
            layer.lora_kernel_b.assign(_f32("lora_b"))
    return model, layer


def _table(variables) -> list[tuple]:
    return [(v.name, list(v.shape), bool(v.trainable)) for v in variables]


def test_enable_lora_weights_order_and_flags():
    model, layer = _lora_model(assign=False)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.lora_kernel_b), LORA["default_lora_kernel_b"])
    # kernel (now frozen), bias, lora_kernel_a, lora_kernel_b
    assert _table(layer.weights) == [(w["name"], w["shape"], w["trainable"]) for w in LORA["weights"]]
    for v, w in zip(layer.weights, LORA["weights"]):
        assert v.path.endswith("lora_dense/" + w["name"]), (v.path, w["path"])
    assert [v.name for v in layer.trainable_weights] == LORA["trainable_weights"]
    assert [v.name for v in layer.non_trainable_weights] == LORA["non_trainable_weights"]
    assert [v.name for v in model.weights] == LORA["model_weights"]
    assert [list(np.shape(w)) for w in model.get_weights()] == LORA["get_weights_shapes"]
    attrs = LORA["lora_attrs"]
    assert (layer.lora_enabled, layer.lora_rank, layer.lora_alpha) == (
        attrs["lora_enabled"], attrs["lora_rank"], attrs["lora_alpha"])


def test_enable_lora_forward_and_merged_kernel():
    model, layer = _lora_model()
    _close(model.predict(_x(), verbose=0), LORA["forward"], "forward with LoRA")
    # `kernel` reads as kernel + (alpha / rank) * A @ B; get_weights() keeps the frozen kernel
    _close(ops.convert_to_numpy(layer.kernel), LORA["merged_kernel"], "merged kernel")
    _close(model.get_weights()[0], LORA["kernel"], "get_weights()[0] is the stored kernel")


def test_enable_lora_config():
    plain = layers.Dense(4, name="lora_dense")
    plain.build((None, 8))
    config = plain.get_config()
    assert "lora_rank" not in config and "lora_alpha" not in config
    assert "lora_rank" not in LORA["config_before_enable"]

    _, layer = _lora_model()
    config = layer.get_config()
    assert (config["lora_rank"], config["lora_alpha"]) == (LORA["config"]["lora_rank"], LORA["config"]["lora_alpha"])


def test_enable_lora_alpha_scales_the_update():
    model, layer = _lora_model(lora_alpha=6)
    expected = LORA["alpha_scaled"]
    _close(model.predict(_x(), verbose=0), expected["forward"], "forward with lora_alpha=6")
    assert layer.get_config()["lora_alpha"] == expected["config"]["lora_alpha"] == 6
    assert not np.allclose(expected["forward"], LORA["forward"])


def test_enable_lora_errors():
    _, layer = _lora_model()
    assert LORA["enable_twice"]["error"] == "ValueError"
    with pytest.raises(ValueError, match="already enabled"):
        layer.enable_lora(rank=2)
    assert LORA["enable_unbuilt"]["error"] == "ValueError"
    with pytest.raises(ValueError, match="built"):
        layers.Dense(4).enable_lora(rank=2)


def test_lora_training_updates_only_bias_and_lora_kernels():
    model, layer = _lora_model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    history = model.fit(_x(), _y(), batch_size=8, epochs=3, shuffle=False, verbose=0)

    _close(history.history["loss"], LORA["history"]["loss"], "loss history")
    assert sorted(history.history) == sorted(LORA["history"])
    final = LORA["final"]
    np.testing.assert_array_equal(model.get_weights()[0], _f32("kernel"))  # frozen
    _close(final["kernel"], LORA["kernel"], "Keras 3's kernel stayed put too")
    _close(ops.convert_to_numpy(layer.bias), final["bias"], "bias")
    _close(ops.convert_to_numpy(layer.lora_kernel_a), final["lora_kernel_a"], "lora_kernel_a")
    _close(ops.convert_to_numpy(layer.lora_kernel_b), final["lora_kernel_b"], "lora_kernel_b")
    _close(ops.convert_to_numpy(layer.kernel), final["merged_kernel"], "merged kernel")
    for i, (got, expected) in enumerate(zip(model.get_weights(), LORA["final_get_weights"])):
        _close(got, expected, f"get_weights()[{i}]")
    _close(model.predict(_x(), verbose=0), LORA["final_predictions"], "predictions after training")
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == LORA["optimizer_iterations"]


def _h5_datasets(path) -> dict:
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = np.asarray(obj[()])

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def test_lora_save_weights_writes_the_merged_kernel(tmp_path):
    model, _ = _lora_model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(_x(), _y(), batch_size=8, epochs=3, shuffle=False, verbose=0)
    path = tmp_path / "lora.weights.h5"
    model.save_weights(path)

    saved = _h5_datasets(path)
    expected = LORA["saved_weights_h5"]
    # layers/dense/vars/0 = merged kernel, layers/dense/vars/1 = bias, no LoRA kernels
    assert sorted(saved) == sorted(expected)
    for key, value in expected.items():
        _close(saved[key], value, f"saved {key}")

    plain = keras.Sequential([keras.Input((8,)), layers.Dense(4, name="lora_dense")], name="lora_model")
    plain.load_weights(path)
    for i, (got, want) in enumerate(zip(plain.get_weights(), LORA["plain_model_after_load"])):
        _close(got, want, f"plain model after load [{i}]")

    again, _ = _lora_model()
    again.load_weights(path)
    after = again.get_weights()
    assert len(after) == len(LORA["lora_model_after_load"]) == 4
    for i, (got, want) in enumerate(zip(after, LORA["lora_model_after_load"])):
        _close(got, want, f"LoRA model after load [{i}]")  # kernel merged, A and B zeros


def test_dense_lora_rank_argument():
    expected = LORA["direct"]
    layer = layers.Dense(4, lora_rank=2, name="direct_lora")
    config = layer.get_config()
    assert (config["lora_rank"], config["lora_alpha"]) == (
        expected["config_unbuilt"]["lora_rank"], expected["config_unbuilt"]["lora_alpha"])
    layer.build((None, 8))
    assert layer.lora_enabled
    assert _table(layer.weights) == [(w["name"], w["shape"], w["trainable"]) for w in expected["weights"]]
    assert [v.name for v in layer.trainable_weights] == expected["trainable_weights"]
    assert expected["lora_kernel_b_is_zero"]
    assert np.all(ops.convert_to_numpy(layer.lora_kernel_b) == 0)
    config = layer.get_config()
    assert (config["lora_rank"], config["lora_alpha"]) == (expected["config"]["lora_rank"],
                                                          expected["config"]["lora_alpha"])
    clone = layers.Dense.from_config(config)
    clone.build((None, 8))
    assert [v.name for v in clone.weights] == [w["name"] for w in expected["weights"]]


def test_dense_lora_alpha_argument_after_build_as_keras3():
    # Keras 3.15.1: build() calls enable_lora(lora_rank) without lora_alpha, so a built
    # Dense(lora_rank=2, lora_alpha=8) reports (and uses) lora_alpha == lora_rank.
    expected = LORA["direct_alpha"]
    layer = layers.Dense(4, lora_rank=2, lora_alpha=8, name="alpha_lora")
    assert layer.get_config()["lora_alpha"] == expected["config_unbuilt"]["lora_alpha"] == 8
    layer.build((None, 8))
    assert layer.lora_alpha == expected["lora_alpha_after_build"] == 2
    assert layer.get_config()["lora_alpha"] == expected["config"]["lora_alpha"]
