// Normalization kernels. Twin: ConvolutionOps.normalize / normalize_backward (two-pass mean then
// biased variance; dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) * inv_std).
// Batch normalization, statistics over every axis but the last (NHWC / (N, C)), per channel:
//   gk_bn_sums_<dtype>(a, b, center, partial1, partial2, rows, cols, mode)   column sums per row tile:
//     mode 0: sum a;  mode 1: sum (a - center)^2;  mode 2: sum a and sum a*b (dy and dy*xhat)
//     block (32, 8), grid (ceil(cols / 32), parts): partials (parts, cols), float32, no atomics
//   gk_bn_finish_f32(partial1, partial2, out1, out2, parts, cols, scale)  out = scale * sum of parts (any dtype)
//   gk_bn_apply_<dtype>(x, mean, inv, gamma, beta, xhat, y, rows, cols)  xhat = (x-mean)*inv; y = xhat*g + b
//   gk_bn_grad_<dtype>(dy, xhat, inv, gamma, sum_dy, sum_dy_xhat, dx, rows, cols)
//     dx = (dy*g - g*sum_dy/rows - xhat * g*sum_dy_xhat/rows) * inv
// mean, inv, gamma, beta and the sums are float32 (cols,); gamma / beta may be null (1 / 0).
// Layer normalization, statistics over the last axis, one block per row (blockDim.x a multiple of 32):
//   gk_ln_fwd_<dtype>(x, gamma, beta, xhat, y, mean, var, inv, rows, cols, eps)  (mean/var/inv: float32 rows)
//   gk_ln_bwd_<dtype>(dy, xhat, inv, gamma, dx, rows, cols); dgamma / dbeta come from gk_bn_sums mode 2.
// Group normalization, x channels-last viewed as (N, S, G, Cg), statistics over S and Cg per (n, g), one
// block per (n, g) (blockDim.x a multiple of 32); gamma / beta float32 (G * Cg,), statistics float32 (N * G,):
//   gk_gn_fwd_<dtype>(x, gamma, beta, xhat, y, mean, var, inv, n, s, g, cg, eps)
//   gk_gn_bwd_<dtype>(dy, xhat, inv, gamma, dx, n, s, g, cg); dgamma / dbeta come from gk_bn_sums mode 2.
#include "common.cuh"

#define GK_BN_TX 32
#define GK_BN_TY 8

template <typename T>
__device__ __forceinline__ void gk_bn_sums(const T* __restrict__ a, const T* __restrict__ b,
                                           const float* __restrict__ center, float* __restrict__ partial1,
                                           float* __restrict__ partial2, gk_index rows, gk_index cols, int mode) {
  __shared__ float tile1[GK_BN_TY][GK_BN_TX + 1];
  __shared__ float tile2[GK_BN_TY][GK_BN_TX + 1];
  const gk_index col = (gk_index)blockIdx.x * GK_BN_TX + threadIdx.x;
  float s1 = 0.0f;
  float s2 = 0.0f;
  if (col < cols) {
    const float m = mode == 1 ? center[col] : 0.0f;
    for (gk_index r = (gk_index)blockIdx.y * GK_BN_TY + threadIdx.y; r < rows; r += (gk_index)gridDim.y * GK_BN_TY) {
      const float v = gk_load(a, r * cols + col);
      if (mode == 1) {
        const float d = v - m;
        s1 += d * d;
      } else {
        s1 += v;
        if (mode == 2) s2 += v * gk_load(b, r * cols + col);
      }
    }
  }
  tile1[threadIdx.y][threadIdx.x] = s1;
  tile2[threadIdx.y][threadIdx.x] = s2;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    float t1 = 0.0f;
    float t2 = 0.0f;
    for (int k = 0; k < GK_BN_TY; ++k) {
      t1 += tile1[k][threadIdx.x];
      t2 += tile2[k][threadIdx.x];
    }
    partial1[(gk_index)blockIdx.y * cols + col] = t1;
    if (mode == 2) partial2[(gk_index)blockIdx.y * cols + col] = t2;
  }
}

