"""The seed article's program (gpukeras.demo) trains on the bundled digits to a real accuracy."""

from __future__ import annotations

import re

import numpy as np

from gpukeras import demo


def test_seed_program_reaches_95_percent_on_digits(capsys) -> None:
    result = demo.run(epochs=30, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert result["accuracy"] >= 0.95, result["accuracy"]
    assert isinstance(result["loss"], float) and result["loss"] < 0.3
    history = result["history"].history
    assert len(history["loss"]) == 30 and history["loss"][-1] < history["loss"][0]
    epoch_lines = [line for line in out if re.match(r"^\d+/\d+ - \d+s - \d+(us|ms|s)/step - accuracy: ", line)]
    assert len(epoch_lines) == 31  # one per epoch, plus evaluate's line
    assert epoch_lines[0].startswith("41/41 - ")  # 1437 * 0.9 = 1293 rows in batches of 32
    assert "val_accuracy: " in epoch_lines[0]
    assert result["predicted"].shape == (8,)
    assert np.mean(result["predicted"] == result["actual"]) >= 0.75
