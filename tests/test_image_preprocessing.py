"""Image preprocessing and augmentation on their own: active only in training, seeded, the random
draws within their ranges and per image, argument checks, gradients of keras.ops.image by finite
differences, dict inputs, masks, symbolic shapes, saving, no host reads, and a small classifier
with augmentation in front that learns. (Keras 3's numbers: tests/test_keras3_image_preprocessing.py.)
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from gradcheck import check_gradients

import gpukeras as keras
from gpukeras import backend, layers, ops
from gpukeras.tensor import get_keras_mask, set_keras_mask

RANDOM_LAYERS = {
    "flip": lambda seed=None: layers.RandomFlip(seed=seed),
    "rotation": lambda seed=None: layers.RandomRotation(0.2, seed=seed),
    "zoom": lambda seed=None: layers.RandomZoom(0.3, 0.2, seed=seed),
    "translation": lambda seed=None: layers.RandomTranslation(0.2, 0.3, seed=seed),
    "crop": lambda seed=None: layers.RandomCrop(5, 6, seed=seed),
    "contrast": lambda seed=None: layers.RandomContrast(0.5, seed=seed),
    "brightness": lambda seed=None: layers.RandomBrightness(0.3, seed=seed),
}


def _images(n: int = 6, h: int = 8, w: int = 9, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, h, w, c)).astype("float32")


def _np(x) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(x))


# --------------------------------------------------------------------------- training only, seeded
@pytest.mark.parametrize("name", sorted(RANDOM_LAYERS))
def test_random_layers_leave_images_alone_at_inference(name):
    x = _images()
    layer = RANDOM_LAYERS[name](seed=1)
    out = _np(layer(x, training=False))
    if name == "crop":  # the centred window at the target aspect ratio, resized
        assert out.shape == (6, 5, 6, 3)
        return
    np.testing.assert_array_equal(out, x)
    model = keras.Sequential([keras.Input((8, 9, 3)), RANDOM_LAYERS[name](seed=1)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


@pytest.mark.parametrize("name", sorted(RANDOM_LAYERS))
def test_random_layers_augment_in_training_and_when_called_directly(name):
    """Keras 3 resolves a missing `training` to the call's default, True: a direct call augments."""
    x = _images()
    for kwargs in ({"training": True}, {}):
        layer = RANDOM_LAYERS[name](seed=3)
        out = _np(layer(x, **kwargs))
        assert out.shape != x.shape or not np.allclose(out, x), kwargs


@pytest.mark.parametrize("name", sorted(RANDOM_LAYERS))
def test_random_layers_are_reproducible_with_a_seed(name):
    x = _images()
    a, b, other = RANDOM_LAYERS[name](seed=7), RANDOM_LAYERS[name](seed=7), RANDOM_LAYERS[name](seed=8)
    first, second = _np(a(x, training=True)), _np(a(x, training=True))
    np.testing.assert_array_equal(first, _np(b(x, training=True)))
    np.testing.assert_array_equal(second, _np(b(x, training=True)))
    assert not np.array_equal(first, second), "the next call must draw new transformations"
    assert not np.array_equal(first, _np(other(x, training=True)))
    keras.utils.set_random_seed(5)
    unseeded = _np(RANDOM_LAYERS[name]()(x, training=True))
    keras.utils.set_random_seed(5)
    np.testing.assert_array_equal(unseeded, _np(RANDOM_LAYERS[name]()(x, training=True)))


