// Fused losses.
//   gk_sxent_fwd_<dtype>(logits, labels, loss, probs, rows, cols): one block per row (grid-stride
//     over rows): row max, sum of exp, loss = log(sum) - (logit[label] - max), probs = softmax.
//     labels are int64; a label outside [0, cols) gives a NaN loss.
//   gk_sxent_bwd_<dtype>(probs, labels, dloss, grad, rows, cols): probs * dloss[row] - onehot * dloss[row];
//     block (bx, 1) over columns, grid (ceil(cols / bx), gy) with grid-stride rows.
//   gk_sbce_fwd_<dtype>(logits, targets, loss, probs, n): sigmoid + binary cross-entropy from logits,
//     loss = t * softplus(-z) + (1 - t) * softplus(z), probs = sigmoid(z) (kept for the backward).
//   gk_sbce_bwd_<dtype>(probs, targets, dloss, grad, n): (sigmoid(z) - t) * dloss.
// The forward row kernel needs blockDim.x a multiple of 32.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void gk_sxent_fwd(const T* __restrict__ logits, const long long* __restrict__ labels,
                                             T* __restrict__ loss, T* __restrict__ probs, gk_index rows,
                                             gk_index cols) {
  __shared__ float smem[32];
  for (gk_index r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = logits + r * cols;
    const float2 ms = gk_softmax_row<false>(row, probs + r * cols, cols, smem);
    if (threadIdx.x == 0) {
      const long long lab = labels[r];
      const float value = (lab >= 0 && lab < cols) ? logf(ms.y) - (gk_load(row, lab) - ms.x) : GK_NAN;
      gk_store(loss, r, value);
    }
  }
}

template <typename T>
__device__ __forceinline__ void gk_sxent_bwd(const T* __restrict__ probs, const long long* __restrict__ labels,
                                             const T* __restrict__ dloss, T* __restrict__ grad, gk_index rows,
                                             gk_index cols) {
  const gk_index col = (gk_index)blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  for (gk_index r = blockIdx.y; r < rows; r += gridDim.y) {
    const gk_index i = r * cols + col;
    const float dl = gk_load(dloss, r);
    float g = __fmul_rn(gk_load(probs, i), dl);  // probs * dloss, minus dloss at the label (as base.py)
    if (labels[r] == col) g = __fsub_rn(g, dl);
    gk_store(grad, i, g);
  }
}

#define GK_XENT_KERNELS(T, S)                                                                             \
  extern "C" __global__ void gk_sxent_fwd_##S(const T* logits, const long long* labels, T* loss, T* probs, \
                                              gk_index rows, gk_index cols) {                             \
    gk_sxent_fwd<T>(logits, labels, loss, probs, rows, cols);                                             \
  }                                                                                                       \
  extern "C" __global__ void gk_sxent_bwd_##S(const T* probs, const long long* labels, const T* dloss,    \
                                              T* grad, gk_index rows, gk_index cols) {                    \
    gk_sxent_bwd<T>(probs, labels, dloss, grad, rows, cols);                                              \
  }                                                                                                       \
  extern "C" __global__ void gk_sbce_fwd_##S(const T* __restrict__ logits, const T* __restrict__ targets, \
                                             T* __restrict__ loss, T* __restrict__ probs, gk_index n) {   \
    GK_GRID_STRIDE(i, n) {                                                                                \
      const float z = gk_load(logits, i);                                                                 \
      const float t = gk_load(targets, i);                                                                \
      gk_store(loss, i, t * gk_softplus(-z) + (1.0f - t) * gk_softplus(z));                               \
      gk_store(probs, i, gk_sigmoid(z));                                                                  \
    }                                                                                                     \
  }                                                                                                       \
  extern "C" __global__ void gk_sbce_bwd_##S(const T* __restrict__ probs, const T* __restrict__ targets,  \
                                             const T* __restrict__ dloss, T* __restrict__ grad,           \
                                             gk_index n) {                                                \
    GK_GRID_STRIDE(i, n) {                                                                                \
      gk_store(grad, i, (gk_load(probs, i) - gk_load(targets, i)) * gk_load(dloss, i));                   \
    }                                                                                                     \
  }

GK_FOR_EACH_DTYPE(GK_XENT_KERNELS)
