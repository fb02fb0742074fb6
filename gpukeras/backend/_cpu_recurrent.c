/* CPU kernels for the LSTM/GRU (reset_after) time step (twins: backend/fused/recurrent.py) and the
 * row scatter-add behind Embedding's gradient (twin: np.add.at).
 *
 * Same contract as _cpu_kernels.c: float32 arithmetic in the twin's order, GIL released. One
 * exception: the twin's sigmoid and tanh call NumPy's exp and tanh, whose SIMD code cannot be
 * reproduced here, so the forward steps use the vectorizable exp below (within about an ulp of the
 * true value) and their gates differ from the twin's by a few ulp. Everything after the gate
 * nonlinearities (state updates, masks) and every backward step is the twin's arithmetic.
 * A step's mask is one value per row, so masks are handled per row, outside the vector loops. */
#include "_cpu_common.h"

#include <stdint.h>

enum { CARRY = 0, ZERO = 1, UNROLL = 2 }; /* masked_output codes, as launchers/recurrent.py numbers them */

/* ------------------------------------------------------------------ nonlinearities */

/* The step loops are the hot ones: besides _cpu_common.h's AVX2 build they get an AVX-512 one. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define STEP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define STEP_CLONES
#endif

typedef union {
    float f;
    uint32_t u;
} Bits;

/* cond ? a : b through bit masks: GCC keeps a float `?:` as a branch (trapping math), which stops
 * the loop's vectorization; this form vectorizes and gives the same value. */
static inline float select_f(int cond, float a, float b) {
    Bits x = {a}, y = {b}, o;
    uint32_t m = -(uint32_t)cond;
    o.u = (x.u & m) | (y.u & ~m);
    return o.f;
}

/* exp(t) for t <= 0, branch-free so loops vectorize: t = k ln2 + r with |r| <= ln2 / 2 (ln2 as a
 * high part exact in float32 plus a low part, so k ln2 loses nothing), exp(r) by its Taylor series
 * to r^7 (truncation below 1e-8 relative), then times 2^k built from exponent bits in two halves,
 * so results in the subnormal range round once. t below -104 gives 0. */
static inline float exp_nonpositive(float t) {
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding and subtracting it rounds to an integer */
    t = select_f(t < -104.0f, -104.0f, t);
    float k = t * 1.44269504f + shifter;
    k -= shifter;
    float r = t - k * 0.693359375f;
    r = r - k * -2.12194440e-4f;
    float p = 1.98412698e-4f; /* 1/7! */
    p = p * r + 1.38888889e-3f;
    p = p * r + 8.33333333e-3f;
    p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t n = (int32_t)k, lo = n >> 1, hi = n - lo; /* k >= -150, so both halves >= -75 */
    Bits slo, shi;
    slo.u = (uint32_t)(lo + 127) << 23;
    shi.u = (uint32_t)(hi + 127) << 23;
    return (p * slo.f) * shi.f;
}

/* The twin's sigmoid (activations._sigmoid): exp of -|x| only, then 1/(1+e) or e/(1+e) by sign (the
 * numerator picked before the one division: the same quotient). */
static inline float sigmoid_f(float x) {
    float e = exp_nonpositive(-fabsf(x));
    return select_f(x >= 0.0f, 1.0f, e) / (1.0f + e);
}

/* tanh: for |x| < 0.3 its odd Taylor series to x^11 (truncation below 1e-9 relative), else
 * (1 - e) / (1 + e) with e = exp(-2|x|); the sign is restored last. */
static inline float tanh_f(float x) {
    float a = fabsf(x), a2 = a * a;
    float s = -8.86323552e-3f; /* -1382/155925 */
    s = s * a2 + 2.18694885e-2f; /* 62/2835 */
    s = s * a2 + -5.39682540e-2f; /* -17/315 */
    s = s * a2 + 1.33333333e-1f; /* 2/15 */
    s = s * a2 + -3.33333333e-1f;
    float small = a + a * (a2 * s);
    float e = exp_nonpositive(-2.0f * a);
    float large = (1.0f - e) / (1.0f + e);
    return copysignf(select_f(a < 0.3f, small, large), x);
}

/* ------------------------------------------------------------------ argument checks */

