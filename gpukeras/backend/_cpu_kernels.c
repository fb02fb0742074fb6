/* Fused CPU kernels for the NumPy backend: one pass over memory where NumPy needs many.
 *
 * Each function mirrors a NumPy twin in numpy_backend.py / base.py operation by operation
 * (float32 arithmetic, same order, no fused multiply-add: built with -ffp-contract=off), so
 * results equal the twin's bit for bit. Buffers come through the buffer protocol (float32,
 * C-contiguous); loops run with the GIL released, so callers may split work across threads.
 */
#include "_cpu_common.h"

/* Decoupled weight decay (Keras's order: w - (w * decay) * decay_lr) where `decay` is non-zero. The
 * loops test it once, outside: each variant stays branch-free and vectorizes. */
#define DECAYED(w, decay, decay_lr) ((w) - ((w) * (decay)) * (decay_lr))

#define ADAM_LOOP(WI)                                                                       \
    for (Py_ssize_t i = 0; i < size; i++) {                                                 \
        float gi = g[i];                                                                    \
        float wi = WI;                                                                      \
        float mi = m[i] + (gi - m[i]) * c1;                                                 \
        float vi = v[i] + (gi * gi - v[i]) * c2;                                            \
        m[i] = mi;                                                                          \
        v[i] = vi;                                                                          \
        w[i] = wi - (mi * alpha) / (sqrtf(vi) + eps);                                       \
    }

VECTOR_CLONES
static void adam_loop(float *restrict w, const float *restrict g, float *restrict m, float *restrict v,
                      Py_ssize_t size, float decay, float decay_lr, float alpha, float c1, float c2, float eps) {
    if (decay != 0.0f) {
        ADAM_LOOP(DECAYED(w[i], decay, decay_lr))
    } else {
        ADAM_LOOP(w[i])
    }
}

#define AMSGRAD_LOOP(WI)                                                                    \
    for (Py_ssize_t i = 0; i < size; i++) {                                                 \
        float gi = g[i];                                                                    \
        float wi = WI;                                                                      \
        float mi = m[i] + (gi - m[i]) * c1;                                                 \
        float vi = v[i] + (gi * gi - v[i]) * c2;                                            \
        float hi = vhat[i] > vi ? vhat[i] : vi;                                             \
        m[i] = mi;                                                                          \
        v[i] = vi;                                                                          \
        vhat[i] = hi;                                                                       \
        w[i] = wi - (mi * alpha) / (sqrtf(hi) + eps);                                       \
    }

VECTOR_CLONES
static void amsgrad_loop(float *restrict w, const float *restrict g, float *restrict m, float *restrict v,
                         float *restrict vhat, Py_ssize_t size, float decay, float decay_lr, float alpha, float c1,
                         float c2, float eps) {
    if (decay != 0.0f) {
        AMSGRAD_LOOP(DECAYED(w[i], decay, decay_lr))
    } else {
        AMSGRAD_LOOP(w[i])
    }
}

#define SGD_LOOP(WI, UPDATE)                                                                \
    for (Py_ssize_t i = 0; i < size; i++) {                                                 \
        float wi = WI;                                                                      \
        UPDATE                                                                              \
    }
#define SGD_PLAIN w[i] = wi - lr * g[i];
#define SGD_MOMENTUM                                                                        \
    float mi = m[i] * mom - lr * g[i];                                                      \
    m[i] = mi;                                                                              \
    w[i] = wi + mi;
#define SGD_NESTEROV                                                                        \
    float step = lr * g[i];                                                                 \
    float mi = m[i] * mom - step;                                                           \
    m[i] = mi;                                                                              \
    w[i] = wi + (mom * mi - step);

VECTOR_CLONES
static void sgd_loop(float *restrict w, const float *restrict g, float *restrict m, Py_ssize_t size, float decay,
                     float decay_lr, float lr, float mom, int use_momentum, int nesterov) {
    if (decay != 0.0f) {
        if (!use_momentum) {
            SGD_LOOP(DECAYED(w[i], decay, decay_lr), SGD_PLAIN)
        } else if (nesterov) {
            SGD_LOOP(DECAYED(w[i], decay, decay_lr), SGD_NESTEROV)
        } else {
            SGD_LOOP(DECAYED(w[i], decay, decay_lr), SGD_MOMENTUM)
        }
    } else if (!use_momentum) {
        SGD_LOOP(w[i], SGD_PLAIN)
    } else if (nesterov) {
        SGD_LOOP(w[i], SGD_NESTEROV)
    } else {
        SGD_LOOP(w[i], SGD_MOMENTUM)
    }
}

