"""NumPy twin of the Philox4x32-10 stream that draws dropout masks on the GPU (kernels/dropout.cu).

The CuPy backend uses it when the dropout kernel cannot run, so masks are the same either way;
the tests check the kernel against it and it against Random123's known answers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_PHILOX_M0, _PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
_PHILOX_W0, _PHILOX_W1 = 0x9E3779B9, 0xBB67AE85


def philox4x32_10(counters: np.ndarray, key: tuple[int, int]) -> np.ndarray:
    """Philox4x32-10 of uint32 counters shaped (n, 4) under a 2-word key; returns (n, 4) uint32."""
    c = [counters[:, j].astype(np.uint64) for j in range(4)]
    k0, k1 = np.uint64(key[0] & 0xFFFFFFFF), np.uint64(key[1] & 0xFFFFFFFF)
    mask = np.uint64(0xFFFFFFFF)
    m0, m1 = np.uint64(_PHILOX_M0), np.uint64(_PHILOX_M1)
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(_PHILOX_W0)) & mask
            k1 = (k1 + np.uint64(_PHILOX_W1)) & mask
        p0 = m0 * c[0]
        p1 = m1 * c[2]
        c = [((p1 >> np.uint64(32)) ^ c[1] ^ k0), p1 & mask, ((p0 >> np.uint64(32)) ^ c[3] ^ k1), p0 & mask]
    return np.stack(c, axis=1).astype(np.uint32)


def philox_dropout_mask(shape: tuple[int, ...], rate: float, seed: int, dtype: Any = "float32") -> np.ndarray:
    """NumPy twin of dropout.cu: scale where Philox's uniform >= rate, 0 elsewhere."""
    n = int(np.prod(shape, dtype=np.int64))
    quads = np.arange((n + 3) // 4, dtype=np.uint64)
    counters = np.zeros((quads.size, 4), dtype=np.uint32)
    counters[:, 0] = (quads & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    counters[:, 1] = (quads >> np.uint64(32)).astype(np.uint32)
    words = philox4x32_10(counters, (seed & 0xFFFFFFFF, seed >> 32)).reshape(-1)[:n]
    uniform = (words >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)
    keep = uniform >= np.float32(rate)
    scale = np.asarray(1.0 / (1.0 - rate), dtype=np.float32)
    return np.where(keep, scale, np.float32(0.0)).astype(dtype).reshape(shape)
