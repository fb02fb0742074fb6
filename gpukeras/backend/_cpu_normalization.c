/* CPU kernels for batch normalization over channels_last data (twins: backend/fused/normalization.py).
 * Same contract as _cpu_kernels.c: float32 arithmetic in the twin's order, GIL released.
 *
 * x is (rows, channels) (every axis but the last reduced). NumPy reduces such an array row after row into one
 * accumulator per channel; these loops do the same, so the statistics and gradients are the twin's bits, in
 * three passes forward and two backward where the twin makes about ten. */
#include "_cpu_common.h"

/* Optional (channels,) parameter: NULL for None. */
static int get_param(PyObject *obj, Buf *b, int writable, const char *name, Py_ssize_t channels) {
    if (obj == Py_None) {
        return 0;
    }
    if (get_f32(obj, b, writable, name)) {
        return -1;
    }
    if (b->view.len != channels * 4) {
        PyErr_Format(PyExc_ValueError, "%s must hold one value per channel", name);
        return -1;
    }
    return 0;
}

static inline float *param(Buf *b) {
    return b->held ? (float *)b->view.buf : NULL;
}

VECTOR_CLONES
static void column_sums(const float *restrict x, float *restrict sum, Py_ssize_t rows, Py_ssize_t c) {
    for (Py_ssize_t k = 0; k < c; k++) {
        sum[k] = 0.0f;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        for (Py_ssize_t k = 0; k < c; k++) {
            sum[k] += xr[k];
        }
    }
}

VECTOR_CLONES
static void centered_square_sums(const float *restrict x, const float *restrict mean, float *restrict sum,
                                 Py_ssize_t rows, Py_ssize_t c) {
    for (Py_ssize_t k = 0; k < c; k++) {
        sum[k] = 0.0f;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        for (Py_ssize_t k = 0; k < c; k++) {
            float d = xr[k] - mean[k];
            sum[k] += d * d;
        }
    }
}

/* xhat = (x - mean) * inv; y = xhat * gamma + beta (each step rounded, as the twin's separate ufuncs). */
VECTOR_CLONES
static void normalize_rows(const float *restrict x, const float *restrict mean, const float *restrict inv,
                           const float *restrict gamma, const float *restrict beta, float *restrict xhat,
                           float *restrict y, Py_ssize_t rows, Py_ssize_t c) {
    for (Py_ssize_t r = 0; r < rows; r++) {
        const float *xr = x + r * c;
        float *hr = xhat + r * c, *yr = y + r * c;
        for (Py_ssize_t k = 0; k < c; k++) {
            float h = (xr[k] - mean[k]) * inv[k];
            float v = gamma != NULL ? h * gamma[k] : h;
            hr[k] = h;
            yr[k] = beta != NULL ? v + beta[k] : v;
        }
    }
}

/* batch_norm_fwd(x, gamma, beta, y, xhat, mean, var, inv, epsilon): statistics over the rows of x (rows, C);
 * gamma/beta may be None; the outputs are written. */
static PyObject *batch_norm_fwd(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ox, *og, *ob, *oy, *oh, *om, *ov, *oi;
    float eps;
    if (!PyArg_ParseTuple(args, "OOOOOOOOf", &ox, &og, &ob, &oy, &oh, &om, &ov, &oi, &eps)) {
        return NULL;
    }
    Buf bufs[8];
    memset(bufs, 0, sizeof bufs);
    if (get_f32(om, &bufs[0], 1, "mean") || get_f32(ov, &bufs[1], 1, "var") || get_f32(oi, &bufs[2], 1, "inv") ||
        same_len(bufs, 3) || get_f32(ox, &bufs[3], 0, "x") || get_f32(oy, &bufs[4], 1, "y") ||
        get_f32(oh, &bufs[5], 1, "xhat") || same_len(bufs + 3, 3)) {
        release(bufs, 8);
        return NULL;
    }
    Py_ssize_t c = bufs[0].view.len / 4, size = bufs[3].view.len / 4;
    if (c == 0 || size % c != 0 || get_param(og, &bufs[6], 0, "gamma", c) || get_param(ob, &bufs[7], 0, "beta", c)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "batch_norm_fwd: x must be (rows, len(mean))");
        }
        release(bufs, 8);
        return NULL;
    }
    float *mean = bufs[0].view.buf, *var = bufs[1].view.buf, *inv = bufs[2].view.buf;
    const float *x = bufs[3].view.buf;
    Py_ssize_t rows = size / c;
    Py_BEGIN_ALLOW_THREADS
    column_sums(x, mean, rows, c);
    float count = (float)rows;
    for (Py_ssize_t k = 0; k < c; k++) {
        mean[k] /= count;
    }
    centered_square_sums(x, mean, var, rows, c);
    for (Py_ssize_t k = 0; k < c; k++) {
        var[k] /= count;
        inv[k] = 1.0f / sqrtf(var[k] + eps);
    }
    normalize_rows(x, mean, inv, param(&bufs[6]), param(&bufs[7]), bufs[5].view.buf, bufs[4].view.buf, rows, c);
    Py_END_ALLOW_THREADS
    release(bufs, 8);
    Py_RETURN_NONE;
}