template <typename T>
__device__ __forceinline__ void gk_bn_apply(const T* __restrict__ x, const float* __restrict__ mean,
                                            const float* __restrict__ inv, const float* __restrict__ gamma,
                                            const float* __restrict__ beta, T* __restrict__ xhat, T* __restrict__ y,
                                            gk_index rows, gk_index cols) {
  GK_GRID_STRIDE(i, rows * cols) {
    const gk_index c = i % cols;
    T ht;
    gk_from_float((gk_load(x, i) - mean[c]) * inv[c], &ht);  // xhat is stored, then used as stored
    xhat[i] = ht;
    float v = gk_to_float(ht);
    if (gamma != nullptr) v *= gamma[c];
    if (beta != nullptr) v += beta[c];
    gk_store(y, i, v);
  }
}

template <typename T>
__device__ __forceinline__ void gk_bn_grad(const T* __restrict__ dy, const T* __restrict__ xhat,
                                           const float* __restrict__ inv, const float* __restrict__ gamma,
                                           const float* __restrict__ sum_dy, const float* __restrict__ sum_dy_xhat,
                                           T* __restrict__ dx, gk_index rows, gk_index cols) {
  const float n = (float)rows;
  GK_GRID_STRIDE(i, rows * cols) {
    const gk_index c = i % cols;
    const float g = gamma != nullptr ? gamma[c] : 1.0f;
    const float mean_dxhat = g * sum_dy[c] / n;
    const float mean_dxhat_xhat = g * sum_dy_xhat[c] / n;
    const float h = gk_load(xhat, i);
    gk_store(dx, i, (gk_load(dy, i) * g - mean_dxhat - h * mean_dxhat_xhat) * inv[c]);
  }
}

extern "C" __global__ void gk_bn_finish_f32(const float* __restrict__ partial1, const float* __restrict__ partial2,
                                        float* __restrict__ out1, float* __restrict__ out2, gk_index parts,
                                        gk_index cols, float scale) {
  GK_GRID_STRIDE(c, cols) {
    float t1 = 0.0f;
    float t2 = 0.0f;
    for (gk_index p = 0; p < parts; ++p) {
      t1 += partial1[p * cols + c];
      if (partial2 != nullptr) t2 += partial2[p * cols + c];
    }
    out1[c] = t1 * scale;
    if (out2 != nullptr) out2[c] = t2 * scale;
  }
}

template <typename T>
__device__ __forceinline__ void gk_ln_fwd(const T* __restrict__ x, const float* __restrict__ gamma,
                                         const float* __restrict__ beta, T* __restrict__ xhat, T* __restrict__ y,
                                         float* __restrict__ mean, float* __restrict__ var, float* __restrict__ inv,
                                         gk_index rows, gk_index cols, float eps) {
  __shared__ float smem[32];
  for (gk_index r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * cols;
    float s = 0.0f;
    for (gk_index c = threadIdx.x; c < cols; c += blockDim.x) s += gk_load(xr, c);
    const float m = gk_block_sum(s, smem) / (float)cols;
    float q = 0.0f;
    for (gk_index c = threadIdx.x; c < cols; c += blockDim.x) {
      const float d = gk_load(xr, c) - m;
      q += d * d;
    }
    const float v = gk_block_sum(q, smem) / (float)cols;
    const float iv = 1.0f / sqrtf(v + eps);
    for (gk_index c = threadIdx.x; c < cols; c += blockDim.x) {
      T ht;
      gk_from_float((gk_load(xr, c) - m) * iv, &ht);
      xhat[r * cols + c] = ht;
      float out = gk_to_float(ht);
      if (gamma != nullptr) out *= gamma[c];
      if (beta != nullptr) out += beta[c];
      gk_store(y, r * cols + c, out);
    }
    if (threadIdx.x == 0) {
      mean[r] = m;
      var[r] = v;
      inv[r] = iv;
    }
  }
}

