"""Download-once cache for the data sets: files live under `$GPUKERAS_HOME/datasets/`, checked by hash.

`GPUKERAS_HOME` defaults to `~/.gpukeras` (or a `.gpukeras` folder in the temporary directory when the home
folder is not writable). A file already in the cache with the right SHA-256 is used as is, never downloaded
again; a file with the wrong hash (truncated or corrupt) is downloaded again. A good copy in Keras's own
cache (`$KERAS_HOME/datasets` or `~/.keras/datasets`) is used too. Without network access the error names the
URL and the exact path where a copy of the file can be placed by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from typing import Any

__all__ = ["DownloadError", "cache_dir", "get_file", "gpukeras_home", "hash_file", "validate_file"]

_CHUNK = 1 << 20


class DownloadError(OSError):
    """A data set file could not be downloaded (no network, bad server answer, or wrong hash)."""


def gpukeras_home() -> str:
    """The gpukeras folder: `$GPUKERAS_HOME`, else `~/.gpukeras`."""
    home = os.environ.get("GPUKERAS_HOME")
    if home:
        return os.path.abspath(os.path.expanduser(home))
    return os.path.join(os.path.expanduser("~"), ".gpukeras")


def cache_dir(cache_subdir: str = "datasets") -> str:
    """The folder for cached files (created if needed; a temporary-directory fallback if not writable)."""
    folder = os.path.join(gpukeras_home(), cache_subdir)
    try:
        os.makedirs(folder, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    folder = os.path.join(tempfile.gettempdir(), ".gpukeras", cache_subdir)
    os.makedirs(folder, exist_ok=True)
    return folder


def _hasher(expected: str | None, algorithm: str = "auto") -> Any:
    if algorithm == "auto":
        algorithm = "md5" if expected is not None and len(expected) == 32 else "sha256"
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"Unknown hash algorithm {algorithm!r}: use 'sha256', 'md5' or 'auto'.")
    return hashlib.new(algorithm)


def hash_file(path: str, algorithm: str = "sha256") -> str:
    """Hex digest of a file (`sha256` or `md5`), read in chunks."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(path: str, expected: str, algorithm: str = "auto") -> bool:
    """True when the file's digest equals `expected` (SHA-256, or MD5 for a 32-character hash with 'auto')."""
    hasher = _hasher(expected, algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest() == expected.lower()


def _download(url: str, destination: str) -> None:
    """Stream `url` into the file `destination` (a temporary path; the caller verifies and renames it)."""
    print(f"Downloading data from {url}", file=sys.stderr, flush=True)
    with urllib.request.urlopen(url, timeout=60) as response, open(destination, "wb") as out:
        shutil.copyfileobj(response, out, _CHUNK)


def _keras_cache_path(fname: str, cache_subdir: str) -> str:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, cache_subdir, fname)


def get_file(fname: str, origin: str, file_hash: str | None = None, cache_subdir: str = "datasets") -> str:
    """Path of `fname` in the cache, downloading it from `origin` unless a copy with `file_hash` is there.

    Raises:
        DownloadError: The file is not cached and cannot be downloaded, or the download has the wrong hash.
            The message names `origin` and the path where the file can be placed by hand.
    """
    folder = cache_dir(cache_subdir)
    path = os.path.join(folder, fname)
    if os.path.exists(path):
        if file_hash is None or validate_file(path, file_hash):
            return path
        print(f"The cached file {path} does not match its expected hash (incomplete or corrupt download); "
              "downloading it again.", file=sys.stderr, flush=True)
        os.remove(path)
    if file_hash is not None:
        keras_copy = _keras_cache_path(fname, cache_subdir)
        if os.path.isfile(keras_copy) and validate_file(keras_copy, file_hash):
            return keras_copy
    hint = (f"Without network access, download {origin} on another machine and place the file at {path} "
            "(gpukeras checks its hash and will not download it again).")
    fd, tmp = tempfile.mkstemp(prefix=f".{fname}.", suffix=".part", dir=folder)
    os.close(fd)
    try:
        try:
            _download(origin, tmp)
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            raise DownloadError(f"Could not download {fname} from {origin}: {reason}. {hint}") from error
        if file_hash is not None and not validate_file(tmp, file_hash):
            algorithm = "md5" if len(file_hash) == 32 else "sha256"
            raise DownloadError(f"The file downloaded from {origin} has {algorithm} {hash_file(tmp, algorithm)}, "
                                f"expected {file_hash}: the download is incomplete or corrupt. {hint}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
