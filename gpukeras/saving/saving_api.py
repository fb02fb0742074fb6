"""save_model / load_model / save_weights / load_weights with Keras 3's file-name rules."""

from __future__ import annotations

import datetime
import io
import json
import os
from collections.abc import Mapping
from typing import Any

import h5py

from gpukeras.saving import assets, h5_reader, keras_archive, legacy_h5, limits, object_registry, weights_h5
from gpukeras.saving.serialization import (
    SafeModeScope,
    check_safe,
    deserialize_keras_object,
    in_safe_mode,
    serialize_keras_object,
)

KERAS_VERSION = "3.15.1"  # the Keras file format version gpukeras writes (and was checked against)


class FileNotFoundValueError(FileNotFoundError, ValueError):
    """A missing model file: an OSError (FileNotFoundError) and, as in Keras 3, a ValueError."""


def _check_exists(filepath: str) -> None:
    if not os.path.exists(filepath):
        raise FileNotFoundValueError(2, "File not found (expected an accessible .keras zip file)", filepath)


def _check_overwrite(filepath: str, overwrite: bool) -> None:
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath!r} already exists and overwrite=False.")


def save_model(model: Any, filepath: str | os.PathLike, overwrite: bool = True, zipped: bool | None = None,
               **kwargs: Any) -> None:
    """Save architecture, weights, compile config and optimizer state (`.keras`; legacy `.h5` too)."""
    filepath = os.fspath(filepath)
    include_optimizer = kwargs.pop("include_optimizer", True)
    save_format = kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    if save_format is not None and not (
            (save_format == "keras" and filepath.endswith(".keras"))
            or (save_format in ("h5", "hdf5") and filepath.endswith((".h5", ".hdf5")))):
        raise ValueError("The `save_format` argument is deprecated in Keras 3. Please remove this argument and pass a "
                         f"file path with either `.keras` or `.h5` extension. Received: save_format={save_format}")
    _check_overwrite(filepath, overwrite)
    if filepath.endswith((".h5", ".hdf5")):
        legacy_h5.save_legacy_model(model, filepath, include_optimizer=include_optimizer)
        return
    if not filepath.endswith(".keras"):
        raise ValueError("Invalid filepath extension for saving. Please add either a `.keras` extension for the "
                         f"native Keras format (recommended) or a `.h5` extension. Received: filepath={filepath}.")
    keras_archive.write_archive(filepath, model_files(model), zipped=True if zipped is None else zipped)


def model_files(model: Any) -> dict[str, bytes]:
    """The members of a `.keras` archive for `model`, all computed before anything is written."""
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    config = json.dumps(serialize_keras_object(model))
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        weights_h5.save_weights_to_h5(model, f)
    return {keras_archive.METADATA_FILENAME: json.dumps(metadata).encode("utf-8"),
            keras_archive.CONFIG_FILENAME: config.encode("utf-8"),
            keras_archive.WEIGHTS_FILENAME: buffer.getvalue(),
            **assets.asset_files(model)}


def load_model(filepath: str | os.PathLike, custom_objects: Mapping[str, Any] | None = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Load a model saved with `save_model` / Keras 3 (`.keras`) or tf.keras 2 (`.h5`)."""
    scoped = in_safe_mode()
    safe_mode = safe_mode if scoped is None else scoped  # Keras 3: enable_unsafe_deserialization() wins
    filepath = os.fspath(filepath)
    _check_exists(filepath)
    if filepath.endswith((".h5", ".hdf5")):
        return legacy_h5.load_legacy_model(filepath, custom_objects, compile, safe_mode)
    if not (filepath.endswith(".keras") or os.path.isdir(filepath)):
        raise ValueError(f"File format not supported: filepath={filepath}. gpukeras loads `.keras` files (Keras 3) "
                         "and legacy `.h5` files (tf.keras 2).")
    with keras_archive.KerasArchive(filepath) as archive:
        config = archive.read_json(keras_archive.CONFIG_FILENAME)
        check_safe(config, safe_mode)
        if not compile:
            config = {k: v for k, v in config.items() if k != "compile_config"}
        with object_registry.CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
            model = deserialize_keras_object(config, custom_objects, safe_mode)
        if not callable(getattr(model, "fit", None)):
            raise ValueError(f"{filepath!r} does not hold a model (config.json describes {type(model).__name__}).")
        with _open_model_weights(archive, model) as h5:
            weights_h5.load_weights_from_h5(model, h5, source=filepath)
        assets.load_assets(model, archive.names, archive.read)
    return model


def _open_model_weights(archive: keras_archive.KerasArchive, model: Any) -> Any:
    """The archive's weights file, refused when it declares more than `model` can need (or when an asset is not
    named for one of the model's objects)."""
    archive.check_assets(path for path, obj in weights_h5.walk(model)
                         if path or callable(getattr(obj, "load_assets", None)))
    variable_bytes = weights_h5.variable_bytes(model)
    why = f" (what the model can need: {limits.size_text(limits.WEIGHTS_FLOOR_BYTES)} + " \
          f"{limits.WEIGHTS_PER_VARIABLE_BYTE} x its {limits.size_text(variable_bytes)} of variables)"
    return archive.open_weights(limits.weights_max_bytes(variable_bytes), why)


def save_weights(model: Any, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """Write all weights (and optimizer state) to a Keras 3 `.weights.h5` file, atomically."""
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={filepath}")
    _check_overwrite(filepath, overwrite)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        weights_h5.save_weights_to_h5(model, f)
    keras_archive.atomic_write(filepath, lambda out: out.write(buffer.getvalue()))


def load_weights(model: Any, filepath: str | os.PathLike, skip_mismatch: bool = False, **kwargs: Any) -> None:
    """Load weights from `.weights.h5`, `.keras`, or a tf.keras 2 `.h5` file (all of them, or none)."""
    filepath = os.fspath(filepath)
    by_name = kwargs.pop("by_name", False)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    _check_exists(filepath)
    weights_h5.check_buildable(model, filepath)
    if filepath.endswith(".keras"):
        with keras_archive.KerasArchive(filepath) as archive, _open_model_weights(archive, model) as h5:
            weights_h5.load_weights_from_h5(model, h5, skip_mismatch, source=filepath)
        return
    if not filepath.endswith((".weights.h5", ".h5", ".hdf5")):
        raise ValueError(f"File format not supported: filepath={filepath}. gpukeras loads weights from `.weights.h5` "
                         "and `.keras` files, and legacy `.h5` files.")
    try:
        h5 = h5py.File(filepath, "r")
    except OSError as e:
        raise ValueError(f"Cannot open {filepath!r} as an HDF5 file (corrupt or truncated?): {e}") from e
    with h5:
        if (filepath.endswith(".weights.h5") and "layer_names" not in h5.attrs
                and h5_reader.lookup(h5, "model_weights", repr(filepath)) is None):
            weights_h5.load_weights_from_h5(model, h5, skip_mismatch, source=filepath)
        else:
            legacy_h5.load_legacy_weights(model, h5, skip_mismatch, by_name, source=filepath)
