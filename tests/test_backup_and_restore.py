"""BackupAndRestore: a training process killed with SIGKILL mid-epoch resumes where it stopped and ends with
the same epochs and final weights as an uninterrupted run; plus the backup file's own guarantees."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gpukeras as keras
from gpukeras import layers
from gpukeras.callbacks import BackupAndRestore

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Trains 6 epochs of 5 batches each; with KILL_AT="epoch,batch" it SIGKILLs itself at that batch's end.
SCRIPT = textwrap.dedent("""
    import json, os, signal, sys
    import numpy as np
    import gpukeras as keras
    from gpukeras import layers

    backup_dir, out, shuffle = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], dtype="float32"))[:, None]
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    kill_at = os.environ.get("KILL_AT")

    class Log(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_epoch_end(self, epoch, logs=None):
            with open(out + ".epochs", "a") as f:
                f.write(f"{epoch}\\n")

        def on_train_batch_end(self, batch, logs=None):
            if kill_at and f"{self.epoch},{batch}" == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    history = model.fit(x, y, batch_size=8, epochs=6, shuffle=shuffle, verbose=0,
                        callbacks=[keras.callbacks.BackupAndRestore(backup_dir), Log()])
    np.savez(out, *model.get_weights())
    with open(out + ".json", "w") as f:
        json.dump({"epoch": history.epoch, "loss": history.history["loss"],
                   "iterations": int(model.optimizer.iterations.numpy())}, f)
""")


def _run(tmp_path, backup: str, out: str, shuffle: bool, kill_at: str | None = None) -> subprocess.CompletedProcess:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("KILL_AT", None)
    if kill_at:
        env["KILL_AT"] = kill_at
    return subprocess.run([sys.executable, str(script), str(tmp_path / backup), str(tmp_path / out),
                           "1" if shuffle else "0"], env=env, capture_output=True, text=True, timeout=300)


def _weights(path) -> list[np.ndarray]:
    with np.load(path) as f:
        return [f[f"arr_{i}"] for i in range(len(f.files))]


@pytest.mark.parametrize("shuffle", [False, True], ids=["noshuffle", "shuffle"])
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(tmp_path, shuffle) -> None:
    ref = _run(tmp_path, "ref_backup", "ref.npz", shuffle)
    assert ref.returncode == 0, ref.stderr
    assert not (tmp_path / "ref_backup").exists()  # deleted after a run that finished

    killed = _run(tmp_path, "backup", "run.npz", shuffle, kill_at="3,2")  # dies inside epoch 3
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (tmp_path / "run.npz.epochs").read_text().split() == ["0", "1", "2"]
    assert (tmp_path / "backup" / BackupAndRestore.FILENAME).exists()
    assert not (tmp_path / "run.npz").exists()

    resumed = _run(tmp_path, "backup", "run.npz", shuffle)
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads((tmp_path / "run.npz.json").read_text())
    ref_info = json.loads((tmp_path / "ref.npz.json").read_text())
    assert info["epoch"] == [3, 4, 5]  # History of the resumed run covers the remaining epochs
    assert (tmp_path / "run.npz.epochs").read_text().split() == ["0", "1", "2", "3", "4", "5"]
    assert info["iterations"] == ref_info["iterations"] == 30  # optimizer step count restored
    np.testing.assert_allclose(info["loss"], ref_info["loss"][3:], rtol=1e-6)
    for a, b in zip(_weights(tmp_path / "run.npz"), _weights(tmp_path / "ref.npz")):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert not (tmp_path / "backup").exists()


# ---------------------------------------------------------------- in-process checks
def _data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def _model() -> keras.Sequential:
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def _snapshot(model) -> list[np.ndarray]:
    return [np.array(w, copy=True) for w in model.get_weights()]


def test_restore_into_a_fresh_model_builds_the_optimizer_and_sets_initial_epoch(tmp_path) -> None:
    x, y = _data()
    model = _model()
    keep = BackupAndRestore(str(tmp_path / "b"), delete_checkpoint=False)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[keep])
    saved_weights = _snapshot(model)
    saved_opt = [v.numpy().copy() for v in model.optimizer.variables]

    fresh = _model()
    restorer = BackupAndRestore(str(tmp_path / "b"), delete_checkpoint=False)
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if "first" not in seen:
                seen["first"] = epoch
                seen["weights"] = _snapshot(self.model)
                seen["opt"] = [v.numpy().copy() for v in self.model.optimizer.variables]

    history = fresh.fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=[restorer, Probe()])
    assert history.epoch == [2, 3] and seen["first"] == 2
    for a, b in zip(seen["weights"], saved_weights):
        np.testing.assert_array_equal(a, b)
    assert len(seen["opt"]) == len(saved_opt)
    for a, b in zip(seen["opt"], saved_opt):
        np.testing.assert_array_equal(a, b)


def test_double_checkpoint_falls_back_when_latest_is_corrupt(tmp_path) -> None:
    x, y = _data()
    folder = tmp_path / "b"
    model = _model()
    model.fit(x, y, epochs=3, batch_size=8, verbose=0,
              callbacks=[BackupAndRestore(str(folder), double_checkpoint=True, delete_checkpoint=False)])
    latest = folder / BackupAndRestore.FILENAME
    assert (folder / (BackupAndRestore.FILENAME + ".bkp")).exists()
    latest.write_bytes(latest.read_bytes()[:100])  # truncated
    fresh = _model()
    with pytest.warns(UserWarning, match="unreadable"):
        history = fresh.fit(x, y, epochs=4, batch_size=8, verbose=0,
                            callbacks=[BackupAndRestore(str(folder), double_checkpoint=True)])
    assert history.epoch == [2, 3]  # the previous backup was taken at the end of epoch 1
    assert not folder.exists()


def test_corrupt_backup_without_fallback_is_a_clear_error(tmp_path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / BackupAndRestore.FILENAME).write_bytes(b"not a zip file")
    x, y = _data()
    with pytest.raises(OSError, match="cannot read the backup"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[BackupAndRestore(str(folder))])


def test_failed_save_leaves_the_previous_backup_untouched(tmp_path, monkeypatch) -> None:
    x, y = _data()
    folder = tmp_path / "b"
    model = _model()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0,
              callbacks=[BackupAndRestore(str(folder), delete_checkpoint=False)])
    before = (folder / BackupAndRestore.FILENAME).read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        model.fit(x, y, epochs=3, batch_size=8, verbose=0,
                  callbacks=[BackupAndRestore(str(folder), delete_checkpoint=False)])
    assert (folder / BackupAndRestore.FILENAME).read_bytes() == before
    assert os.listdir(folder) == [BackupAndRestore.FILENAME]  # no temporary file left behind


def test_mismatched_model_is_refused(tmp_path) -> None:
    x, y = _data()
    folder = tmp_path / "b"
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[BackupAndRestore(str(folder), delete_checkpoint=False)])
    other = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(5), layers.Dense(1)])
    other.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="do not match"):
        other.fit(x, y, epochs=2, verbose=0, callbacks=[BackupAndRestore(str(folder))])


def test_save_freq_in_batches_records_the_epoch_in_progress(tmp_path) -> None:
    x, y = _data()
    folder = tmp_path / "b"
    cb = BackupAndRestore(str(folder), save_freq=3, delete_checkpoint=False)
    model = _model()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[cb])  # 4 batches/epoch: saves at 3 and 6
    with np.load(folder / BackupAndRestore.FILENAME) as f:
        meta = json.loads(str(f["metadata"]))
    assert meta["epoch"] == 1 and meta["batch"] == 1  # 6th batch = epoch 1, batch 1
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore(str(folder), save_freq="batch")
    with pytest.raises(ValueError, match="backup_dir"):
        BackupAndRestore("")