typedef struct {
    PyObject *obj;
    const char *name;
    Py_ssize_t count; /* float32 elements it must hold */
    int writable;
    int optional; /* None allowed */
} Arg;

/* Buffers of every argument (None -> not held), each checked for its element count. */
static int get_args(const Arg *args, Buf *bufs, int n) {
    memset(bufs, 0, sizeof(Buf) * (size_t)n);
    for (int i = 0; i < n; i++) {
        if (args[i].obj == Py_None && args[i].optional) {
            continue;
        }
        if (get_f32(args[i].obj, &bufs[i], args[i].writable, args[i].name) != 0) {
            return -1;
        }
        if (bufs[i].view.len != args[i].count * 4) {
            PyErr_Format(PyExc_ValueError, "%s must hold %zd float32 values, got %zd", args[i].name, args[i].count,
                         bufs[i].view.len / 4);
            return -1;
        }
    }
    return 0;
}

/* get_args, plus a scratch buffer of `floats` floats for the row loops; NULL, with the exception set and
 * nothing held, on failure. finish() gives both back. */
static float *acquire(const Arg *args, Buf *bufs, int n, Py_ssize_t floats) {
    float *scratch = malloc((size_t)floats * sizeof(float));
    if (scratch == NULL) {
        memset(bufs, 0, sizeof(Buf) * (size_t)n);
        PyErr_NoMemory();
        return NULL;
    }
    if (get_args(args, bufs, n)) {
        release(bufs, n);
        free(scratch);
        return NULL;
    }
    return scratch;
}

static void finish(Buf *bufs, int n, float *scratch) {
    release(bufs, n);
    free(scratch);
}

static inline float *ptr(Buf *b) { return b->held ? (float *)b->view.buf : NULL; }

