"""Reading CIFAR batches (Python pickles) straight out of the downloaded `.tar.gz`, without extracting it."""

from __future__ import annotations

import tarfile

import numpy as np

from gpukeras import backend
from gpukeras.datasets._safe_pickle import load_pickle


def read_batches(archive: str, members: list[str], label_key: str) -> list[tuple[np.ndarray, list[int]]]:
    """(images `(n, 3, 32, 32)` uint8, labels) for each named member of the archive, in the order given."""
    found: dict[str, tuple[np.ndarray, list[int]]] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for info in tar:
            if info.name in members and info.isfile():
                f = tar.extractfile(info)
                assert f is not None
                batch = {k.decode("utf8") if isinstance(k, bytes) else k: v
                         for k, v in load_pickle(f, encoding="bytes").items()}
                data = np.asarray(batch["data"], dtype=np.uint8)
                found[info.name] = (data.reshape(data.shape[0], 3, 32, 32), batch[label_key])
    missing = [m for m in members if m not in found]
    if missing:
        raise ValueError(f"{archive} lacks {missing}: not a CIFAR archive, or a corrupt one.")
    return [found[m] for m in members]


def channels_last(x: np.ndarray) -> np.ndarray:
    """NCHW -> NHWC unless the backend is configured channels_first."""
    fmt = getattr(backend, "image_data_format", None)
    if callable(fmt) and fmt() == "channels_first":
        return x
    return x.transpose(0, 2, 3, 1)
