"""BackupAndRestore: resume an interrupted fit at the right epoch, with weights and optimizer state.

Backup format (internal to gpukeras, one file so a backup is always whole): `<backup_dir>/latest.backup.npz`,
an uncompressed NumPy `.npz` holding

- `model/<i>`: `model.get_weights()[i]` (every weight, trainable or not, in `model.weights` order);
- `optimizer/<i>`: the optimizer's variables in `optimizer.variables` order (iteration count, learning rate,
  then the slots such as Adam's momentums and velocities);
- `metadata`: a JSON string with `format` (`"gpukeras-backup-1"`), `epoch` (the epoch to resume from),
  `batch` (last batch seen when saved mid-epoch, else 0) and `rng_state` (the bit-generator state of
  gpukeras's global random stream, so that shuffling continues as if never interrupted).

Each save writes a temporary file in the same folder, flushes it to disk and renames it over the old one
(`os.replace`), so a kill at any moment leaves either the previous or the new backup, never a torn one.
With `double_checkpoint=True` the previous backup is kept as `latest.backup.npz.bkp` and used when the
latest one cannot be read.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from typing import Any

import numpy as np

from gpukeras import distribution
from gpukeras import random as _random
from gpukeras.callbacks.callback import Callback
from gpukeras.saving.keras_archive import atomic_write

_FORMAT = "gpukeras-backup-1"


class BackupAndRestore(Callback):
    """Back up training state to `backup_dir` and restore it when `fit` is called again after an interruption.

    Saves at the end of every epoch (`save_freq="epoch"`) or every `save_freq` batches; `on_train_begin`
    restores weights, optimizer state and the random stream, and makes `fit` start at the saved epoch. As in
    Keras 3, a mid-epoch backup resumes by re-running that epoch from its start, with the weights as saved.
    The backup is deleted when training ends normally (`delete_checkpoint=True`).
    """

    FILENAME = "latest.backup.npz"

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError("Invalid value for argument `save_freq`. "
                             f"Received: save_freq={save_freq}. Expected either 'epoch' or an integer value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, self.FILENAME)
        self._prev_path = self._path + ".bkp"
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    # ------------------------------------------------------------------ restore
    def on_train_begin(self, logs: Any = None) -> None:
        if not os.path.exists(self._path) and not os.path.exists(self._prev_path):
            return
        if not getattr(self.model, "built", True):
            raise ValueError("To use the BackupAndRestore callback, your model must be built before you call "
                             f"`fit()`. Model {self.model} is unbuilt.")
        try:
            state = _read(self._path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            if not os.path.exists(self._prev_path):
                raise OSError(f"BackupAndRestore: cannot read the backup {self._path}: {error}") from error
            warnings.warn(f"BackupAndRestore: the backup {self._path} is unreadable ({error}); restoring the "
                          f"previous one, {self._prev_path}.", stacklevel=2)
            state = _read(self._prev_path)
        self._restore(state)

    def _restore(self, state: dict[str, Any]) -> None:
        model = self.model
        weights = state["model"]
        own = model.weights
        if len(weights) != len(own) or any(tuple(w.shape) != tuple(v.shape) for w, v in zip(weights, own)):
            raise ValueError(f"BackupAndRestore: the backup in {self.backup_dir} holds {len(weights)} weights with "
                             f"shapes {[tuple(w.shape) for w in weights]}, which do not match the model's "
                             f"{[tuple(v.shape) for v in own]}. Delete the backup folder to start afresh.")
        model.set_weights(weights)
        optimizer = getattr(model, "optimizer", None)
        slots = state["optimizer"]
        if optimizer is not None and slots:
            if not optimizer.built:  # slots are created lazily on the first update: make them now
                optimizer.build(model.trainable_weights)
            variables = optimizer.variables
            if len(variables) == len(slots) and all(tuple(v.shape) == tuple(s.shape)
                                                    for v, s in zip(variables, slots)):
                for variable, value in zip(variables, slots):
                    variable.assign(value)
            else:
                warnings.warn(f"BackupAndRestore: skipping the optimizer state: the optimizer has {len(variables)} "
                              f"variables, the backup {len(slots)}.", stacklevel=3)
        meta = state["metadata"]
        if meta.get("rng_state") is not None:
            try:
                _random.generator().bit_generator.state = meta["rng_state"]
            except (TypeError, ValueError, KeyError):
                warnings.warn("BackupAndRestore: could not restore the random stream state.", stacklevel=3)
        self._current_epoch = int(meta["epoch"])
        model._initial_epoch = self._current_epoch

    # ------------------------------------------------------------------ save
    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._current_epoch = epoch

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self._should_save_on_batch(batch):
            self._save_model(batch)

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch started
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save_model(self, batch: int = 0) -> None:
        if not distribution.is_chief():  # data parallel: every rank restores, rank 0 alone writes
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        optimizer = getattr(self.model, "optimizer", None)
        slots = [v.numpy() for v in optimizer.variables] if optimizer is not None else []
        try:
            rng_state = _random.generator().bit_generator.state
        except AttributeError:
            rng_state = None
        meta = {"format": _FORMAT, "epoch": self._current_epoch, "batch": batch, "rng_state": rng_state}
        arrays = {f"model/{i}": w for i, w in enumerate(self.model.get_weights())}
        arrays.update({f"optimizer/{i}": s for i, s in enumerate(slots)})
        arrays["metadata"] = np.array(json.dumps(meta))
        if self.double_checkpoint and os.path.exists(self._path):
            _atomic_copy(self._path, self._prev_path)
        _atomic_savez(self._path, arrays)

    # ------------------------------------------------------------------ cleanup
    def on_train_end(self, logs: Any = None) -> None:
        if not self.delete_checkpoint or not distribution.is_chief():
            return
        for path in (self._path, self._prev_path):
            if os.path.exists(path):
                os.remove(path)
        try:
            os.rmdir(self.backup_dir)  # only when nothing else lives there
        except OSError:
            pass


def _read(path: str) -> dict[str, Any]:
    """Load a backup file into {'model': [...], 'optimizer': [...], 'metadata': {...}}."""
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(str(archive["metadata"]))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a gpukeras backup (format {meta.get('format')!r}).")
        model = [archive[f"model/{i}"] for i in range(_count(archive.files, "model/"))]
        optimizer = [archive[f"optimizer/{i}"] for i in range(_count(archive.files, "optimizer/"))]
    return {"model": model, "optimizer": optimizer, "metadata": meta}


def _count(names: list[str], prefix: str) -> int:
    return sum(1 for n in names if n.startswith(prefix))


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: str, write: Any) -> None:
    """The saving package's atomic write, plus an fsync of the folder so the rename survives a crash."""
    atomic_write(path, write)
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def _atomic_savez(path: str, arrays: dict[str, np.ndarray]) -> None:
    _atomic_write(path, lambda f: np.savez(f, **arrays))


def _atomic_copy(src: str, dst: str) -> None:
    def copy(f: Any) -> None:
        with open(src, "rb") as s:
            while chunk := s.read(1 << 20):
                f.write(chunk)

    _atomic_write(dst, copy)