static int check_dims(Py_ssize_t rows, Py_ssize_t units, int code) {
    if (rows <= 0 || units <= 0 || code < CARRY || code > UNROLL) {
        PyErr_SetString(PyExc_ValueError, "recurrent step: rows and units must be positive, code 0, 1 or 2");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ shared row helpers */

/* A masked step's row after its cell wrote the new h into the output row `out`: with the row's mask on, h
 * takes it; off, h keeps h_prev and the output becomes `fallback` (zeros when NULL). Returns whether on. */
static int mask_row(float on, float *out, const float *fallback, float *h, const float *h_prev, Py_ssize_t units) {
    if (on != 0.0f) {
        memcpy(h, out, (size_t)units * sizeof(float));
        return 1;
    }
    memcpy(h, h_prev, (size_t)units * sizeof(float));
    if (fallback != NULL) {
        memcpy(out, fallback, (size_t)units * sizeof(float));
    } else {
        memset(out, 0, (size_t)units * sizeof(float));
    }
    return 0;
}

VECTOR_CLONES
static void add_rows(float *restrict out, const float *restrict a, const float *restrict b, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) {
        out[j] = a[j] + b[j];
    }
}

VECTOR_CLONES
static void add_into(float *restrict out, const float *restrict b, Py_ssize_t n) {
    for (Py_ssize_t j = 0; j < n; j++) {
        out[j] = out[j] + b[j];
    }
}

/* The twin's _masked_step_grads for one row: dh_new, keep (the gradient that skips the cell to h_prev;
 * NULL without a mask) and dout_prev (unroll only). `on`: the row's mask value is non-zero. */
static void masked_row_grads(float *restrict dh_new, float *keep, float *dout_prev, const float *restrict dh,
                             const float *dout, int masked, int on, int code, Py_ssize_t units) {
    if (!masked || on) {
        if (dout != NULL) {
            add_rows(dh_new, dh, dout, units);
        } else {
            memcpy(dh_new, dh, (size_t)units * sizeof(float));
        }
        if (keep != NULL) {
            memset(keep, 0, (size_t)units * sizeof(float));
        }
        if (dout_prev != NULL) {
            memset(dout_prev, 0, (size_t)units * sizeof(float));
        }
        return;
    }
    memset(dh_new, 0, (size_t)units * sizeof(float));
    if (dout != NULL && code == CARRY) {
        add_rows(keep, dh, dout, units);
    } else {
        memcpy(keep, dh, (size_t)units * sizeof(float));
    }
    if (dout_prev != NULL) {
        memcpy(dout_prev, dout, (size_t)units * sizeof(float));
    }
}

/* ------------------------------------------------------------------ LSTM */

/* One row's gates (i, f, c, o as the twin orders them), new cell, act(cell) and new h from z. */
STEP_CLONES
static void lstm_row(const float *restrict z, const float *restrict c_prev, float *restrict gi, float *restrict gf,
                     float *restrict gg, float *restrict go, float *restrict c_new, float *restrict act_c,
                     float *restrict h_new, Py_ssize_t units) {
    for (Py_ssize_t j = 0; j < units; j++) {
        float i = sigmoid_f(z[j]), f = sigmoid_f(z[units + j]);
        float g = tanh_f(z[2 * units + j]), o = sigmoid_f(z[3 * units + j]);
        float c = f * c_prev[j] + i * g;
        float ac = tanh_f(c);
        gi[j] = i;
        gf[j] = f;
        gg[j] = g;
        go[j] = o;
        c_new[j] = c;
        act_c[j] = ac;
        h_new[j] = o * ac;
    }
}

static void lstm_forward(const float *x, const float *hr, const float *bias, const float *h_prev, const float *c_prev,
                         const float *mask, const float *fallback, float *z, float *gates, float *c_new, float *act_c,
                         float *h, float *c, float *out, Py_ssize_t rows, Py_ssize_t units) {
    Py_ssize_t width = 4 * units, plane = rows * units;
    for (Py_ssize_t r = 0; r < rows; r++) {
        Py_ssize_t at = r * units;
        float *zr = z + r * width;
        add_rows(zr, x + r * width, hr + r * width, width);
        if (bias != NULL) {
            add_into(zr, bias, width);
        }
        float *h_new = mask != NULL ? out + at : h + at; /* without a mask, h is the output */
        lstm_row(zr, c_prev + at, gates + at, gates + plane + at, gates + 2 * plane + at, gates + 3 * plane + at,
                 c_new + at, act_c + at, h_new, units);
        if (mask != NULL) {
            int on = mask_row(mask[r], out + at, fallback != NULL ? fallback + at : NULL, h + at, h_prev + at, units);
            memcpy(c + at, on ? c_new + at : c_prev + at, (size_t)units * sizeof(float));
        }
    }
}

/* lstm_step(x, hr, bias, h_prev, c_prev, mask, fallback, z, gates, c_new, act_c, h, c, out, rows, units):
 * x, hr, z (rows, 4 units); gates (4, rows, units); mask (rows,) or None; bias (4 units,) or None.
 * Without a mask, h receives the new h (the output too) and c, out are not used (None allowed). */
static PyObject *lstm_step(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o[14];
    Py_ssize_t rows, units;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOnn", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8],
                          &o[9], &o[10], &o[11], &o[12], &o[13], &rows, &units) ||
        check_dims(rows, units, 0)) {
        return NULL;
    }
    Py_ssize_t n = rows * units;
    int masked = o[5] != Py_None;
    Arg spec[14] = {{o[0], "x", 4 * n, 0, 0},        {o[1], "hr", 4 * n, 0, 0},
                    {o[2], "bias", 4 * units, 0, 1}, {o[3], "h_prev", n, 0, 0},
                    {o[4], "c_prev", n, 0, 0},       {o[5], "mask", rows, 0, 1},
                    {o[6], "fallback", n, 0, 1},     {o[7], "z", 4 * n, 1, 0},
                    {o[8], "gates", 4 * n, 1, 0},    {o[9], "c_new", n, 1, 0},
                    {o[10], "act_c", n, 1, 0},       {o[11], "h", n, 1, 0},
                    {o[12], "c", n, 1, !masked},     {o[13], "out", n, 1, !masked}};
    Buf b[14];
    if (get_args(spec, b, 14)) {
        release(b, 14);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    lstm_forward(ptr(&b[0]), ptr(&b[1]), ptr(&b[2]), ptr(&b[3]), ptr(&b[4]), ptr(&b[5]), ptr(&b[6]), ptr(&b[7]),
                 ptr(&b[8]), ptr(&b[9]), ptr(&b[10]), ptr(&b[11]), ptr(&b[12]), ptr(&b[13]), rows, units);
    Py_END_ALLOW_THREADS
    release(b, 14);
    Py_RETURN_NONE;
}

