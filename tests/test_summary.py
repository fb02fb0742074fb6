"""model.summary(): every Keras argument changes the table it prints, or is refused with a reason."""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import layers


def _model() -> keras.Sequential:
    inner = keras.Sequential([keras.Input((8,)), layers.Dense(4, name="inner_dense")], name="inner")
    model = keras.Sequential([keras.Input((3,)), layers.Dense(8, name="first"), inner,
                              layers.Dense(2, name="last")], name="outer")
    model.layers[0].trainable = False
    return model


def _text(model, **kwargs) -> str:
    captured: list[str] = []
    model.summary(print_fn=captured.append, **kwargs)
    assert len(captured) == 1  # Keras 3 hands print_fn the whole summary at once
    return captured[0]


def _table_width(text: str) -> int:
    return len(text.splitlines()[1])


def test_line_length_sets_the_table_width() -> None:
    assert _table_width(_text(_model(), line_length=70)) == 70
    assert _table_width(_text(_model(), line_length=120)) == 120


def test_positions_relative_and_absolute_set_the_column_ends() -> None:
    rel = _text(_model(), line_length=100, positions=[0.5, 0.8, 1.0]).splitlines()[1]
    absolute = _text(_model(), line_length=100, positions=[50, 80, 100]).splitlines()[1]
    assert rel == absolute
    assert [i for i, ch in enumerate(rel) if ch == "┳"] == [50, 80]
    with pytest.raises(ValueError, match="narrower than 4"):
        _text(_model(), line_length=40, positions=[0.02, 0.5, 1.0])
    with pytest.raises(ValueError, match="3 column ends"):
        _text(_model(), positions=[0.5, 1.0])


def test_expand_nested_lists_the_inner_layers() -> None:
    assert "inner_dense" not in _text(_model())
    nested = _text(_model(), expand_nested=True)
    assert "└ inner_dense (Dense)" in nested


def test_show_trainable_adds_a_column() -> None:
    text = _text(_model(), show_trainable=True, line_length=130)
    assert "Trainable" in text.splitlines()[2]
    rows = {line.split()[1]: line for line in text.splitlines() if line.startswith("│")}
    assert rows["first"].rstrip("│ ").endswith("N")
    assert rows["last"].rstrip("│ ").endswith("Y")


def test_layer_range_selects_rows_by_name_or_regex() -> None:
    text = _text(_model(), layer_range=["inner", "last"])
    assert "first (Dense)" not in text and "inner (Sequential)" in text and "last (Dense)" in text
    text = _text(_model(), layer_range=["fir.*", "inn.*"])
    assert "first (Dense)" in text and "last (Dense)" not in text
    with pytest.raises(ValueError, match="no layer matches 'nope'"):
        _text(_model(), layer_range=["nope", "last"])
    with pytest.raises(ValueError, match="two layer names"):
        _text(_model(), layer_range=["first"])


def test_compiled_model_lists_optimizer_params_in_the_total() -> None:
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)
    text = _text(model)
    assert " Optimizer params: 18 (" in text  # iteration, learning rate, two moments per weight
    assert " Total params: 26 (" in text and " Trainable params: 8 (32.00 B)" in text