template <typename T>
__device__ __forceinline__ void gk_ln_bwd(const T* __restrict__ dy, const T* __restrict__ xhat,
                                         const float* __restrict__ inv, const float* __restrict__ gamma,
                                         T* __restrict__ dx, gk_index rows, gk_index cols) {
  __shared__ float smem[32];
  for (gk_index r = blockIdx.x; r < rows; r += gridDim.x) {
    const gk_index base = r * cols;
    float s1 = 0.0f;
    float s2 = 0.0f;
    for (gk_index c = threadIdx.x; c < cols; c += blockDim.x) {
      const float g = gk_load(dy, base + c) * (gamma != nullptr ? gamma[c] : 1.0f);
      s1 += g;
      s2 += g * gk_load(xhat, base + c);
    }
    const float mean_g = gk_block_sum(s1, smem) / (float)cols;
    const float mean_gx = gk_block_sum(s2, smem) / (float)cols;
    for (gk_index c = threadIdx.x; c < cols; c += blockDim.x) {
      const float g = gk_load(dy, base + c) * (gamma != nullptr ? gamma[c] : 1.0f);
      gk_store(dx, base + c, (g - mean_g - gk_load(xhat, base + c) * mean_gx) * inv[r]);
    }
  }
}

// Offset of the k-th element (k < s * cg) of group (n, g) in the (N, S, G, Cg) layout.
__device__ __forceinline__ gk_index gk_gn_offset(gk_index ng, gk_index k, gk_index s, gk_index g, gk_index cg) {
  const gk_index n = ng / g;
  return ((n * s + k / cg) * g + ng % g) * cg + k % cg;
}

template <typename T>
__device__ __forceinline__ void gk_gn_fwd(const T* __restrict__ x, const float* __restrict__ gamma,
                                         const float* __restrict__ beta, T* __restrict__ xhat, T* __restrict__ y,
                                         float* __restrict__ mean, float* __restrict__ var, float* __restrict__ inv,
                                         gk_index n, gk_index s, gk_index g, gk_index cg, float eps) {
  __shared__ float smem[32];
  const gk_index count = s * cg;
  for (gk_index ng = blockIdx.x; ng < n * g; ng += gridDim.x) {
    float acc = 0.0f;
    for (gk_index k = threadIdx.x; k < count; k += blockDim.x) acc += gk_load(x, gk_gn_offset(ng, k, s, g, cg));
    const float m = gk_block_sum(acc, smem) / (float)count;
    float q = 0.0f;
    for (gk_index k = threadIdx.x; k < count; k += blockDim.x) {
      const float d = gk_load(x, gk_gn_offset(ng, k, s, g, cg)) - m;
      q += d * d;
    }
    const float v = gk_block_sum(q, smem) / (float)count;
    const float iv = 1.0f / sqrtf(v + eps);
    for (gk_index k = threadIdx.x; k < count; k += blockDim.x) {
      const gk_index i = gk_gn_offset(ng, k, s, g, cg);
      const gk_index p = (ng % g) * cg + k % cg;
      T ht;
      gk_from_float((gk_load(x, i) - m) * iv, &ht);  // xhat is stored, then used as stored
      xhat[i] = ht;
      float out = gk_to_float(ht);
      if (gamma != nullptr) out *= gamma[p];
      if (beta != nullptr) out += beta[p];
      gk_store(y, i, out);
    }
    if (threadIdx.x == 0) {
      mean[ng] = m;
      var[ng] = v;
      inv[ng] = iv;
    }
  }
}