/* One row of the LSTM backward from dh_new, dc_new: the twin's activation_backward products, in its order. */
VECTOR_CLONES
static void lstm_grad_row(const float *restrict dh_new, const float *restrict dc_new, const float *restrict gi,
                          const float *restrict gf, const float *restrict gg, const float *restrict go,
                          const float *restrict act_c, const float *restrict c_prev, float *restrict dz,
                          float *restrict dc_prev, Py_ssize_t units) {
    for (Py_ssize_t j = 0; j < units; j++) {
        float i = gi[j], f = gf[j], g = gg[j], o = go[j], ac = act_c[j], dh = dh_new[j];
        float dct = dc_new[j] + (dh * o) * (1.0f - ac * ac);
        dz[j] = (dct * g) * (i * (1.0f - i));
        dz[units + j] = (dct * c_prev[j]) * (f * (1.0f - f));
        dz[2 * units + j] = (dct * i) * (1.0f - g * g);
        dz[3 * units + j] = (dh * ac) * (o * (1.0f - o));
        dc_prev[j] = dct * f;
    }
}

typedef struct {
    const float *dh, *dc, *dout, *gates, *act_c, *c_prev, *mask;
    float *dz, *dh_skip, *dc_prev, *dout_prev;
} LSTMGrads;

static void lstm_backward(const LSTMGrads *a, float *dh_new, float *dc_new, Py_ssize_t rows, Py_ssize_t units,
                          int code) {
    Py_ssize_t plane = rows * units;
    for (Py_ssize_t r = 0; r < rows; r++) {
        Py_ssize_t at = r * units;
        int masked = a->mask != NULL, on = masked && a->mask[r] != 0.0f;
        masked_row_grads(dh_new, a->dh_skip != NULL ? a->dh_skip + at : NULL,
                         a->dout_prev != NULL ? a->dout_prev + at : NULL, a->dh + at,
                         a->dout != NULL ? a->dout + at : NULL, masked, on, code, units);
        if (!masked || on) {
            memcpy(dc_new, a->dc + at, (size_t)units * sizeof(float));
        } else {
            memset(dc_new, 0, (size_t)units * sizeof(float));
        }
        const float *g = a->gates + at;
        lstm_grad_row(dh_new, dc_new, g, g + plane, g + 2 * plane, g + 3 * plane, a->act_c + at, a->c_prev + at,
                      a->dz + r * 4 * units, a->dc_prev + at, units);
        if (masked) { /* the twin adds where(m, 0, dc) */
            float *dcp = a->dc_prev + at;
            for (Py_ssize_t j = 0; j < units; j++) {
                dcp[j] = dcp[j] + (on ? 0.0f : a->dc[at + j]);
            }
        }
    }
}

/* lstm_step_backward(dh, dc, dout, gates, act_c, c_prev, mask, dz, dh_skip, dc_prev, dout_prev, rows, units,
 * code): dout, mask None allowed; dh_skip given exactly with a mask, dout_prev exactly with a mask, dout and
 * code UNROLL. */