def test_draws_are_per_image_and_within_their_ranges():
    x = ops.convert_to_tensor(_images(n=400, h=4, w=5))
    flips = _np(layers.RandomFlip(seed=0).get_random_transformation(x)["flips"]).ravel()
    assert 0.4 < flips.mean() < 0.6
    angles = _np(layers.RandomRotation((-0.1, 0.25), seed=0).get_random_transformation(x)["angle"])
    assert angles.min() >= -36.0 and angles.max() < 90.0 and angles.std() > 20
    zoom = layers.RandomZoom((-0.2, 0.3), (0.1, 0.5), seed=0).get_random_transformation(x)
    hz, wz = _np(zoom["height_zoom"]), _np(zoom["width_zoom"])
    assert 0.8 <= hz.min() and hz.max() < 1.3 and 1.1 <= wz.min() and wz.max() < 1.5
    assert not np.allclose(hz, wz)
    shifts = _np(layers.RandomTranslation(0.25, (0.1, 0.2), seed=0).get_random_transformation(x)["translations"])
    assert shifts[:, 1].min() >= -1.0 and shifts[:, 1].max() <= 1.0  # 0.25 * height 4
    assert shifts[:, 0].min() >= 0.5 and shifts[:, 0].max() <= 1.0  # (0.1, 0.2) * width 5
    contrast = _np(layers.RandomContrast((0.3, 0.6), seed=0).get_random_transformation(x)["contrast_factor"])
    assert contrast.shape == (400, 1, 1, 1) and 0.7 <= contrast.min() and contrast.max() < 1.6
    assert 0.0 <= _np(layers.RandomContrast(0.4, seed=0).get_random_transformation(x)["contrast_factor"]).min() - 1
    delta = _np(layers.RandomBrightness(0.2, value_range=(0, 1), seed=0).get_random_transformation(x)["rgb_delta"])
    assert -0.2 <= delta.min() < -0.1 and 0.1 < delta.max() < 0.2
    crop = layers.RandomCrop(2, 3, seed=0)
    windows = {crop.get_random_transformation(x) for _ in range(60)}
    assert windows == {(t, left) for t in range(3) for left in range(3)}


def test_flip_modes_reverse_the_right_axes():
    x = _images(n=1)
    flips = {"flips": np.array([True]).reshape(1, 1, 1, 1)}
    h = _np(layers.RandomFlip("horizontal").transform_images(ops.convert_to_tensor(x), flips))
    v = _np(layers.RandomFlip("vertical").transform_images(ops.convert_to_tensor(x), flips))
    both = _np(layers.RandomFlip().transform_images(ops.convert_to_tensor(x), flips))
    np.testing.assert_array_equal(h, x[:, :, ::-1])
    np.testing.assert_array_equal(v, x[:, ::-1])
    np.testing.assert_array_equal(both, x[:, ::-1, ::-1])
    cf = np.transpose(x, (0, 3, 1, 2))
    out = _np(layers.RandomFlip("horizontal", data_format="channels_first").transform_images(
        ops.convert_to_tensor(cf), flips))
    np.testing.assert_array_equal(out, cf[..., ::-1])


def test_unbatched_images_and_channels_first():
    x = _images(n=1)[0]
    for layer in (layers.RandomRotation(0.1, seed=1), layers.RandomZoom(0.2, seed=1), layers.RandomCrop(4, 4, seed=1),
                  layers.Resizing(3, 4), layers.CenterCrop(4, 4), layers.RandomContrast(0.2, seed=1)):
        out = layer(x, training=True)
        assert out.ndim == 3 and out.shape[-1] == 3, type(layer).__name__
    cf = np.transpose(_images(n=2), (0, 3, 1, 2))
    assert layers.Resizing(3, 4, data_format="channels_first")(cf).shape == (2, 3, 3, 4)
    assert layers.RandomCrop(4, 5, data_format="channels_first")(cf, training=True).shape == (2, 3, 4, 5)
    assert layers.RandomRotation(0.1, data_format="channels_first")(cf).shape == cf.shape


