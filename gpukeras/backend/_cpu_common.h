/* What every _cpu_*.c file shares: float32 buffers through the buffer protocol, and the
 * vectorizing attributes. Functions here are static inline: each file gets its own copy. */
#ifndef GK_CPU_COMMON_H
#define GK_CPU_COMMON_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Py_buffer view;
    int held;
} Buf;

static inline int get_f32(PyObject *obj, Buf *b, int writable, const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    b->held = 0;
    if (PyObject_GetBuffer(obj, &b->view, flags) != 0) {
        return -1;
    }
    b->held = 1;
    if (b->view.itemsize != 4 || b->view.format == NULL || strcmp(b->view.format, "f") != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous float32 array", name);
        return -1;
    }
    return 0;
}

static inline void release(Buf *bufs, int n) {
    for (int i = 0; i < n; i++) {
        if (bufs[i].held) {
            PyBuffer_Release(&bufs[i].view);
            bufs[i].held = 0;
        }
    }
}

static inline int same_len(Buf *bufs, int n) {
    for (int i = 1; i < n; i++) {
        if (bufs[i].view.len != bufs[0].view.len) {
            PyErr_SetString(PyExc_ValueError, "all arrays must have the same number of elements");
            return -1;
        }
    }
    return 0;
}

/* The loops take restrict pointers and carry no branches, so the compiler vectorizes them;
 * target_clones adds an AVX2 build picked at load time on CPUs that have it. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* Method tables of the other files, added to the module by PyInit__cpu_kernels. */
extern PyMethodDef gk_recurrent_methods[];
extern PyMethodDef gk_windows_methods[];
extern PyMethodDef gk_normalization_methods[];
extern PyMethodDef gk_losses_methods[];

#endif
