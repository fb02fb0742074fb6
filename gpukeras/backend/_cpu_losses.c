/* CPU kernels for losses computed from probabilities (twins in backend/fused/losses.py).
 * Same contract as _cpu_kernels.c: float32 arithmetic in the twin's order (a row's total summed as
 * NumPy sums, signed zeros as its reductions leave them), GIL released, so the results are the
 * twin's bits. The log stays NumPy's: the forward hands back each row's clipped probability and the
 * caller takes -log of it. A row whose total is not a finite non-zero number (NaN, inf, an all-zero
 * row) makes both functions return False before writing, and the caller runs the generic code. */
#include "_cpu_common.h"

/* probs (rows, classes) float32, labels (rows,) int64, out (rows,) or (rows, classes) float32. */
static int xent_args(PyObject *op, PyObject *ol, PyObject *oo, Buf *bufs, Py_ssize_t rows_from_out) {
    if (get_f32(op, &bufs[0], 0, "probs") || get_f32(oo, &bufs[2], 1, "out")) {
        return -1;
    }
    if (PyObject_GetBuffer(ol, &bufs[1].view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        return -1;
    }
    bufs[1].held = 1;
    Py_ssize_t rows = bufs[1].view.len / 8;
    if (bufs[1].view.itemsize != 8 || rows == 0 || bufs[0].view.len % (rows * 4) != 0 ||
        (rows_from_out && bufs[2].view.len != rows * 4) || (!rows_from_out && bufs[2].view.len != bufs[0].view.len)) {
        PyErr_SetString(PyExc_ValueError, "cross-entropy from probabilities: (rows, classes) float32 probabilities, "
                                          "int64 labels (rows,), float32 output of the matching size");
        return -1;
    }
    return 0;
}

/* NumPy's float32 pairwise sum (8 accumulators up to 128 elements, halves above), so a row's total has
 * the bits np.sum(..., axis=-1) gives. */
static float pairwise_sum(const float *a, Py_ssize_t n) {
    if (n < 8) {
        float res = 0.0f;
        for (Py_ssize_t i = 0; i < n; i++) {
            res += a[i];
        }
        return res;
    }
    if (n <= 128) {
        float r[8];
        Py_ssize_t i;
        for (int j = 0; j < 8; j++) {
            r[j] = a[j];
        }
        for (i = 8; i < n - (n % 8); i += 8) {
            for (int j = 0; j < 8; j++) {
                r[j] += a[i + j];
            }
        }
        float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) {
            res += a[i];
        }
        return res;
    }
    Py_ssize_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

static float row_total(const float *p, Py_ssize_t cols) {
    return 0.0f + pairwise_sum(p, cols);
}

static float clip(float v, float lo, float hi) {
    v = v > lo ? v : lo;  /* np.clip = minimum(maximum(v, lo), hi) */
    return v < hi ? v : hi;
}

static int rows_finite(const float *p, Py_ssize_t rows, Py_ssize_t cols) {
    for (Py_ssize_t r = 0; r < rows; r++) {
        float total = row_total(p + r * cols, cols);
        if (!isfinite(total) || total == 0.0f) {
            return 0;
        }
    }
    return 1;
}

/* sparse_xent_probs(probs, labels, out, eps, one_minus_eps): out = clip(p[label] / total), 1 for a label
 * outside [0, classes) (so -log gives the -0 of Keras's one-hot sum). False: a row is not finite. */
static PyObject *sparse_xent_probs(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *op, *ol, *oo;
    float lo, hi;
    if (!PyArg_ParseTuple(args, "OOOff", &op, &ol, &oo, &lo, &hi)) {
        return NULL;
    }
    Buf bufs[3];
    memset(bufs, 0, sizeof bufs);
    if (xent_args(op, ol, oo, bufs, 1)) {
        release(bufs, 3);
        return NULL;
    }
    Py_ssize_t rows = bufs[1].view.len / 8, cols = bufs[0].view.len / (rows * 4);
    const float *p = bufs[0].view.buf;
    const long long *labels = bufs[1].view.buf;
    float *out = bufs[2].view.buf;
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = rows_finite(p, rows, cols);
    for (Py_ssize_t r = 0; ok && r < rows; r++) {
        const float *pr = p + r * cols;
        long long k = labels[r];
        out[r] = (k < 0 || k >= cols) ? 1.0f : clip(pr[k] / row_total(pr, cols), lo, hi);
    }
    Py_END_ALLOW_THREADS
    release(bufs, 3);
    return PyBool_FromLong(ok);
}

/* sparse_xent_probs_grad(probs, labels, dloss, grad, eps, one_minus_eps): the gradient for the
 * probabilities (False, nothing written: a row is not finite). Only the label's term is non-zero before
 * the normalisation's backward:
 * ga = -dloss / clipped / total at the label (0 where the clip cut it), then every class gets
 * -(ga * p_label), the label ga on top. */
static PyObject *sparse_xent_probs_grad(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *op, *ol, *od, *og;
    float lo, hi;
    if (!PyArg_ParseTuple(args, "OOOOff", &op, &ol, &od, &og, &lo, &hi)) {
        return NULL;
    }
    Buf bufs[4];
    memset(bufs, 0, sizeof bufs);
    if (xent_args(op, ol, og, bufs, 0) || get_f32(od, &bufs[3], 0, "dloss")) {
        release(bufs, 4);
        return NULL;
    }
    Py_ssize_t rows = bufs[1].view.len / 8, cols = bufs[0].view.len / (rows * 4);
    if (bufs[3].view.len != rows * 4) {
        PyErr_SetString(PyExc_ValueError, "cross-entropy gradient: dloss must have one value per row");
        release(bufs, 4);
        return NULL;
    }
    const float *p = bufs[0].view.buf, *d = bufs[3].view.buf;
    const long long *labels = bufs[1].view.buf;
    float *g = bufs[2].view.buf;
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = rows_finite(p, rows, cols);
    for (Py_ssize_t r = 0; ok && r < rows; r++) {
        const float *pr = p + r * cols;
        float *gr = g + r * cols;
        long long k = labels[r];
        float total = row_total(pr, cols), ga = 0.0f, gb = 0.0f;
        if (k >= 0 && k < cols) {
            float pk = pr[k] / total, clipped = clip(pk, lo, hi);
            ga = clipped == pk ? (-d[r] / clipped) / total : 0.0f;
            gb = 0.0f + -(ga * pk);  /* the twin's sum over classes: +0 plus one non-zero term */
        }
        for (Py_ssize_t c = 0; c < cols; c++) {
            gr[c] = c == k ? ga + gb : gb;
        }
    }
    Py_END_ALLOW_THREADS
    release(bufs, 4);
    return PyBool_FromLong(ok);
}

PyMethodDef gk_losses_methods[] = {
    {"sparse_xent_probs", sparse_xent_probs, METH_VARARGS, "Sparse cross-entropy from probabilities (float32)."},
    {"sparse_xent_probs_grad", sparse_xent_probs_grad, METH_VARARGS, "Its gradient for the probabilities."},
    {NULL, NULL, 0, NULL},
};
