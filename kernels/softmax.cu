// Softmax and log-softmax over the last axis, forward and backward, one block per row
// (grid-stride over rows; blockDim.x a multiple of 32). Formulas and order as base.py:
//   softmax:     y = exp(x - max) / sum(exp(x - max))       dx = y * (dy - sum(dy * y))
//   log_softmax: y = (x - max) - log(sum(exp(x - max)))     dx = dy - exp(y) * sum(dy)
//   gk_<name>_fwd_<dtype>(x, y, rows, cols);  gk_<name>_bwd_<dtype>(dy, y, dx, rows, cols)
#include "common.cuh"

template <bool LOG, typename T>
__device__ __forceinline__ void gk_softmax_fwd(const T* __restrict__ x, T* __restrict__ y, gk_index rows,
                                               gk_index cols) {
  __shared__ float smem[32];
  for (gk_index r = blockIdx.x; r < rows; r += gridDim.x) gk_softmax_row<LOG>(x + r * cols, y + r * cols, cols, smem);
}

template <bool LOG, typename T>
__device__ __forceinline__ void gk_softmax_bwd(const T* __restrict__ dy, const T* __restrict__ y,
                                               T* __restrict__ dx, gk_index rows, gk_index cols) {
  __shared__ float smem[32];
  for (gk_index r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* dyr = dy + r * cols;
    const T* yr = y + r * cols;
    T* dxr = dx + r * cols;
    float s = 0.0f;
    for (gk_index c = threadIdx.x; c < cols; c += blockDim.x) {
      s += LOG ? gk_load(dyr, c) : gk_load(dyr, c) * gk_load(yr, c);
    }
    s = gk_block_sum(s, smem);
    for (gk_index c = threadIdx.x; c < cols; c += blockDim.x) {
      const float g = gk_load(dyr, c);
      const float v = gk_load(yr, c);
      gk_store(dxr, c, LOG ? g - expf(v) * s : v * (g - s));
    }
  }
}

#define GK_SOFTMAX_KERNELS(T, S)                                                                          \
  extern "C" __global__ void gk_softmax_fwd_##S(const T* x, T* y, gk_index rows, gk_index cols) {        \
    gk_softmax_fwd<false, T>(x, y, rows, cols);                                                           \
  }                                                                                                       \
  extern "C" __global__ void gk_log_softmax_fwd_##S(const T* x, T* y, gk_index rows, gk_index cols) {    \
    gk_softmax_fwd<true, T>(x, y, rows, cols);                                                            \
  }                                                                                                       \
  extern "C" __global__ void gk_softmax_bwd_##S(const T* dy, const T* y, T* dx, gk_index rows,           \
                                                gk_index cols) {                                          \
    gk_softmax_bwd<false, T>(dy, y, dx, rows, cols);                                                      \
  }                                                                                                       \
  extern "C" __global__ void gk_log_softmax_bwd_##S(const T* dy, const T* y, T* dx, gk_index rows,       \
                                                    gk_index cols) {                                      \
    gk_softmax_bwd<true, T>(dy, y, dx, rows, cols);                                                       \
  }

GK_FOR_EACH_DTYPE(GK_SOFTMAX_KERNELS)
