// Elementwise activation forward and backward, one kernel per (activation, dtype):
//   gk_act_<name>_fwd_<dtype>(x, y, n, p0, p1, p2)         y = act(x)
//   gk_act_<name>_bwd_<dtype>(dy, x, y, dx, n, p0, p1, p2)  dx = dy * act'(x) (y = forward output)
// Grid-stride loops; math in float32, one rounding on store for half types.
#include "act_functions.cuh"

#define GK_ACT_KERNELS(T, S, NAME, A)                                                              \
  extern "C" __global__ void gk_act_##NAME##_fwd_##S(const T* __restrict__ x, T* __restrict__ y,   \
                                                     gk_index n, float p0, float p1, float p2) {   \
    GK_GRID_STRIDE(i, n) { gk_store(y, i, gk_act<A>(gk_load(x, i), p0, p1, p2)); }                 \
  }                                                                                                \
  extern "C" __global__ void gk_act_##NAME##_bwd_##S(const T* __restrict__ dy, const T* __restrict__ x, \
                                                     const T* __restrict__ y, T* __restrict__ dx,  \
                                                     gk_index n, float p0, float p1, float p2) {   \
    GK_GRID_STRIDE(i, n) {                                                                         \
      gk_store(dx, i, gk_dact<A>(gk_load(dy, i), gk_load(x, i), gk_load(y, i), p0, p1, p2));       \
    }                                                                                              \
  }

#define GK_ACT_ALL(T, S) GK_ACTIVATION_LIST(GK_ACT_KERNELS, T, S)
GK_FOR_EACH_DTYPE(GK_ACT_ALL)