static PyObject *lstm_step_backward(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o[11];
    Py_ssize_t rows, units;
    int code;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOnni", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8],
                          &o[9], &o[10], &rows, &units, &code) ||
        check_dims(rows, units, code)) {
        return NULL;
    }
    Py_ssize_t n = rows * units;
    int masked = o[6] != Py_None, unrolls = masked && o[2] != Py_None && code == UNROLL;
    if ((o[8] != Py_None) != masked || (o[10] != Py_None) != unrolls) {
        PyErr_SetString(PyExc_ValueError, "lstm_step_backward: dh_skip goes with a mask, dout_prev with unroll");
        return NULL;
    }
    Arg spec[11] = {{o[0], "dh", n, 0, 0},          {o[1], "dc", n, 0, 0},           {o[2], "dout", n, 0, 1},
                    {o[3], "gates", 4 * n, 0, 0},   {o[4], "act_c", n, 0, 0},        {o[5], "c_prev", n, 0, 0},
                    {o[6], "mask", rows, 0, 1},     {o[7], "dz", 4 * n, 1, 0},       {o[8], "dh_skip", n, 1, 1},
                    {o[9], "dc_prev", n, 1, 0},     {o[10], "dout_prev", n, 1, 1}};
    Buf b[11];
    float *scratch = acquire(spec, b, 11, 2 * units);
    if (scratch == NULL) {
        return NULL;
    }
    LSTMGrads a = {ptr(&b[0]), ptr(&b[1]), ptr(&b[2]), ptr(&b[3]), ptr(&b[4]), ptr(&b[5]),
                   ptr(&b[6]), ptr(&b[7]), ptr(&b[8]), ptr(&b[9]), ptr(&b[10])};
    Py_BEGIN_ALLOW_THREADS
    lstm_backward(&a, scratch, scratch + units, rows, units, code);
    Py_END_ALLOW_THREADS
    finish(b, 11, scratch);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ GRU (reset_after) */

/* One row of the GRU step from x and inner = hr (+ recurrent bias): pre-activations, activations,
 * inner_h and the new h, as the twin computes them. */
STEP_CLONES
static void gru_row(const float *restrict x, const float *restrict inner, const float *restrict h_prev,
                    float *restrict zpre, float *restrict rpre, float *restrict hpre, float *restrict gz,
                    float *restrict gr, float *restrict ghh, float *restrict inner_h, float *restrict h_new,
                    Py_ssize_t units) {
    for (Py_ssize_t j = 0; j < units; j++) {
        float zp = x[j] + inner[j], rp = x[units + j] + inner[units + j], ih = inner[2 * units + j];
        float z = sigmoid_f(zp), r = sigmoid_f(rp);
        float hp = x[2 * units + j] + r * ih;
        float hh = tanh_f(hp);
        zpre[j] = zp;
        rpre[j] = rp;
        hpre[j] = hp;
        gz[j] = z;
        gr[j] = r;
        ghh[j] = hh;
        inner_h[j] = ih;
        h_new[j] = z * h_prev[j] + (1.0f - z) * hh;
    }
}

static void gru_forward(const float *x, const float *hr, const float *rbias, const float *h_prev, const float *mask,
                        const float *fallback, float *pre, float *post, float *inner_h, float *h, float *out,
                        float *inner, Py_ssize_t rows, Py_ssize_t units) {
    Py_ssize_t width = 3 * units, plane = rows * units;
    for (Py_ssize_t r = 0; r < rows; r++) {
        Py_ssize_t at = r * units;
        const float *in = hr + r * width;
        if (rbias != NULL) {
            add_rows(inner, in, rbias, width);
            in = inner;
        }
        float *h_new = mask != NULL ? out + at : h + at;
        gru_row(x + r * width, in, h_prev + at, pre + at, pre + plane + at, pre + 2 * plane + at, post + at,
                post + plane + at, post + 2 * plane + at, inner_h + at, h_new, units);
        if (mask != NULL) {
            mask_row(mask[r], out + at, fallback != NULL ? fallback + at : NULL, h + at, h_prev + at, units);
        }
    }
}

/* gru_step(x, hr, recurrent_bias, h_prev, mask, fallback, pre, post, inner_h, h, out, rows, units):
 * x, hr (rows, 3 units); pre, post (3, rows, units). Without a mask, h receives the new h (the output
 * too) and out is not used. */