VECTOR_CLONES
static void bias_relu_loop(float *restrict z, const float *restrict b, float *restrict y, Py_ssize_t size,
                           Py_ssize_t cols) {
    for (Py_ssize_t r = 0; r < size; r += cols) {
        for (Py_ssize_t c = 0; c < cols; c++) {
            float zi = z[r + c] + b[c];
            z[r + c] = zi;
            y[r + c] = zi < 0.0f ? 0.0f : zi; /* NaN passes through, as np.maximum does */
        }
    }
}

VECTOR_CLONES
static void relu_grad_bias_loop(const float *restrict dy, const float *restrict z, float *restrict dz,
                                float *restrict db, Py_ssize_t size, Py_ssize_t cols) {
    for (Py_ssize_t c = 0; c < cols; c++) {
        db[c] = 0.0f;
    }
    for (Py_ssize_t r = 0; r < size; r += cols) {
        const float *dyr = dy + r, *zr = z + r;
        float *dzr = dz + r;
        for (Py_ssize_t c = 0; c < cols; c++) {
            /* The mask as a float select, not `(float)(z > 0)`: GCC turned that into a branch per element
             * (unvectorized, mispredicted on half the rows: 1.3 ms for 256x1024). NaN/Inf in dy propagate
             * as in NumPy (dy * 0). */
            float mask = zr[c] > 0.0f ? 1.0f : 0.0f;
            float d = dyr[c] * mask;
            dzr[c] = d;
            db[c] += d;
        }
    }
}

/* adam(w, g, m, v, vhat, decay, decay_lr, alpha, one_minus_beta_1, one_minus_beta_2, epsilon, amsgrad)
 * in place, the scalars as kernels/optimizers.cu's gk_adam_multi takes them (vhat: None unless amsgrad):
 *   [w -= (w * decay) * decay_lr];  m += (g - m) * c1;  v += (g*g - v) * c2;  [vhat = max(vhat, v)]
 *   w -= (m * alpha) / (sqrt(v or vhat) + eps)                                                     */
static PyObject *adam(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ow, *og, *om, *ov, *ovhat;
    float decay, decay_lr, alpha, c1, c2, eps;
    int amsgrad;
    if (!PyArg_ParseTuple(args, "OOOOOffffffi", &ow, &og, &om, &ov, &ovhat, &decay, &decay_lr, &alpha, &c1, &c2,
                          &eps, &amsgrad)) {
        return NULL;
    }
    if (amsgrad != (ovhat != Py_None)) {
        PyErr_SetString(PyExc_ValueError, "adam: vhat must be given exactly when amsgrad is set");
        return NULL;
    }
    Buf bufs[5];
    memset(bufs, 0, sizeof bufs);
    int n = amsgrad ? 5 : 4;
    if (get_f32(ow, &bufs[0], 1, "w") || get_f32(og, &bufs[1], 0, "g") || get_f32(om, &bufs[2], 1, "m") ||
        get_f32(ov, &bufs[3], 1, "v") || (n == 5 && get_f32(ovhat, &bufs[4], 1, "vhat")) || same_len(bufs, n)) {
        release(bufs, 5);
        return NULL;
    }
    float *w = bufs[0].view.buf, *m = bufs[2].view.buf, *v = bufs[3].view.buf;
    const float *g = bufs[1].view.buf;
    float *vhat = n == 5 ? bufs[4].view.buf : NULL;
    Py_ssize_t size = bufs[0].view.len / 4;
    Py_BEGIN_ALLOW_THREADS
    if (vhat == NULL) {
        adam_loop(w, g, m, v, size, decay, decay_lr, alpha, c1, c2, eps);
    } else {
        amsgrad_loop(w, g, m, v, vhat, size, decay, decay_lr, alpha, c1, c2, eps);
    }
    Py_END_ALLOW_THREADS
    release(bufs, 5);
    Py_RETURN_NONE;
}

