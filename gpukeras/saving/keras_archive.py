"""The `.keras` container: a zip (entries stored, not compressed) of `metadata.json`, `config.json`
and `model.weights.h5`, as Keras 3 writes it; or the same files in a folder (`zipped=False`).

Writes are atomic: the archive is written to a temporary file in the destination folder, flushed,
then renamed over the target, so a failed save never touches an existing file. Reads refuse
unsafe member names (`../`, absolute paths, drive letters), unexpected, oversized or bomb-like
members, links in folders, and corrupt zips (caps and rules: `limits`).
"""

from __future__ import annotations

import ctypes
import io
import os
import secrets
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

import h5py

from gpukeras.saving.limits import (
    ASSET_MAX_BYTES,
    ASSETS_TOTAL_MAX_BYTES,
    CONFIG_MAX_BYTES,
    METADATA_MAX_BYTES,
    UnsafeFileError,
    check_expansion,
    parse_config_json,
    size_text,
)

CONFIG_FILENAME = "config.json"
METADATA_FILENAME = "metadata.json"
WEIGHTS_FILENAME = "model.weights.h5"
ASSETS_DIRNAME = "assets"


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
    """Read access to a `.keras` zip or folder: every member's name and declared size checked on opening,
    every read capped.

    Expected members: `metadata.json` and `config.json` (capped small), `model.weights.h5` (capped
    by `open_weights` from what the model can need) and files under `assets/` (each and all together
    capped; `check_assets` then wants them named for the model's objects). Anything else, a
    duplicate, a link or special file in a folder, or a member that declares far more than it stores
    is refused with a ValueError naming the file, the member and the rule.
    """

    def __init__(self, filepath: str | os.PathLike):
        self.filepath = os.fspath(filepath)
        path = self.filepath
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file or directory: {path!r}.")
        self._dir = path if os.path.isdir(path) else None
        self._zip: zipfile.ZipFile | None = None
        self.sizes: dict[str, int] = {}  # member → declared size, in the archive's order
        self._assets_total = 0
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
                self._admit(info.filename, info.file_size, info.compress_size)
        else:
            for name, size in _folder_members(path):
                self._admit(name, size, size)
        self.names = list(self.sizes)

    def _where(self, name: str) -> str:
        return f"member {name!r} of {self.filepath!r}"

    def _admit(self, name: str, size: int, stored: int) -> None:
        """Record a member, or refuse it: unexpected, duplicated, over its cap, or a decompression bomb."""
        if name in self.sizes:
            raise UnsafeFileError(f"Refusing to load {self.filepath!r}: the archive holds {name!r} twice "
                                  "(duplicate member rule).")
        check_expansion(size, stored, self._where(name))
        if name.endswith("/") and (name == f"{ASSETS_DIRNAME}/" or name.startswith(f"{ASSETS_DIRNAME}/")):
            if size:
                raise UnsafeFileError(f"Refusing to load {self._where(name)}: a folder entry declares {size} bytes.")
        elif name.startswith(f"{ASSETS_DIRNAME}/"):
            self._assets_total += size
            if self._assets_total > ASSETS_TOTAL_MAX_BYTES:
                raise UnsafeFileError(f"Refusing to load {self._where(name)}: the assets take more than "
                                      f"{size_text(ASSETS_TOTAL_MAX_BYTES)} together (asset size rule).")
        elif name not in _MEMBER_CAPS:
            raise UnsafeFileError(f"Refusing to load {self._where(name)}: a .keras file holds only "
                                  f"{sorted(_MEMBER_CAPS)} and files under '{ASSETS_DIRNAME}/' "
                                  "(unexpected member rule).")
        self._check_cap(name, size, self._cap(name))
        self.sizes[name] = size

    def _cap(self, name: str) -> int | None:
        return ASSET_MAX_BYTES if name.startswith(f"{ASSETS_DIRNAME}/") else _MEMBER_CAPS.get(name)

    def _check_cap(self, name: str, size: int, cap: int | None, why: str = "") -> None:
        if cap is not None and size > cap:
            raise UnsafeFileError(f"Refusing to load {self._where(name)}: it declares {size_text(size)}, more than "
                                  f"{size_text(cap)}{why} (member size rule).")

    @property
    def asset_names(self) -> list[str]:
        """The files under `assets/` (folder entries left out)."""
        return [n for n in self.names if n.startswith(f"{ASSETS_DIRNAME}/") and not n.endswith("/")]

    def check_assets(self, object_paths: Iterable[str]) -> None:
        """Refuse an asset not named for one of the model's objects: `assets/<its h5 path>/...`, or a file
        directly in `assets/` when the paths include "" (the model itself keeps assets)."""
        paths = list(object_paths)
        prefixes = tuple(f"{ASSETS_DIRNAME}/{p}/" for p in paths if p)
        at_root = "" in paths
        for name in self.asset_names:
            if not (name.startswith(prefixes) or (at_root and name.count("/") == 1)):
                raise UnsafeFileError(f"Refusing to load {self._where(name)}: it is not named for any layer of the "
                                      f"model (assets sit under '{ASSETS_DIRNAME}/<layer path>/') "
                                      "(unexpected member rule).")

    def __enter__(self) -> KerasArchive:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def read(self, name: str, max_bytes: int | None = None, why: str = "") -> bytes:
        """The bytes of member `name`, streamed up to its cap; ValueError naming the file when missing,
        oversize or unreadable."""
        if name not in self.sizes:
            raise ValueError(f"{self.filepath!r} is not a valid .keras file: it has no {name!r} "
                             f"(members: {self.names}).")
        cap = self._cap(name) if max_bytes is None else max_bytes
        self._check_cap(name, self.sizes[name], cap, why)
        limit = -1 if cap is None else cap + 1
        try:
            if self._zip is not None:
                with self._zip.open(name) as f:
                    data = f.read(limit)
            else:
                data = _read_regular_file(os.path.join(self._dir, *name.split("/")), limit, self._where(name))
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile, RuntimeError, NotImplementedError) as e:
            raise ValueError(f"Cannot read {name!r} from {self.filepath!r} (corrupt or truncated file?): {e}") from e
        self._check_cap(name, len(data), cap, why)
        return data

    def read_json(self, name: str) -> dict[str, Any]:
        """Member `name` parsed as a JSON object, its nesting and array values checked (`limits`)."""
        value = parse_config_json(self.read(name), f"{name!r} in {self.filepath!r}")
        if not isinstance(value, dict):
            raise ValueError(f"{name!r} in {self.filepath!r} must hold a JSON object.")
        return value

    def open_weights(self, max_bytes: int, why: str = "") -> Any:
        """`model.weights.h5` as an open read-only h5py File, refused when it declares more than `max_bytes`."""
        data = self.read(WEIGHTS_FILENAME, max_bytes, why)
        try:
            return h5py.File(io.BytesIO(data), "r")
        except OSError as e:
            raise ValueError(f"{WEIGHTS_FILENAME!r} in {self.filepath!r} is not a valid HDF5 file: {e}") from e


