/* CPU kernels for sliding windows: im2col / col2im for convolution (twins in backend/fused/windows.py).
 * Same contract as _cpu_kernels.c: float32 arithmetic in the twin's order, GIL released.
 *
 * Both take 2-D channels_last geometry as one tuple (see parse_geometry): the input (N, H, W, C) without
 * padding, the output size, kernel, strides, dilation and the padding before each axis. The padding is never
 * materialized: im2col writes zeros where a window leaves the input, col2im skips those taps. */
#include "_cpu_common.h"

typedef struct {
    Py_ssize_t n, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
} Geometry;

static int parse_geometry(PyObject *tuple, Geometry *g) {
    if (!PyArg_ParseTuple(tuple, "(nnnn)(nn)(nn)(nn)(nn)(nn)", &g->n, &g->h, &g->w, &g->c, &g->oh, &g->ow, &g->kh,
                          &g->kw, &g->sh, &g->sw, &g->dh, &g->dw, &g->ph, &g->pw)) {
        return -1;
    }
    if (g->n < 0 || g->h <= 0 || g->w <= 0 || g->c <= 0 || g->oh <= 0 || g->ow <= 0 || g->kh <= 0 || g->kw <= 0 ||
        g->sh <= 0 || g->sw <= 0 || g->dh <= 0 || g->dw <= 0 || g->ph < 0 || g->pw < 0) {
        PyErr_SetString(PyExc_ValueError, "window geometry: sizes, strides and dilations must be positive");
        return -1;
    }
    return 0;
}

/* The inputs and columns arrays of one call: x (n, h, w, c) and cols (n * oh * ow, kh * kw * c). */
static int get_pair(PyObject *ox, PyObject *ocols, PyObject *ogeo, int cols_writable, Buf *bufs, Geometry *g) {
    if (parse_geometry(ogeo, g) || get_f32(ox, &bufs[0], !cols_writable, "x") ||
        get_f32(ocols, &bufs[1], cols_writable, "cols")) {
        return -1;
    }
    if (bufs[0].view.len != g->n * g->h * g->w * g->c * 4 ||
        bufs[1].view.len != g->n * g->oh * g->ow * g->kh * g->kw * g->c * 4) {
        PyErr_SetString(PyExc_ValueError, "window geometry: x must be (N, H, W, C), cols (N*OH*OW, KH*KW*C)");
        return -1;
    }
    return 0;
}

/* Input row (or column) of output position `o` at kernel tap `k`, or -1 where it falls in the padding. */
static inline Py_ssize_t tap(Py_ssize_t o, Py_ssize_t k, Py_ssize_t stride, Py_ssize_t dil, Py_ssize_t pad,
                             Py_ssize_t size) {
    Py_ssize_t i = o * stride + k * dil - pad;
    return i >= 0 && i < size ? i : -1;
}

/* Eight floats at a time through GCC's generic vectors (unaligned: memcpy of a constant size is one move). */
typedef float v8f __attribute__((vector_size(32)));