/* sgd(w, g, m, decay, decay_lr, lr, momentum, use_momentum, nesterov) in place, as gk_sgd_multi takes them
 * (m: None without momentum): [w -= (w * decay) * decay_lr]; then w -= lr*g, or with momentum
 * m = m*momentum - lr*g; w += m (nesterov: w += momentum*m - lr*g).                                 */
static PyObject *sgd(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ow, *og, *om;
    float decay, decay_lr, lr, mom;
    int use_momentum, nesterov;
    if (!PyArg_ParseTuple(args, "OOOffffii", &ow, &og, &om, &decay, &decay_lr, &lr, &mom, &use_momentum,
                          &nesterov)) {
        return NULL;
    }
    if (use_momentum && om == Py_None) {
        PyErr_SetString(PyExc_ValueError, "sgd: the momentum buffer m is required with momentum");
        return NULL;
    }
    Buf bufs[3];
    memset(bufs, 0, sizeof bufs);
    int n = use_momentum ? 3 : 2;
    if (get_f32(ow, &bufs[0], 1, "w") || get_f32(og, &bufs[1], 0, "g") ||
        (n == 3 && get_f32(om, &bufs[2], 1, "m")) || same_len(bufs, n)) {
        release(bufs, 3);
        return NULL;
    }
    Py_ssize_t size = bufs[0].view.len / 4;
    float *m = n == 3 ? bufs[2].view.buf : NULL;
    Py_BEGIN_ALLOW_THREADS
    sgd_loop(bufs[0].view.buf, bufs[1].view.buf, m, size, decay, decay_lr, lr, mom, use_momentum, nesterov);
    Py_END_ALLOW_THREADS
    release(bufs, 3);
    Py_RETURN_NONE;
}

