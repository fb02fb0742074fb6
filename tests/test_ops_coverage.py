"""keras.ops' numpy-style, math, nn and linalg ops against Keras 3's results on the same inputs.

Each case of tests/ops_coverage_cases.py was run on Keras 3.15 (JAX backend) by
tests/reference/record_keras3_ops.py; here the same call runs on gpukeras and must give the same values
(float32 to 2e-5 relative; linear algebra to 1e-4), dtypes and shapes. Gradients are checked separately,
by finite differences, in tests/test_ops_gradients.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ops_coverage_cases import CASES

from gpukeras import ops

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "keras3_ops.json").read_text())["cases"]
_LINALG = {"inv", "det", "logdet", "slogdet", "cholesky", "solve", "solve_triangular", "qr", "svd", "eigh", "pinv",
           "lstsq", "norm"}


def _host(parts: Any) -> list[Any]:
    parts = list(parts) if isinstance(parts, (tuple, list)) else [parts]
    return [p if isinstance(p, (int, float, bool)) else ops.convert_to_numpy(p) for p in parts]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_keras3(case: tuple) -> None:
    case_id, name, args, kwargs, compare = case
    want = FIXTURE[case_id]
    assert "error" not in want, f"{case_id}: Keras 3 refused this call: {want['error']}"
    out = getattr(ops, name)(*args, **kwargs)
    assert isinstance(out, (tuple, list)) == want["multiple"], f"{case_id}: one result vs several"
    got = _host(out)
    assert len(got) == len(want["values"]), f"{case_id}: {len(got)} results, Keras 3 gives {len(want['values'])}"
    tol = 1e-4 if name in _LINALG else 2e-5
    for i, (g, values, dtype) in enumerate(zip(got, want["values"], want["dtypes"])):
        if want["python"]:
            kind = type(g).__name__
            assert kind == want["python"][i], f"{case_id}: a {kind}, Keras 3 a {want['python'][i]}"
        g = np.asarray(g)
        if np.dtype(dtype).kind == "c":  # recorded as [real, imag] pairs
            pairs = np.asarray(values, dtype=np.float64)
            values = pairs[..., 0] + 1j * pairs[..., 1]
        w = np.asarray(values, dtype=dtype)
        assert g.shape == w.shape, f"{case_id}[{i}]: shape {g.shape}, Keras 3 {w.shape}"
        if not want["python"]:
            assert str(g.dtype) == dtype, f"{case_id}[{i}]: dtype {g.dtype}, Keras 3 {dtype}"
        if compare == "abs":
            g, w = np.abs(g), np.abs(w)
        if w.dtype.kind in "biuU":
            np.testing.assert_array_equal(g, w, err_msg=case_id)
        else:
            wide = np.complex128 if w.dtype.kind == "c" else np.float64
            np.testing.assert_allclose(g.astype(wide), w.astype(wide), rtol=tol, atol=tol, err_msg=case_id)


def test_every_case_was_recorded() -> None:
    assert sorted(FIXTURE) == sorted(c[0] for c in CASES), "re-run tests/reference/record_keras3_ops.py"


def _np_sparsemax(z: np.ndarray) -> np.ndarray:
    """The projection onto the simplex along the last axis, by its definition: max(z - tau, 0) summing to 1."""
    out = np.empty_like(z, dtype=np.float64)
    for row, values in zip(out.reshape(-1, z.shape[-1]), z.reshape(-1, z.shape[-1]).astype(np.float64)):
        ordered = np.sort(values)[::-1]
        k = max(j for j in range(1, len(values) + 1) if 1 + j * ordered[j - 1] > ordered[:j].sum())
        row[:] = np.maximum(values - (ordered[:k].sum() - 1) / k, 0.0)
    return out


@pytest.mark.parametrize("axis", [-1, 0])
def test_sparsemax_is_the_simplex_projection(axis: int) -> None:
    """Not compared with Keras 3.15: its sparsemax takes the threshold from a sum of running sums, so its rows
    do not sum to 1 (sparsemax([1, 2, 0.5, 2.2]) gives zeros on JAX and torch); this follows the definition."""
    z = np.random.default_rng(5).normal(size=(3, 5)).astype(np.float32) * 2
    got = ops.convert_to_numpy(ops.sparsemax(z, axis=axis))
    want = np.moveaxis(_np_sparsemax(np.moveaxis(z, axis, -1)), -1, axis)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=axis), 1.0, rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(ops.sparsemax(np.float32([1.0, 2.0, 0.5, 2.2]))),
                               [0.0, 0.4, 0.0, 0.6], atol=1e-6)


def test_svd_and_eig_reconstruct_their_matrix() -> None:
    a = np.random.default_rng(6).normal(size=(2, 4, 3)).astype(np.float32)
    u, s, vt = (ops.convert_to_numpy(t) for t in ops.svd(a, full_matrices=False))
    np.testing.assert_allclose(u @ (s[..., None] * vt), a, atol=1e-5)
    assert ops.svd(a)[0].shape == (2, 4, 4)  # full_matrices=True by default, as in Keras 3
    m = a[0, :3] + 3 * np.eye(3, dtype=np.float32)
    w, v = (ops.convert_to_numpy(t) for t in ops.eig(m))
    assert w.dtype == np.complex64 and v.dtype == np.complex64
    np.testing.assert_allclose(m @ v, v * w, atol=1e-5)


def test_new_ops_record_graph_nodes_on_symbolic_tensors() -> None:
    """numpy, math, nn and linalg ops called on KerasTensors build a functional model that computes them."""
    import gpukeras

    x = gpukeras.Input(shape=(4,))
    labels = gpukeras.Input(shape=(4,))
    y = ops.stack([ops.logsumexp(ops.cumsum(x, axis=1), axis=1), ops.norm(x, axis=1),
                   ops.categorical_crossentropy(labels, ops.softmax(x))], axis=1)
    model = gpukeras.Model([x, labels], y)
    xv = np.random.default_rng(7).normal(size=(3, 4)).astype(np.float32)
    lv = np.eye(4, dtype=np.float32)[[0, 2, 3]]
    want = np.stack([ops.convert_to_numpy(ops.logsumexp(np.cumsum(xv, axis=1), axis=1)),
                     np.linalg.norm(xv, axis=1),
                     ops.convert_to_numpy(ops.categorical_crossentropy(lv, ops.softmax(xv)))], axis=1)
    np.testing.assert_allclose(model.predict([xv, lv], verbose=0), want, rtol=1e-5, atol=1e-6)
    modules = {layer["module"] for layer in model.get_config()["layers"]}
    assert {"keras.src.ops.numpy", "keras.src.ops.math", "keras.src.ops.linalg", "keras.src.ops.nn"} <= modules


def test_custom_gradient_replaces_the_gradient() -> None:
    """The wrapped function's value is f's output; its gradient is grad_fn's, not the true one."""
    import gpukeras

    @ops.custom_gradient
    def clipped_identity(x):
        return x * 1.0, lambda upstream: ops.clip(upstream, -0.5, 0.5)

    v = gpukeras.Variable(np.float32([1.0, -2.0, 3.0]))
    with gpukeras.GradientTape() as tape:
        y = clipped_identity(v)
        loss = ops.sum(y * np.float32([2.0, -0.1, 0.3]))
    np.testing.assert_allclose(ops.convert_to_numpy(y), [1.0, -2.0, 3.0])
    np.testing.assert_allclose(ops.convert_to_numpy(tape.gradient(loss, v)), [0.5, -0.1, 0.3])


