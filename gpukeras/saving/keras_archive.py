"""The `.keras` container: a zip (entries stored, not compressed) of `metadata.json`, `config.json`
and `model.weights.h5`, as Keras 3 writes it; or the same files in a folder (`zipped=False`).

Writes are atomic: the archive is written to a temporary file in the destination folder, flushed,
then renamed over the target, so a failed save never touches an existing file. Reads refuse
unsafe member names (`../`, absolute paths, drive letters), oversized members and corrupt zips.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any

import h5py

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"
_MAX_MEMBER_BYTES = 1 << 34  # 16 GiB: larger members are refused as probable zip bombs
_MAX_EXPANSION = 100


def atomic_write(filepath: str | os.PathLike, write: Callable[[Any], None]) -> None:
    """Call `write(fileobj)` on a new file in `filepath`'s folder, then put it in place in one rename.

    A failed or interrupted save never touches an existing file. Where Linux allows (O_TMPFILE), the
    new file has no name until it is complete, so even a process killed mid-save (SIGTERM, SIGKILL)
    leaves nothing behind; elsewhere a hidden temporary file is removed on any Python exception.
    """
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot save to {filepath!r}: the folder {folder!r} does not exist.")
    fd = _unnamed_file(folder)
    if fd is None:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(filepath)}.", suffix=".tmp")
    else:
        tmp = None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if tmp is None:
                tmp = _name_unnamed_file(f.fileno(), filepath)
        os.replace(tmp, filepath)
    except BaseException:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
        raise


def _unnamed_file(folder: str) -> int | None:
    """A file in `folder` with no name yet (Linux O_TMPFILE), or None where that is not available."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return None
    try:
        return os.open(folder, flag | os.O_RDWR, 0o666)
    except OSError:  # a file system without O_TMPFILE support
        return None


def _name_unnamed_file(fd: int, filepath: str) -> str:
    """Give the finished unnamed file a hidden name beside `filepath` (renamed over it next).

    linkat through /proc/self/fd is the documented way; some kernels and sandboxes refuse it and
    take linkat(AT_EMPTY_PATH) instead; failing both, the bytes are copied to a named file.
    """
    folder = os.path.dirname(os.path.abspath(filepath))
    name = os.path.join(folder, f".{os.path.basename(filepath)}.{secrets.token_hex(6)}.tmp")
    try:
        os.link(f"/proc/self/fd/{fd}", name, follow_symlinks=True)
        return name
    except OSError:
        pass
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, at_empty_path = -100, 0x1000
    if getattr(libc, "linkat", None) is not None and libc.linkat(fd, b"", at_fdcwd, os.fsencode(name),
                                                                 at_empty_path) == 0:
        return name
    out_fd, name = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(filepath)}.", suffix=".tmp")
    with os.fdopen(out_fd, "wb") as out:
        os.lseek(fd, 0, os.SEEK_SET)
        while chunk := os.read(fd, 1 << 20):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return name


def write_archive(filepath: str | os.PathLike, files: Mapping[str, bytes], zipped: bool = True) -> None:
    """Write `files` (name → bytes, in order) as a `.keras` zip, or as a folder when not zipped."""
    if zipped:
        def write(f: Any) -> None:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
                for name, data in files.items():
                    zf.writestr(name, data)

        atomic_write(filepath, write)
        return
    filepath = os.fspath(filepath)
    parent = os.path.dirname(os.path.abspath(filepath))
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(filepath)}.")
    try:
        for name, data in files.items():
            path = os.path.join(tmp, *name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        old = None
        if os.path.isdir(filepath):
            old = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(filepath)}.old.")
            os.rmdir(old)
            os.replace(filepath, old)
        elif os.path.exists(filepath):
            os.remove(filepath)
        os.replace(tmp, filepath)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_member_name(name: str, filepath: str) -> None:
    """Refuse a zip member that could escape the archive (`../`, absolute, drive letter, NUL)."""
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if (not name or "\x00" in name or posix.startswith("/") or ".." in parts
            or (len(posix) > 1 and posix[1] == ":")):
        raise ValueError(f"Refusing to load {filepath!r}: the archive has an unsafe member name {name!r} "
                         "(absolute path or '..').")


class KerasArchive:
    """Read access to a `.keras` zip or folder, with every member name checked."""

    def __init__(self, filepath: str | os.PathLike):
        self.filepath = os.fspath(filepath)
        path = self.filepath
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file or directory: {path!r}.")
        self._dir = path if os.path.isdir(path) else None
        self._zip: zipfile.ZipFile | None = None
        if self._dir is None:
            if not zipfile.is_zipfile(path):
                raise ValueError(f"{path!r} is not a valid .keras file: not a zip archive (corrupt or truncated?).")
            try:
                self._zip = zipfile.ZipFile(path, "r")
                infos = self._zip.infolist()
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise ValueError(f"{path!r} is not a valid .keras file: {e}.") from e
            for info in infos:
                check_member_name(info.filename, path)
                if info.file_size > _MAX_MEMBER_BYTES and info.file_size > _MAX_EXPANSION * max(
                        info.compress_size, 1):
                    raise ValueError(f"Refusing to load {path!r}: member {info.filename!r} would expand to "
                                     f"{info.file_size} bytes.")
            self.names = [i.filename for i in infos]
        else:
            self.names = sorted(os.listdir(path))

    def __enter__(self) -> KerasArchive:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def read(self, name: str) -> bytes:
        """The bytes of member `name`; ValueError naming the file when missing or unreadable."""
        if name not in self.names:
            raise ValueError(f"{self.filepath!r} is not a valid .keras file: it has no {name!r} "
                             f"(members: {self.names}).")
        try:
            if self._zip is not None:
                return self._zip.read(name)
            with open(os.path.join(self._dir, name), "rb") as f:
                return f.read()
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as e:
            raise ValueError(f"Cannot read {name!r} from {self.filepath!r} (corrupt or truncated file?): {e}") from e

    def read_json(self, name: str) -> dict[str, Any]:
        data = self.read(name)
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{name!r} in {self.filepath!r} is not valid JSON: {e}") from e
        if not isinstance(value, dict):
            raise ValueError(f"{name!r} in {self.filepath!r} must hold a JSON object.")
        return value

    def open_weights(self) -> Any:
        """`model.weights.h5` as an open read-only h5py File."""
        data = self.read(WEIGHTS_FILENAME)
        try:
            return h5py.File(io.BytesIO(data), "r")
        except OSError as e:
            raise ValueError(f"{WEIGHTS_FILENAME!r} in {self.filepath!r} is not a valid HDF5 file: {e}") from e