/* bias_relu(z, bias, y): z += bias (row-broadcast, in place); y = max(z, 0). One pass. */
static PyObject *bias_relu(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *oz, *ob, *oy;
    if (!PyArg_ParseTuple(args, "OOO", &oz, &ob, &oy)) {
        return NULL;
    }
    Buf bufs[3];
    memset(bufs, 0, sizeof bufs);
    if (get_f32(oz, &bufs[0], 1, "z") || get_f32(ob, &bufs[1], 0, "bias") || get_f32(oy, &bufs[2], 1, "y")) {
        release(bufs, 3);
        return NULL;
    }
    Py_ssize_t cols = bufs[1].view.len / 4, size = bufs[0].view.len / 4;
    if (cols == 0 || size % cols != 0 || bufs[2].view.len != bufs[0].view.len) {
        PyErr_SetString(PyExc_ValueError, "bias_relu: z and y must be (rows, len(bias)) arrays");
        release(bufs, 3);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    bias_relu_loop(bufs[0].view.buf, bufs[1].view.buf, bufs[2].view.buf, size, cols);
    Py_END_ALLOW_THREADS
    release(bufs, 3);
    Py_RETURN_NONE;
}

/* relu_grad_bias(dy, z, dz, db): dz = dy where z > 0 else 0; db = column sums of dz, rows added in order. */
static PyObject *relu_grad_bias(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ody, *oz, *odz, *odb;
    if (!PyArg_ParseTuple(args, "OOOO", &ody, &oz, &odz, &odb)) {
        return NULL;
    }
    Buf bufs[4];
    memset(bufs, 0, sizeof bufs);
    if (get_f32(ody, &bufs[0], 0, "dy") || get_f32(oz, &bufs[1], 0, "z") || get_f32(odz, &bufs[2], 1, "dz") ||
        get_f32(odb, &bufs[3], 1, "db") || same_len(bufs, 3)) {
        release(bufs, 4);
        return NULL;
    }
    Py_ssize_t cols = bufs[3].view.len / 4, size = bufs[0].view.len / 4;
    if (cols == 0 || size % cols != 0) {
        PyErr_SetString(PyExc_ValueError, "relu_grad_bias: dy must be (rows, len(db))");
        release(bufs, 4);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    relu_grad_bias_loop(bufs[0].view.buf, bufs[1].view.buf, bufs[2].view.buf, bufs[3].view.buf, size, cols);
    Py_END_ALLOW_THREADS
    release(bufs, 4);
    Py_RETURN_NONE;
}

/* Labels (rows,) int64 into bufs[1]; bufs[0] (rows, classes) and bufs[3] (same size) are checked too. */
static int get_labels(PyObject *ol, Buf *bufs, Py_ssize_t rows) {
    if (PyObject_GetBuffer(ol, &bufs[1].view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        return -1;
    }
    bufs[1].held = 1;
    if (bufs[1].view.itemsize != 8 || bufs[1].view.len / 8 != rows || rows == 0 ||
        bufs[0].view.len % (rows * 4) != 0 || bufs[3].view.len != bufs[0].view.len) {
        PyErr_SetString(PyExc_ValueError, "softmax cross-entropy: (rows, classes) float32 and int64 labels (rows,)");
        return -1;
    }
    return 0;
}

/* sparse_softmax_xent(logits, labels, loss, probs): per row, probs = softmax(logits) and
 * loss = log(sum(exp(logits - max))) - (logits[label] - max). labels: C-contiguous int64. */
static PyObject *sparse_softmax_xent(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *oz, *ol, *oloss, *op;
    if (!PyArg_ParseTuple(args, "OOOO", &oz, &ol, &oloss, &op)) {
        return NULL;
    }
    Buf bufs[4];
    memset(bufs, 0, sizeof bufs);
    if (get_f32(oz, &bufs[0], 0, "logits") || get_f32(oloss, &bufs[2], 1, "loss") ||
        get_f32(op, &bufs[3], 1, "probs")) {
        release(bufs, 4);
        return NULL;
    }
    Py_ssize_t rows = bufs[2].view.len / 4;
    if (get_labels(ol, bufs, rows)) {
        release(bufs, 4);
        return NULL;
    }
    Py_ssize_t cols = bufs[0].view.len / (rows * 4);
    const float *z = bufs[0].view.buf;
    const long long *labels = bufs[1].view.buf;
    float *loss = bufs[2].view.buf, *p = bufs[3].view.buf;
    for (Py_ssize_t r = 0; r < rows; r++) {
        if (labels[r] < 0 || labels[r] >= cols) {
            PyErr_Format(PyExc_ValueError, "label %lld at row %zd is outside [0, %zd)", labels[r], r, cols);
            release(bufs, 4);
            return NULL;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < rows; r++) {
        const float *zr = z + r * cols;
        float *pr = p + r * cols;
        float mx = zr[0];
        for (Py_ssize_t c = 1; c < cols; c++) {
            mx = zr[c] > mx ? zr[c] : mx;
        }
        float total = 0.0f;
        for (Py_ssize_t c = 0; c < cols; c++) {
            pr[c] = expf(zr[c] - mx);
            total += pr[c];
        }
        for (Py_ssize_t c = 0; c < cols; c++) {
            pr[c] /= total;
        }
        loss[r] = logf(total) - (zr[labels[r]] - mx);
    }
    Py_END_ALLOW_THREADS
    release(bufs, 4);
    Py_RETURN_NONE;
}

/* sparse_softmax_xent_grad(probs, labels, dloss, grad): grad = probs * dloss[:, None], minus dloss at the label. */
static PyObject *sparse_softmax_xent_grad(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *op, *ol, *od, *og;
    if (!PyArg_ParseTuple(args, "OOOO", &op, &ol, &od, &og)) {
        return NULL;
    }
    Buf bufs[4];
    memset(bufs, 0, sizeof bufs);
    if (get_f32(op, &bufs[0], 0, "probs") || get_f32(od, &bufs[2], 0, "dloss") || get_f32(og, &bufs[3], 1, "grad")) {
        release(bufs, 4);
        return NULL;
    }
    Py_ssize_t rows = bufs[2].view.len / 4;
    if (get_labels(ol, bufs, rows)) {
        release(bufs, 4);
        return NULL;
    }
    Py_ssize_t cols = bufs[0].view.len / (rows * 4);
    const float *p = bufs[0].view.buf, *d = bufs[2].view.buf;
    const long long *labels = bufs[1].view.buf;
    float *g = bufs[3].view.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < rows; r++) {
        for (Py_ssize_t c = 0; c < cols; c++) {
            g[r * cols + c] = p[r * cols + c] * d[r];
        }
        if (labels[r] >= 0 && labels[r] < cols) {
            g[r * cols + labels[r]] -= d[r];
        }
    }
    Py_END_ALLOW_THREADS
    release(bufs, 4);
    Py_RETURN_NONE;
}

/* Max pooling over (N, H, W, C) float32 with "valid" windows. The backward recomputes each
 * window's first maximum (row-major order, TensorFlow's tie rule) and adds dy there. */
static int pool_args(PyObject *args, Buf *bufs, int backward, Py_ssize_t dims[8]) {
    PyObject *ox, *oy, *odx = NULL, *ody = NULL;
    Py_ssize_t n, h, w, c, ph, pw, sh, sw;
    int ok = backward ? PyArg_ParseTuple(args, "OOOO(nnnn)(nn)(nn)", &ox, &oy, &ody, &odx, &n, &h, &w, &c, &ph, &pw,
                                         &sh, &sw)
                      : PyArg_ParseTuple(args, "OO(nnnn)(nn)(nn)", &ox, &oy, &n, &h, &w, &c, &ph, &pw, &sh, &sw);
    if (!ok) {
        return -1;
    }
    if (get_f32(ox, &bufs[0], 0, "x") || get_f32(oy, &bufs[1], !backward, "y") ||
        (backward && (get_f32(ody, &bufs[2], 0, "dy") || get_f32(odx, &bufs[3], 1, "dx")))) {
        return -1;
    }
    Py_ssize_t oh = ph > 0 && sh > 0 && h >= ph ? (h - ph) / sh + 1 : 0;
    Py_ssize_t ow = pw > 0 && sw > 0 && w >= pw ? (w - pw) / sw + 1 : 0;
    if (oh == 0 || ow == 0 || bufs[0].view.len != n * h * w * c * 4 || bufs[1].view.len != n * oh * ow * c * 4 ||
        (backward && (bufs[2].view.len != bufs[1].view.len || bufs[3].view.len != bufs[0].view.len))) {
        PyErr_SetString(PyExc_ValueError, "max_pool2d: shapes do not match (N, H, W, C) and the pool geometry");
        return -1;
    }
    Py_ssize_t vals[8] = {n, h, w, c, ph, pw, sh, sw};
    memcpy(dims, vals, sizeof vals);
    return 0;
}

static PyObject *max_pool2d(PyObject *self, PyObject *args) {
    (void)self;
    Buf bufs[4];
    memset(bufs, 0, sizeof bufs);
    Py_ssize_t d[8];
    if (pool_args(args, bufs, 0, d)) {
        release(bufs, 4);
        return NULL;
    }
    Py_ssize_t n = d[0], h = d[1], w = d[2], c = d[3], ph = d[4], pw = d[5], sh = d[6], sw = d[7];
    Py_ssize_t oh = (h - ph) / sh + 1, ow = (w - pw) / sw + 1;
    const float *x = bufs[0].view.buf;
    float *y = bufs[1].view.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t b = 0; b < n; b++) {
        for (Py_ssize_t i = 0; i < oh; i++) {
            for (Py_ssize_t j = 0; j < ow; j++) {
                float *out = y + ((b * oh + i) * ow + j) * c;
                for (Py_ssize_t u = 0; u < ph; u++) {
                    for (Py_ssize_t v = 0; v < pw; v++) {
                        const float *in = x + ((b * h + i * sh + u) * w + j * sw + v) * c;
                        if (u == 0 && v == 0) {
                            memcpy(out, in, (size_t)c * sizeof(float));
                        } else {
                            for (Py_ssize_t k = 0; k < c; k++) {
                                out[k] = (in[k] > out[k] || in[k] != in[k]) ? in[k] : out[k];
                            }
                        }
                    }
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    release(bufs, 4);
    Py_RETURN_NONE;
}

VECTOR_CLONES
static void pool_credit_set(float *restrict dx, const float *restrict x, const float *restrict y,
                            const float *restrict dy, float *restrict rest, Py_ssize_t c) {
    for (Py_ssize_t k = 0; k < c; k++) {
        float hit = (float)(x[k] == y[k]) * rest[k];
        dx[k] = hit * dy[k];
        rest[k] -= hit;
    }
}

VECTOR_CLONES
static void pool_credit_add(float *restrict dx, const float *restrict x, const float *restrict y,
                            const float *restrict dy, float *restrict rest, Py_ssize_t c) {
    for (Py_ssize_t k = 0; k < c; k++) {
        float hit = (float)(x[k] == y[k]) * rest[k];
        dx[k] += hit * dy[k];
        rest[k] -= hit;
    }
}

static PyObject *max_pool2d_grad(PyObject *self, PyObject *args) {
    (void)self;
    Buf bufs[4];
    memset(bufs, 0, sizeof bufs);
    Py_ssize_t d[8];
    if (pool_args(args, bufs, 1, d)) {
        release(bufs, 4);
        return NULL;
    }
    Py_ssize_t n = d[0], h = d[1], w = d[2], c = d[3], ph = d[4], pw = d[5], sh = d[6], sw = d[7];
    Py_ssize_t oh = (h - ph) / sh + 1, ow = (w - pw) / sw + 1;
    const float *x = bufs[0].view.buf, *y = bufs[1].view.buf, *dy = bufs[2].view.buf;
    float *dx = bufs[3].view.buf;
    float *rest = malloc((size_t)c * sizeof(float)); /* 1 while a channel's maximum is not yet credited */
    if (rest == NULL) {
        release(bufs, 4);
        return PyErr_NoMemory();
    }
    /* Windows that neither overlap nor leave gaps write every dx element once: no zeroing needed. */
    int disjoint = sh >= ph && sw >= pw;
    int tiles = disjoint && sh == ph && sw == pw && oh * sh == h && ow * sw == w;
    Py_BEGIN_ALLOW_THREADS
    if (!tiles) {
        memset(dx, 0, (size_t)bufs[3].view.len);
    }
    for (Py_ssize_t b = 0; b < n; b++) {
        for (Py_ssize_t i = 0; i < oh; i++) {
            for (Py_ssize_t j = 0; j < ow; j++) {
                const float *yo = y + ((b * oh + i) * ow + j) * c, *dyo = dy + ((b * oh + i) * ow + j) * c;
                for (Py_ssize_t k = 0; k < c; k++) {
                    rest[k] = 1.0f;
                }
                for (Py_ssize_t u = 0; u < ph; u++) {
                    for (Py_ssize_t v = 0; v < pw; v++) {
                        Py_ssize_t at = ((b * h + i * sh + u) * w + j * sw + v) * c;
                        if (disjoint) {
                            pool_credit_set(dx + at, x + at, yo, dyo, rest, c);
                        } else {
                            pool_credit_add(dx + at, x + at, yo, dyo, rest, c);
                        }
                    }
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    free(rest);
    release(bufs, 4);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"adam", adam, METH_VARARGS, "Fused Keras Adam / AdamW update in place (float32)."},
    {"sgd", sgd, METH_VARARGS, "Fused Keras SGD (momentum, Nesterov, weight decay) update in place (float32)."},
    {"bias_relu", bias_relu, METH_VARARGS, "z += bias; y = relu(z), one pass (float32)."},
    {"relu_grad_bias", relu_grad_bias, METH_VARARGS, "dz = dy * (z > 0); db = sum(dz, axis=0) (float32)."},
    {"max_pool2d", max_pool2d, METH_VARARGS, "Max pooling, (N, H, W, C) float32, valid windows."},
    {"max_pool2d_grad", max_pool2d_grad, METH_VARARGS, "Its backward: dy to each window's first maximum."},
    {"sparse_softmax_xent", sparse_softmax_xent, METH_VARARGS, "Per-row softmax cross-entropy and softmax."},
    {"sparse_softmax_xent_grad", sparse_softmax_xent_grad, METH_VARARGS, "(softmax - onehot) * dloss."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cpu_kernels", NULL, -1, methods};

/* Bumped with every change of a function's arguments; numpy_backend.py ignores a build of another version. */
#define API_VERSION 3

PyMODINIT_FUNC PyInit__cpu_kernels(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && (PyModule_AddIntConstant(m, "API_VERSION", API_VERSION) != 0 ||
                      PyModule_AddFunctions(m, gk_recurrent_methods) != 0 ||
                      PyModule_AddFunctions(m, gk_windows_methods) != 0 ||
                      PyModule_AddFunctions(m, gk_normalization_methods) != 0 ||
                      PyModule_AddFunctions(m, gk_losses_methods) != 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