static PyObject *gru_step(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o[11];
    Py_ssize_t rows, units;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOnn", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8],
                          &o[9], &o[10], &rows, &units) ||
        check_dims(rows, units, 0)) {
        return NULL;
    }
    Py_ssize_t n = rows * units;
    int masked = o[4] != Py_None;
    Arg spec[11] = {{o[0], "x", 3 * n, 0, 0},      {o[1], "hr", 3 * n, 0, 0},
                    {o[2], "recurrent_bias", 3 * units, 0, 1},
                    {o[3], "h_prev", n, 0, 0},     {o[4], "mask", rows, 0, 1},   {o[5], "fallback", n, 0, 1},
                    {o[6], "pre", 3 * n, 1, 0},    {o[7], "post", 3 * n, 1, 0},  {o[8], "inner_h", n, 1, 0},
                    {o[9], "h", n, 1, 0},          {o[10], "out", n, 1, !masked}};
    Buf b[11];
    float *inner = acquire(spec, b, 11, 3 * units);
    if (inner == NULL) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    gru_forward(ptr(&b[0]), ptr(&b[1]), ptr(&b[2]), ptr(&b[3]), ptr(&b[4]), ptr(&b[5]), ptr(&b[6]), ptr(&b[7]),
                ptr(&b[8]), ptr(&b[9]), ptr(&b[10]), inner, rows, units);
    Py_END_ALLOW_THREADS
    finish(b, 11, inner);
    Py_RETURN_NONE;
}

/* One row of the GRU backward from dh_new: dx = (dzpre, drpre, dhpre), dinner = (dzpre, drpre, dhpre * r),
 * dh_skip = dh_new * z, the twin's products in its order. */
VECTOR_CLONES
static void gru_grad_row(const float *restrict dh_new, const float *restrict gz, const float *restrict gr,
                         const float *restrict ghh, const float *restrict inner_h, const float *restrict h_prev,
                         float *restrict dx, float *restrict dinner, float *restrict dh_skip, Py_ssize_t units) {
    for (Py_ssize_t j = 0; j < units; j++) {
        float dh = dh_new[j], z = gz[j], r = gr[j], hh = ghh[j];
        float dzp = (dh * (h_prev[j] - hh)) * (z * (1.0f - z));
        float dhp = (dh * (1.0f - z)) * (1.0f - hh * hh);
        float drp = (dhp * inner_h[j]) * (r * (1.0f - r));
        dx[j] = dzp;
        dx[units + j] = drp;
        dx[2 * units + j] = dhp;
        dinner[j] = dzp;
        dinner[units + j] = drp;
        dinner[2 * units + j] = dhp * r;
        dh_skip[j] = dh * z;
    }
}

typedef struct {
    const float *dh, *dout, *post, *inner_h, *h_prev, *mask;
    float *dx, *dinner, *dh_skip, *dout_prev;
} GRUGrads;

static void gru_backward(const GRUGrads *a, float *dh_new, float *keep, Py_ssize_t rows, Py_ssize_t units, int code) {
    Py_ssize_t plane = rows * units;
    for (Py_ssize_t r = 0; r < rows; r++) {
        Py_ssize_t at = r * units;
        int masked = a->mask != NULL, on = masked && a->mask[r] != 0.0f;
        masked_row_grads(dh_new, masked ? keep : NULL, a->dout_prev != NULL ? a->dout_prev + at : NULL, a->dh + at,
                         a->dout != NULL ? a->dout + at : NULL, masked, on, code, units);
        const float *p = a->post + at;
        gru_grad_row(dh_new, p, p + plane, p + 2 * plane, a->inner_h + at, a->h_prev + at, a->dx + r * 3 * units,
                     a->dinner + r * 3 * units, a->dh_skip + at, units);
        if (masked) { /* the twin adds keep_h */
            add_into(a->dh_skip + at, keep, units);
        }
    }
}

/* gru_step_backward(dh, dout, post, inner_h, h_prev, mask, dx, dinner, dh_skip, dout_prev, rows, units, code):
 * dout, mask None allowed; dout_prev given exactly with a mask, dout and code UNROLL. */