_MEMBER_CAPS: dict[str, int | None] = {METADATA_FILENAME: METADATA_MAX_BYTES, CONFIG_FILENAME: CONFIG_MAX_BYTES,
                                       WEIGHTS_FILENAME: None}
_MAX_FOLDER_ENTRIES = 100_000


def _folder_members(folder: str) -> Iterator[tuple[str, int]]:
    """(member name, size) of an unzipped `.keras` folder; links and special files are refused."""
    count = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        rel = os.path.relpath(root, folder)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        if prefix and not prefix.startswith(f"{ASSETS_DIRNAME}/"):
            raise UnsafeFileError(f"Refusing to load member {prefix!r} of {folder!r}: a .keras folder holds only "
                                  f"{sorted(_MEMBER_CAPS)} and an '{ASSETS_DIRNAME}' folder (unexpected member rule).")
        for entry in sorted(dirs) + sorted(files):
            count += 1
            if count > _MAX_FOLDER_ENTRIES:
                raise UnsafeFileError(f"Refusing to load {folder!r}: more than {_MAX_FOLDER_ENTRIES} entries.")
            name, info = prefix + entry, os.lstat(os.path.join(root, entry))
            if entry in dirs and stat.S_ISDIR(info.st_mode):
                if not prefix and entry != ASSETS_DIRNAME:
                    raise UnsafeFileError(f"Refusing to load member {name + '/'!r} of {folder!r}: a .keras folder "
                                          f"holds only {sorted(_MEMBER_CAPS)} and an '{ASSETS_DIRNAME}' folder "
                                          "(unexpected member rule).")
                yield name + "/", 0
            elif not stat.S_ISREG(info.st_mode):
                raise UnsafeFileError(f"Refusing to load member {name!r} of {folder!r}: it is a link or special file, "
                                      "not a regular file (only the folder's own files are read) (link rule).")
            else:
                yield name, info.st_size


def _read_regular_file(path: str, limit: int, where: str) -> bytes:
    """Up to `limit` bytes of `path`, which must be a regular file (no link is followed, no FIFO blocks)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFileError(f"Refusing to load {where}: it is not a regular file (link rule).")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit)
    finally:
        os.close(fd)