# --------------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("make", [
    lambda: layers.RandomFlip("diagonal"),
    lambda: layers.RandomRotation(1.5),
    lambda: layers.RandomRotation((0.1, 0.2, 0.3)),
    lambda: layers.RandomRotation(0.1, fill_mode="mirror"),
    lambda: layers.RandomRotation(0.1, interpolation="bicubic"),
    lambda: layers.RandomRotation(0.1, fill_value="zero"),
    lambda: layers.RandomZoom(-1.0),
    lambda: layers.RandomZoom(0.2, (0.1, 1.5)),
    lambda: layers.RandomTranslation(1.5, 0.1),
    lambda: layers.RandomTranslation(0.1, "x"),
    lambda: layers.RandomContrast(1.5),
    lambda: layers.RandomContrast(0.2, value_range=(0,)),
    lambda: layers.RandomBrightness(-2.0),
    lambda: layers.RandomBrightness(0.2, value_range="0-255"),
    lambda: layers.RandomCrop(0, 4),
    lambda: layers.CenterCrop(4, 2.5),
    lambda: layers.Resizing(4, 4, interpolation="area"),
    lambda: layers.Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True),
    lambda: layers.Resizing(4, 4, fill_mode="reflect"),
    lambda: layers.Resizing(-1, 4),
    lambda: layers.Rescaling("1/255"),
    lambda: layers.Rescaling(1.0, offset=[]),
    lambda: layers.Normalization(mean=[1.0]),
    lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0]),
    lambda: layers.Normalization(axis=-1, mean=[[1.0]], variance=[[1.0]]),
    lambda: layers.Normalization(axis="channels"),
    lambda: layers.RandomFlip(data_format="channels_middle"),
    lambda: layers.RandomFlip(factor=0.5),
])
def test_bad_arguments_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_bounding_boxes_are_refused_clearly():
    with pytest.raises(NotImplementedError, match="bounding boxes"):
        layers.RandomFlip(bounding_box_format="xyxy")
    with pytest.raises(NotImplementedError, match="bounding boxes"):
        layers.RandomFlip()({"images": _images(), "bounding_boxes": {"boxes": np.zeros((6, 1, 4))}})


def test_image_ops_refuse_bad_arguments():
    x = _images(n=2)
    with pytest.raises(ValueError, match="size"):
        ops.image.resize(x, (4,))
    with pytest.raises(ValueError, match="rank"):
        ops.image.resize(x[0, 0], (4, 4))
    with pytest.raises(ValueError, match="transform"):
        ops.image.affine_transform(x, np.zeros((2, 6)))
    with pytest.raises(ValueError, match="2 images|transforms"):
        ops.image.affine_transform(x, np.zeros((3, 8)))
    with pytest.raises(ValueError, match="fill_mode"):
        ops.image.affine_transform(x, np.zeros(8), fill_mode="edge")
    with pytest.raises(ValueError, match="coordinates"):
        ops.image.map_coordinates(x, np.zeros((3, 2)), 1)
    with pytest.raises(ValueError, match="order"):
        ops.image.map_coordinates(x[0, ..., 0], np.zeros((2, 3)), 3)
    with pytest.raises(ValueError, match="rank 3"):
        layers.RandomFlip()(x[0, 0])


# --------------------------------------------------------------------------- gradients (finite differences)
def test_resize_gradients():
    x = np.random.default_rng(1).normal(size=(2, 4, 5, 2))
    for method in ("bilinear", "nearest", "bicubic", "lanczos3"):
        check_gradients(lambda v, m=method: ops.image.resize(v, (3, 7), interpolation=m), [x], name=method)
    check_gradients(lambda v: ops.image.resize(v, (2, 3), antialias=True, crop_to_aspect_ratio=True), [x])
    check_gradients(lambda v: ops.image.resize(v, (6, 4), pad_to_aspect_ratio=True, fill_value=1.0,
                                               data_format="channels_first"), [x])


def test_affine_transform_and_map_coordinates_gradients():
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 2))
    transform = np.float32([[0.9, -0.35, 1.3, 0.3, 1.15, -0.8, 0, 0], [1.25, 0.2, -2.2, -0.15, 0.85, 1.7, 0, 0]])
    cases = [(f, "bilinear") for f in ("constant", "reflect", "wrap", "nearest", "mirror")]
    for fill_mode, interpolation in cases + [("constant", "nearest"), ("reflect", "nearest")]:
        check_gradients(lambda v, f=fill_mode, i=interpolation: ops.image.affine_transform(
            v, transform, interpolation=i, fill_mode=f, fill_value=0.5), [x], name=f"{fill_mode} {interpolation}")
    check_gradients(lambda v: ops.image.affine_transform(v, transform, data_format="channels_first"), [x])
    coords = np.random.default_rng(3).uniform(-2, 6, (3, 3, 4))
    volume = np.random.default_rng(4).normal(size=(4, 5, 3))
    for fill_mode in ("constant", "reflect"):
        check_gradients(lambda v, f=fill_mode: ops.image.map_coordinates(v, coords, 1, fill_mode=f), [volume])


