/* CPU kernels for the LSTM/GRU time step (twins in backend/fused/recurrent.py).
 * Same contract as _cpu_kernels.c: float32 arithmetic in the twin's order, GIL released. */
#include "_cpu_common.h"

PyMethodDef gk_recurrent_methods[] = {
    {NULL, NULL, 0, NULL},
};
