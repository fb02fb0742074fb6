"""Restricted unpickling for the data set files: only what rebuilds NumPy arrays is allowed.

IMDB and Reuters store ragged sequences as object arrays (a pickle stream inside the `.npy` members), and the
CIFAR batches are Python pickles. A tampered file could run code through pickle; this unpickler refuses every
global except the few NumPy ones that array reconstruction needs.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from typing import IO, Any

import numpy as np

_ALLOWED = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # how Python 3 writes bytes in protocol-2 pickles; only transcodes data
})


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that only resolves the NumPy globals needed to rebuild arrays."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"Refusing to deserialize `{module}.{name}` while loading a data set: the file "
                                     "may be corrupted or malicious.")


def load_pickle(f: IO[bytes], encoding: str = "ASCII") -> Any:
    """Unpickle with the restricted unpickler (use `encoding='bytes'` for Python 2 pickles)."""
    return RestrictedUnpickler(f, encoding=encoding).load()


def _read_npy(fp: IO[bytes]) -> np.ndarray:
    try:
        return np.lib.format.read_array(fp, allow_pickle=False)
    except ValueError:  # an object array: skip the header, then unpickle with restrictions
        fp.seek(0)
        version = np.lib.format.read_magic(fp)
        if version[0] == 1:
            np.lib.format.read_array_header_1_0(fp)
        elif version[0] in (2, 3):
            np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"Unsupported .npy format version {version}.") from None
        return load_pickle(fp)


def load_npz(path: str) -> dict[str, np.ndarray]:
    """Every array of an `.npz` file; object arrays go through the restricted unpickler."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as raw:
                    arrays[member[:-4]] = _read_npy(io.BytesIO(raw.read()))
    return arrays