def test_vectorize_maps_over_the_loop_axes() -> None:
    """ops.vectorize as np.vectorize: elementwise by default, core axes from a signature, excluded arguments."""
    a, b = np.float32([1.0, 2.0]), np.float32(3.0)
    np.testing.assert_allclose(ops.convert_to_numpy(ops.vectorize(lambda u, v: u + v)(a, b)), [4.0, 5.0])
    rows = np.random.default_rng(8).normal(size=(4, 2, 3)).astype(np.float32)
    vec = np.float32([1.0, -2.0, 0.5])
    matvec = ops.vectorize(lambda m, v: ops.matmul(m, v), signature="(n,m),(m)->(n)")
    np.testing.assert_allclose(ops.convert_to_numpy(matvec(rows, vec)), rows @ vec, rtol=1e-6)
    total = ops.vectorize(lambda r: ops.sum(r), signature="(n)->()")
    np.testing.assert_allclose(ops.convert_to_numpy(total(rows)), rows.sum(-1), rtol=1e-6)
    scaled = ops.vectorize(lambda u, k: u * k, excluded={1})
    np.testing.assert_allclose(ops.convert_to_numpy(scaled(a, 10.0)), [10.0, 20.0])


def test_complex_parts() -> None:
    z = np.complex64([1 + 2j, -1 - 1j, 3])
    for name in ("real", "imag", "angle"):
        got = ops.convert_to_numpy(getattr(ops, name)(z))
        assert got.dtype == np.float32, name
        np.testing.assert_allclose(got, getattr(np, name)(z), rtol=1e-6, err_msg=name)
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.conj(z)), np.conj(z))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.isreal(z)), [False, False, True])