static PyObject *gru_step_backward(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *o[10];
    Py_ssize_t rows, units;
    int code;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOnni", &o[0], &o[1], &o[2], &o[3], &o[4], &o[5], &o[6], &o[7], &o[8],
                          &o[9], &rows, &units, &code) ||
        check_dims(rows, units, code)) {
        return NULL;
    }
    Py_ssize_t n = rows * units;
    int unrolls = o[5] != Py_None && o[1] != Py_None && code == UNROLL;
    if ((o[9] != Py_None) != unrolls) {
        PyErr_SetString(PyExc_ValueError, "gru_step_backward: dout_prev goes with a mask, dout and unroll");
        return NULL;
    }
    Arg spec[10] = {{o[0], "dh", n, 0, 0},        {o[1], "dout", n, 0, 1},        {o[2], "post", 3 * n, 0, 0},
                    {o[3], "inner_h", n, 0, 0},   {o[4], "h_prev", n, 0, 0},      {o[5], "mask", rows, 0, 1},
                    {o[6], "dx", 3 * n, 1, 0},    {o[7], "dinner", 3 * n, 1, 0},  {o[8], "dh_skip", n, 1, 0},
                    {o[9], "dout_prev", n, 1, 1}};
    Buf b[10];
    float *scratch = acquire(spec, b, 10, 2 * units);
    if (scratch == NULL) {
        return NULL;
    }
    GRUGrads a = {ptr(&b[0]), ptr(&b[1]), ptr(&b[2]), ptr(&b[3]), ptr(&b[4]),
                  ptr(&b[5]), ptr(&b[6]), ptr(&b[7]), ptr(&b[8]), ptr(&b[9])};
    Py_BEGIN_ALLOW_THREADS
    gru_backward(&a, scratch, scratch + units, rows, units, code);
    Py_END_ALLOW_THREADS
    finish(b, 10, scratch);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ row scatter-add */

/* scatter_add_rows(out, idx, values): out[idx[i], :] += values[i, :] for i in order, as np.add.at adds
 * (repeated rows add up in index order, so the sums are the twin's bit for bit). out (n_rows, cols) and
 * values (len(idx), cols) float32, idx int64; negative indices count from the end, as in NumPy. */
static PyObject *scatter_add_rows(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *oo, *oi, *ov;
    Py_ssize_t n_rows;
    if (!PyArg_ParseTuple(args, "OOOn", &oo, &oi, &ov, &n_rows)) {
        return NULL;
    }
    Buf b[3];
    memset(b, 0, sizeof b);
    if (get_f32(oo, &b[0], 1, "out") || get_f32(ov, &b[2], 0, "values")) {
        release(b, 3);
        return NULL;
    }
    if (PyObject_GetBuffer(oi, &b[1].view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        release(b, 3);
        return NULL;
    }
    b[1].held = 1;
    Py_ssize_t count = b[1].view.len / 8;
    const char *fmt = b[1].view.format;
    int int64 = b[1].view.itemsize == 8 && fmt != NULL && (strcmp(fmt, "l") == 0 || strcmp(fmt, "q") == 0);
    if (!int64 || n_rows <= 0 || b[0].view.len % (n_rows * 4) != 0 ||
        b[2].view.len * n_rows != b[0].view.len * count) {
        PyErr_SetString(PyExc_ValueError, "scatter_add_rows: out (rows, cols), int64 idx (n,), values (n, cols)");
        release(b, 3);
        return NULL;
    }
    Py_ssize_t cols = b[0].view.len / (n_rows * 4);
    const int64_t *idx = b[1].view.buf;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (idx[i] < -n_rows || idx[i] >= n_rows) {
            PyErr_Format(PyExc_IndexError, "index %lld is out of bounds for axis 0 with size %zd", (long long)idx[i],
                         n_rows);
            release(b, 3);
            return NULL;
        }
    }
    float *out = b[0].view.buf;
    const float *values = b[2].view.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t row = idx[i] < 0 ? idx[i] + n_rows : idx[i];
        add_into(out + row * cols, values + i * cols, cols);
    }
    Py_END_ALLOW_THREADS
    release(b, 3);
    Py_RETURN_NONE;
}

PyMethodDef gk_recurrent_methods[] = {
    {"lstm_step", lstm_step, METH_VARARGS, "One LSTM step's gates, states and mask after the recurrent GEMM."},
    {"lstm_step_backward", lstm_step_backward, METH_VARARGS, "Its backward (all but the recurrent GEMM)."},
    {"gru_step", gru_step, METH_VARARGS, "One GRU (reset_after) step's gates, state and mask."},
    {"gru_step_backward", gru_step_backward, METH_VARARGS, "Its backward (all but the recurrent GEMM)."},
    {"scatter_add_rows", scatter_add_rows, METH_VARARGS, "out[idx[i]] += values[i] in order (np.add.at's sums)."},
    {NULL, NULL, 0, NULL},
};