def test_rescaling_and_normalization_gradients():
    x = np.random.default_rng(5).normal(size=(3, 4))
    rescale = layers.Rescaling([0.5, 2.0, -1.0, 3.0], offset=0.25, dtype="float64")
    check_gradients(lambda v: rescale(v), [x])
    norm = layers.Normalization(mean=[1.0, 0.0, -1.0, 2.0], variance=[4.0, 1.0, 0.25, 9.0], dtype="float64")
    check_gradients(lambda v: norm(v), [x])
    inverse = layers.Normalization(mean=[1.0, 0.0, -1.0, 2.0], variance=[4.0, 1.0, 0.25, 9.0], invert=True,
                                   dtype="float64")
    check_gradients(lambda v: inverse(v), [x])


# --------------------------------------------------------------------------- dicts, masks, symbolic shapes
def test_dict_inputs_move_masks_with_images():
    x = _images(n=2)
    masks = np.random.default_rng(0).integers(0, 4, (2, 8, 9, 1)).astype("float32")
    labels = np.float32([[1, 0], [0, 1]])
    out = layers.RandomRotation((0.25, 0.25), fill_mode="constant")({"images": x, "segmentation_masks": masks,
                                                                     "labels": labels}, training=True)
    assert set(out) == {"images", "segmentation_masks", "labels"}
    moved = _np(out["segmentation_masks"])
    assert set(np.unique(moved)) <= {0.0, 1.0, 2.0, 3.0}  # nearest: classes stay classes
    expected = _np(ops.image.affine_transform(masks, _np(layers.RandomRotation((0.25, 0.25)).get_random_transformation(
        ops.convert_to_tensor(x))["rotation_matrix"]), interpolation="nearest"))
    np.testing.assert_array_equal(moved, expected)
    np.testing.assert_array_equal(_np(out["labels"]), labels)
    flipped = layers.RandomContrast(0.5)({"images": x[0], "segmentation_masks": masks[0]}, training=True)
    np.testing.assert_array_equal(_np(flipped["segmentation_masks"]), masks[0])


def test_rescaling_and_normalization_pass_masks_on():
    x = ops.convert_to_tensor(np.ones((2, 3, 4), "float32"))
    mask = ops.convert_to_tensor(np.array([[True, False, True], [True, True, False]]))
    for layer in (layers.Rescaling(2.0), layers.Normalization(mean=1.0, variance=1.0, axis=None)):
        set_keras_mask(x, mask)
        out = layer(x)
        np.testing.assert_array_equal(_np(get_keras_mask(out)), _np(mask))


def test_symbolic_shapes():
    inputs = keras.Input((12, 10, 3))
    h = layers.Rescaling(1 / 255.0)(inputs)
    h = layers.RandomFlip()(h)
    h = layers.RandomRotation(0.1)(h)
    assert h.shape == (None, 12, 10, 3)
    assert layers.Resizing(6, 7)(h).shape == (None, 6, 7, 3)
    assert layers.CenterCrop(5, 4)(h).shape == (None, 5, 4, 3)
    assert layers.RandomCrop(8, 8)(h).shape == (None, 8, 8, 3)
    cf = keras.Input((3, 12, 10))
    assert layers.Resizing(6, 7, data_format="channels_first")(cf).shape == (None, 3, 6, 7)


# --------------------------------------------------------------------------- integer images, Normalization details
def test_integer_images():
    x = np.random.default_rng(0).integers(0, 256, (2, 6, 7, 3)).astype("uint8")
    assert layers.Resizing(3, 4)(x).dtype == "uint8"
    assert layers.Resizing(3, 4, interpolation="nearest")(x).dtype == "uint8"
    assert layers.Rescaling(1 / 255.0)(x).dtype == "float32"
    assert layers.RandomRotation(0.1)(x).dtype == "float32"
    assert layers.RandomContrast(0.1)(x, training=False).dtype == "uint8"  # untouched, as in Keras 3
    brightened = layers.RandomBrightness((0.1, 0.1))(x, training=True)  # in float32, no uint8 wrap-around
    assert brightened.dtype == "float32"
    np.testing.assert_allclose(_np(brightened), np.minimum(x.astype("float32") + 25.5, 255), rtol=1e-6)