/* The backward's sums over the rows: dbeta = sum dy, dgamma = sum dy*xhat, and with dxhat = dy*gamma the sums
 * of dxhat and dxhat*xhat. */
VECTOR_CLONES
static void backward_sums(const float *restrict dy, const float *restrict xhat, const float *restrict gamma,
                          float *restrict sums, Py_ssize_t rows, Py_ssize_t c) {
    float *dbeta = sums, *dgamma = sums + c, *s1 = sums + 2 * c, *s2 = sums + 3 * c;
    for (Py_ssize_t k = 0; k < 4 * c; k++) {
        sums[k] = 0.0f;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        const float *dr = dy + r * c, *hr = xhat + r * c;
        for (Py_ssize_t k = 0; k < c; k++) {
            float d = dr[k], h = hr[k];
            float dxh = gamma != NULL ? d * gamma[k] : d;
            dbeta[k] += d;
            dgamma[k] += d * h;
            s1[k] += dxh;
            s2[k] += dxh * h;
        }
    }
}

/* dx = ((dxhat - m1) - xhat * m2) * inv. */
VECTOR_CLONES
static void backward_rows(const float *restrict dy, const float *restrict xhat, const float *restrict gamma,
                          const float *restrict m1, const float *restrict m2, const float *restrict inv,
                          float *restrict dx, Py_ssize_t rows, Py_ssize_t c) {
    for (Py_ssize_t r = 0; r < rows; r++) {
        const float *dr = dy + r * c, *hr = xhat + r * c;
        float *out = dx + r * c;
        for (Py_ssize_t k = 0; k < c; k++) {
            float dxh = gamma != NULL ? dr[k] * gamma[k] : dr[k];
            out[k] = ((dxh - m1[k]) - hr[k] * m2[k]) * inv[k];
        }
    }
}

/* batch_norm_bwd(dy, xhat, inv, gamma, dx, dgamma, dbeta): dx (rows, C) written; dgamma/dbeta (None to skip)
 * the column sums of dy*xhat and dy. */
static PyObject *batch_norm_bwd(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ody, *oh, *oi, *og, *odx, *odg, *odb;
    if (!PyArg_ParseTuple(args, "OOOOOOO", &ody, &oh, &oi, &og, &odx, &odg, &odb)) {
        return NULL;
    }
    Buf bufs[7];
    memset(bufs, 0, sizeof bufs);
    if (get_f32(ody, &bufs[0], 0, "dy") || get_f32(oh, &bufs[1], 0, "xhat") || get_f32(odx, &bufs[2], 1, "dx") ||
        same_len(bufs, 3) || get_f32(oi, &bufs[3], 0, "inv")) {
        release(bufs, 7);
        return NULL;
    }
    Py_ssize_t c = bufs[3].view.len / 4, size = bufs[0].view.len / 4;
    if (c == 0 || size % c != 0 || get_param(og, &bufs[4], 0, "gamma", c) || get_param(odg, &bufs[5], 1, "dgamma", c) ||
        get_param(odb, &bufs[6], 1, "dbeta", c)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "batch_norm_bwd: dy must be (rows, len(inv))");
        }
        release(bufs, 7);
        return NULL;
    }
    float *sums = malloc((size_t)c * 6 * sizeof(float)); /* dbeta, dgamma, s1, s2, then the means m1, m2 */
    if (sums == NULL) {
        release(bufs, 7);
        return PyErr_NoMemory();
    }
    const float *gamma = param(&bufs[4]);
    float *dgamma = param(&bufs[5]), *dbeta = param(&bufs[6]);
    Py_ssize_t rows = size / c;
    Py_BEGIN_ALLOW_THREADS
    backward_sums(bufs[0].view.buf, bufs[1].view.buf, gamma, sums, rows, c);
    float count = (float)rows;
    for (Py_ssize_t k = 0; k < c; k++) {
        sums[4 * c + k] = sums[2 * c + k] / count;
        sums[5 * c + k] = sums[3 * c + k] / count;
    }
    if (dbeta != NULL) {
        memcpy(dbeta, sums, (size_t)c * sizeof(float));
    }
    if (dgamma != NULL) {
        memcpy(dgamma, sums + c, (size_t)c * sizeof(float));
    }
    backward_rows(bufs[0].view.buf, bufs[1].view.buf, gamma, sums + 4 * c, sums + 5 * c, bufs[3].view.buf,
                  bufs[2].view.buf, rows, c);
    Py_END_ALLOW_THREADS
    free(sums);
    release(bufs, 7);
    Py_RETURN_NONE;
}

PyMethodDef gk_normalization_methods[] = {
    {"batch_norm_fwd", batch_norm_fwd, METH_VARARGS, "Batch statistics, xhat and y over (rows, C) float32."},
    {"batch_norm_bwd", batch_norm_bwd, METH_VARARGS, "dx, dgamma, dbeta of batch_norm_fwd over (rows, C)."},
    {NULL, NULL, 0, NULL},
};