template <typename T>
__device__ __forceinline__ void gk_gn_bwd(const T* __restrict__ dy, const T* __restrict__ xhat,
                                         const float* __restrict__ inv, const float* __restrict__ gamma,
                                         T* __restrict__ dx, gk_index n, gk_index s, gk_index g, gk_index cg) {
  __shared__ float smem[32];
  const gk_index count = s * cg;
  for (gk_index ng = blockIdx.x; ng < n * g; ng += gridDim.x) {
    float s1 = 0.0f;
    float s2 = 0.0f;
    for (gk_index k = threadIdx.x; k < count; k += blockDim.x) {
      const gk_index i = gk_gn_offset(ng, k, s, g, cg);
      const float d = gk_load(dy, i) * (gamma != nullptr ? gamma[(ng % g) * cg + k % cg] : 1.0f);
      s1 += d;
      s2 += d * gk_load(xhat, i);
    }
    const float mean_d = gk_block_sum(s1, smem) / (float)count;
    const float mean_dx = gk_block_sum(s2, smem) / (float)count;
    for (gk_index k = threadIdx.x; k < count; k += blockDim.x) {
      const gk_index i = gk_gn_offset(ng, k, s, g, cg);
      const float d = gk_load(dy, i) * (gamma != nullptr ? gamma[(ng % g) * cg + k % cg] : 1.0f);
      gk_store(dx, i, (d - mean_d - gk_load(xhat, i) * mean_dx) * inv[ng]);
    }
  }
}

#define GK_BN_KERNELS(T, S)                                                                                \
  extern "C" __global__ void __launch_bounds__(GK_BN_TX * GK_BN_TY)                                        \
      gk_bn_sums_##S(const T* a, const T* b, const float* center, float* partial1, float* partial2,        \
                     gk_index rows, gk_index cols, int mode) {                                             \
    gk_bn_sums<T>(a, b, center, partial1, partial2, rows, cols, mode);                                     \
  }                                                                                                        \
  extern "C" __global__ void gk_bn_apply_##S(const T* x, const float* mean, const float* inv,              \
                                             const float* gamma, const float* beta, T* xhat, T* y,         \
                                             gk_index rows, gk_index cols) {                               \
    gk_bn_apply<T>(x, mean, inv, gamma, beta, xhat, y, rows, cols);                                        \
  }                                                                                                        \
  extern "C" __global__ void gk_bn_grad_##S(const T* dy, const T* xhat, const float* inv, const float* gamma, \
                                            const float* sum_dy, const float* sum_dy_xhat, T* dx,          \
                                            gk_index rows, gk_index cols) {                                \
    gk_bn_grad<T>(dy, xhat, inv, gamma, sum_dy, sum_dy_xhat, dx, rows, cols);                              \
  }                                                                                                        \
  extern "C" __global__ void gk_ln_fwd_##S(const T* x, const float* gamma, const float* beta, T* xhat, T* y, \
                                           float* mean, float* var, float* inv, gk_index rows, gk_index cols, \
                                           float eps) {                                                    \
    gk_ln_fwd<T>(x, gamma, beta, xhat, y, mean, var, inv, rows, cols, eps);                                \
  }                                                                                                        \
  extern "C" __global__ void gk_ln_bwd_##S(const T* dy, const T* xhat, const float* inv, const float* gamma, \
                                           T* dx, gk_index rows, gk_index cols) {                          \
    gk_ln_bwd<T>(dy, xhat, inv, gamma, dx, rows, cols);                                                    \
  }                                                                                                        \
  extern "C" __global__ void gk_gn_fwd_##S(const T* x, const float* gamma, const float* beta, T* xhat, T* y, \
                                           float* mean, float* var, float* inv, gk_index n, gk_index s,    \
                                           gk_index g, gk_index cg, float eps) {                           \
    gk_gn_fwd<T>(x, gamma, beta, xhat, y, mean, var, inv, n, s, g, cg, eps);                               \
  }                                                                                                        \
  extern "C" __global__ void gk_gn_bwd_##S(const T* dy, const T* xhat, const float* inv, const float* gamma, \
                                           T* dx, gk_index n, gk_index s, gk_index g, gk_index cg) {       \
    gk_gn_bwd<T>(dy, xhat, inv, gamma, dx, n, s, g, cg);                                                   \
  }

GK_FOR_EACH_DTYPE(GK_BN_KERNELS)