def test_normalization_adapt_checks_and_updates():
    layer = layers.Normalization()
    with pytest.raises(ValueError, match="empty"):
        layer.adapt(iter([]))
    with pytest.raises(TypeError, match="shape"):
        layer.adapt([[1.0, 2.0]])
    layer.adapt(np.float32([[1, 2], [3, 6]]))
    np.testing.assert_allclose(_np(layer(np.float32([[2, 4]]))), [[0, 0]], atol=1e-6)
    with pytest.raises(ValueError, match="incompatible"):
        layer.adapt(np.zeros((4, 3), "float32"))
    layer.set_weights([np.float32([0, 0]), np.float32([4, 1]), np.int32(0)])
    np.testing.assert_allclose(_np(layer(np.float32([[2, 4]]))), [[1, 4]], atol=1e-6)
    with pytest.raises(ValueError, match="nothing to learn"):
        layers.Normalization(mean=0.0, variance=1.0).adapt(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="axis"):
        layers.Normalization(axis=3)(np.zeros((2, 2), "float32"))


# --------------------------------------------------------------------------- saving
def test_model_with_every_layer_saves_and_loads(tmp_path):
    x = _images(n=4, h=10, w=12)
    norm = layers.Normalization()
    norm.adapt(x)
    model = keras.Sequential([
        keras.Input((10, 12, 3)), norm, layers.Rescaling(0.5, offset=[0.0, 1.0, 2.0]),
        layers.Resizing(8, 8, interpolation="bicubic"), layers.RandomFlip("horizontal", seed=1),
        layers.RandomRotation(0.1, fill_mode="constant", seed=2), layers.RandomZoom(0.1, seed=3),
        layers.RandomTranslation(0.1, 0.1, fill_mode="wrap", seed=4), layers.RandomCrop(6, 6, seed=5),
        layers.RandomContrast(0.2, value_range=(-3, 3)), layers.RandomBrightness(0.1, value_range=(-3, 3)),
        layers.CenterCrop(5, 5), layers.Flatten(), layers.Dense(2)])
    expected = model.predict(x, verbose=0)
    path = tmp_path / "augmented.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    for a, b in zip(model.layers, loaded.layers):
        assert json.dumps(a.get_config() | {"name": None}) == json.dumps(b.get_config() | {"name": None})
    np.testing.assert_array_equal(loaded.layers[0].get_weights()[0], norm.get_weights()[0])


# --------------------------------------------------------------------------- the device is never read
def test_augmentation_never_reads_the_device():
    emulated = getattr(sys.modules.get("cupy"), "__version__", "").endswith("+cpu-emulated")
    if backend.backend() != "cupy" or not emulated:
        pytest.skip("host reads are counted on the emulated CuPy backend only")
    from emulation.cupy_on_numpy import host_reads

    x = ops.convert_to_tensor(_images())
    chain = [RANDOM_LAYERS[name](seed=1) for name in sorted(RANDOM_LAYERS)]
    chain += [layers.Rescaling(1 / 255.0), layers.Resizing(4, 4), layers.CenterCrop(3, 3)]
    host_reads.clear()
    for layer in chain:
        x = layer(x, training=True)
    assert sum(host_reads.values()) == 0, dict(host_reads)


# --------------------------------------------------------------------------- a classifier that learns
def test_digit_classifier_with_augmentation_in_front_learns():
    (x_train, y_train), (x_test, y_test) = keras.datasets.digits.load_data()
    x_train, x_test = x_train[..., None].astype("float32"), x_test[..., None].astype("float32")
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.RandomFlip("horizontal", seed=1),
        layers.RandomRotation(0.03, fill_mode="constant", seed=2),
        layers.Rescaling(1 / 16.0),
        layers.Flatten(),
        layers.Dense(32, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=128, epochs=4, verbose=0)
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy > 0.8