static inline v8f load8(const float *p) {
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store8(float *p, v8f v) {
    memcpy(p, &v, sizeof v);
}

/* A short copy (a window row, a pixel): inline moves, where libc's memcpy costs a call and its setup (W6's
 * first stage copies 48 floats at a time, millions of times a step). The empty asm keeps GCC from turning the
 * loop back into a memcpy call. */
static inline void copy_floats(float *restrict dst, const float *restrict src, Py_ssize_t n) {
    Py_ssize_t k = 0;
    for (; k + 8 <= n; k += 8) {
        store8(dst + k, load8(src + k));
        __asm__ volatile("" : : "r"(k));
    }
    for (; k < n; k++) {
        dst[k] = src[k];
    }
}

/* One window row: the kw taps of input row y for output column j (kw * c floats, zeros in the padding). One
 * copy when all taps lie inside the row and are adjacent (no dilation), else one per tap. */
static inline void window_row(const float *restrict xrow, float *restrict cols, Py_ssize_t j, const Geometry *g) {
    Py_ssize_t first = j * g->sw - g->pw, c = g->c;
    if (g->dw == 1 && first >= 0 && first + g->kw <= g->w) {
        copy_floats(cols, xrow + first * c, g->kw * c);
        return;
    }
    for (Py_ssize_t v = 0; v < g->kw; v++) {
        Py_ssize_t xx = tap(j, v, g->sw, g->dw, g->pw, g->w);
        if (xx < 0) {
            memset(cols + v * c, 0, (size_t)c * sizeof(float));
        } else {
            copy_floats(cols + v * c, xrow + xx * c, c);
        }
    }
}

VECTOR_CLONES
static void im2col_sample(const float *restrict x, float *restrict cols, const Geometry *g) {
    Py_ssize_t row = g->kw * g->c;
    for (Py_ssize_t i = 0; i < g->oh; i++) {
        for (Py_ssize_t j = 0; j < g->ow; j++) {
            for (Py_ssize_t u = 0; u < g->kh; u++) {
                Py_ssize_t y = tap(i, u, g->sh, g->dh, g->ph, g->h);
                if (y < 0) {
                    memset(cols, 0, (size_t)row * sizeof(float));
                } else {
                    window_row(x + y * g->w * g->c, cols, j, g);
                }
                cols += row;
            }
        }
    }
}

/* Output row (or column) whose tap `k` reads input position `p`, or -1 when none does. */
static inline Py_ssize_t source(Py_ssize_t p, Py_ssize_t k, Py_ssize_t stride, Py_ssize_t dil, Py_ssize_t pad,
                                Py_ssize_t out) {
    Py_ssize_t q = p + pad - k * dil;
    if (q < 0 || q % stride != 0 || q / stride >= out) {
        return -1;
    }
    return q / stride;
}

/* One sample: each input pixel gathers its taps' column gradients, taps in (u, v) order from zero, the order
 * of the twin's strided adds (one per tap over a zeroed padded dx), so the sums are the same bits. The taps'
 * rows are listed first, then summed eight channels at a time in registers. */
VECTOR_CLONES
static void col2im_sample(const float *restrict cols, float *restrict dx, const Geometry *g) {
    Py_ssize_t k = g->kh * g->kw * g->c, c = g->c;
    const float *src[g->kh * g->kw];
    for (Py_ssize_t y = 0; y < g->h; y++) {
        for (Py_ssize_t xx = 0; xx < g->w; xx++) {
            Py_ssize_t n = 0;
            for (Py_ssize_t u = 0; u < g->kh; u++) {
                Py_ssize_t i = source(y, u, g->sh, g->dh, g->ph, g->oh);
                for (Py_ssize_t v = 0; i >= 0 && v < g->kw; v++) {
                    Py_ssize_t j = source(xx, v, g->sw, g->dw, g->pw, g->ow);
                    if (j >= 0) {
                        src[n++] = cols + (i * g->ow + j) * k + (u * g->kw + v) * c;
                    }
                }
            }
            float *out = dx + (y * g->w + xx) * c;
            Py_ssize_t ch = 0;
            for (; ch + 8 <= c; ch += 8) {
                v8f acc = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
                for (Py_ssize_t t = 0; t < n; t++) {
                    acc += load8(src[t] + ch);
                }
                store8(out + ch, acc);
            }
            for (; ch < c; ch++) {
                float acc = 0.0f;
                for (Py_ssize_t t = 0; t < n; t++) {
                    acc += src[t][ch];
                }
                out[ch] = acc;
            }
        }
    }
}

/* One call of either direction: args (x, cols, geometry) for im2col, (cols, dx, geometry) for col2im; the
 * per-sample loop runs over the batch with the GIL released. */
static PyObject *window_loop(PyObject *args, int to_image) {
    PyObject *osrc, *odst, *ogeo;
    if (!PyArg_ParseTuple(args, "OOO", &osrc, &odst, &ogeo)) {
        return NULL;
    }
    Buf bufs[2]; /* [0]: the image (x or dx), [1]: the columns */
    memset(bufs, 0, sizeof bufs);
    Geometry g;
    if (get_pair(to_image ? odst : osrc, to_image ? osrc : odst, ogeo, !to_image, bufs, &g)) {
        release(bufs, 2);
        return NULL;
    }
    float *image = bufs[0].view.buf, *cols = bufs[1].view.buf;
    Py_ssize_t in_size = g.h * g.w * g.c, col_size = g.oh * g.ow * g.kh * g.kw * g.c;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t b = 0; b < g.n; b++) {
        if (to_image) {
            col2im_sample(cols + b * col_size, image + b * in_size, &g);
        } else {
            im2col_sample(image + b * in_size, cols + b * col_size, &g);
        }
    }
    Py_END_ALLOW_THREADS
    release(bufs, 2);
    Py_RETURN_NONE;
}

/* im2col2d(x, cols, geometry): cols[(b, i, j), (u, v, c)] = padded x[b, i*sh + u*dh, j*sw + v*dw, c]. */
static PyObject *im2col2d(PyObject *self, PyObject *args) {
    (void)self;
    return window_loop(args, 0);
}

/* col2im2d(cols, dx, geometry): dx (unpadded, overwritten) = the sum over taps of the column gradients that
 * read each input pixel; the inverse scatter of im2col2d. */
static PyObject *col2im2d(PyObject *self, PyObject *args) {
    (void)self;
    return window_loop(args, 1);
}

PyMethodDef gk_windows_methods[] = {
    {"im2col2d", im2col2d, METH_VARARGS, "2-D im2col: (N, H, W, C) float32 to its column matrix, padding as zeros."},
    {"col2im2d", col2im2d, METH_VARARGS, "2-D col2im: column gradients summed onto (N, H, W, C), taps in order."},
    {NULL, NULL, 0, NULL},
};
