/* CPU kernels for sliding windows: im2col / col2im for convolution (twins in backend/fused/windows.py).
 * Same contract as _cpu_kernels.c: float32 arithmetic in the twin's order, GIL released. */
#include "_cpu_common.h"

PyMethodDef gk_windows_methods[] = {
    {NULL, NULL, 0, NULL},
};
