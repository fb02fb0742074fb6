"""keras.backend's (and keras.config's) global settings: epsilon, floatx and the image data format are read
where Keras reads them, so setting one changes what later losses, layers and images do."""

from __future__ import annotations

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import backend


@pytest.fixture(autouse=True)
def _restore():
    saved = (backend.epsilon(), backend.floatx(), backend.image_data_format())
    yield
    backend.set_epsilon(saved[0])
    backend.set_floatx(saved[1])
    backend.set_image_data_format(saved[2])


def test_defaults_and_config_aliases():
    assert (backend.epsilon(), backend.floatx(), backend.image_data_format()) == (1e-7, "float32", "channels_last")
    assert keras.config.epsilon is backend.epsilon and keras.config.backend() == backend.backend()


def test_epsilon_reaches_the_losses():
    y_true, y_pred = np.array([[0.0, 1.0]], "float32"), np.array([[1.0, 0.0]], "float32")
    before = float(keras.losses.categorical_crossentropy(y_true, y_pred).numpy()[0])
    backend.set_epsilon(1e-3)
    after = float(keras.losses.categorical_crossentropy(y_true, y_pred).numpy()[0])
    assert before == pytest.approx(-np.log(1e-7), rel=1e-4) and after == pytest.approx(-np.log(1e-3), rel=1e-4)


def test_floatx_is_the_default_layer_dtype():
    backend.set_floatx("float64")
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    assert layer.kernel.dtype == "float64" and keras.config.dtype_policy().name == "float64"
    backend.set_floatx("float32")
    assert keras.layers.Dense(2).dtype == "float32"


def test_image_data_format_is_the_default_layout():
    backend.set_image_data_format("channels_first")
    conv = keras.layers.Conv2D(4, 3)
    assert conv.data_format == "channels_first"
    out = conv(keras.ops.ones((1, 2, 8, 8)))
    assert tuple(out.shape) == (1, 4, 6, 6)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="Unknown floatx"):
        backend.set_floatx("int8")
    with pytest.raises(ValueError, match="data_format"):
        backend.set_image_data_format("channels_middle")
