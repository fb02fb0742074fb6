// Shared helpers for gpukeras kernels: dtype load/store, grid-stride loops, block reductions.
//
// Each .cu is compiled once per storage dtype: the loader (gpukeras/backend/kernels.py) defines
// exactly one of GK_F32 / GK_F16 / GK_BF16, so the float32 module never needs cuda_fp16.h
// (NVRTC may not find the CUDA headers). With none defined (the nvcc compile check) all are built.
// All arithmetic is done in float32; half types are converted on load and rounded once on store.
#pragma once

#if !defined(GK_F32) && !defined(GK_F16) && !defined(GK_BF16)
#define GK_F32 1
#define GK_F16 1
#define GK_BF16 1
#endif
#ifdef GK_F16
#include <cuda_fp16.h>
#endif
#ifdef GK_BF16
#include <cuda_bf16.h>
#endif

typedef long long gk_index;

// Formula helpers are host+device so tests can run them on the CPU through nvcc (host harness).
#define GK_HD __host__ __device__ __forceinline__

#define GK_NEG_INF __int_as_float(static_cast<int>(0xff800000u))
#define GK_NAN __int_as_float(0x7fc00000)
#define GK_FLT_MAX 3.402823466e+38f  // NVRTC has no <float.h> / <math.h> (no FLT_MAX, no INFINITY)

__device__ __forceinline__ float gk_to_float(float v) { return v; }
__device__ __forceinline__ void gk_from_float(float v, float* out) { *out = v; }
#ifdef GK_F16
__device__ __forceinline__ float gk_to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ void gk_from_float(float v, __half* out) { *out = __float2half_rn(v); }
#endif
#ifdef GK_BF16
__device__ __forceinline__ float gk_to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ void gk_from_float(float v, __nv_bfloat16* out) { *out = __float2bfloat16_rn(v); }
#endif

template <typename T>
__device__ __forceinline__ float gk_load(const T* p, gk_index i) { return gk_to_float(p[i]); }

template <typename T>
__device__ __forceinline__ void gk_store(T* p, gk_index i, float v) { gk_from_float(v, p + i); }

// for (i = global thread id; i < n; i += total threads)
#define GK_GRID_STRIDE(i, n)                                                            \
  for (gk_index i = (gk_index)blockIdx.x * blockDim.x + threadIdx.x; i < (gk_index)(n); \
       i += (gk_index)blockDim.x * gridDim.x)

// NumPy's maximum / minimum: a NaN operand gives NaN (fmaxf / fminf would return the other one,
// silently turning NaN activations into numbers and hiding a diverged model from TerminateOnNaN).
GK_HD float gk_max(float a, float b) { return (a != a || b != b) ? a + b : fmaxf(a, b); }
GK_HD float gk_min(float a, float b) { return (a != a || b != b) ? a + b : fminf(a, b); }

// Numerically stable logistic sigmoid: exp of a non-positive number only.
GK_HD float gk_sigmoid(float x) {
  const float e = expf(-fabsf(x));
  return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

// softplus(x) = max(x, 0) + log1p(exp(-|x|)), no overflow.
GK_HD float gk_softplus(float x) { return gk_max(x, 0.0f) + log1pf(expf(-fabsf(x))); }

__device__ __forceinline__ float gk_warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}

__device__ __forceinline__ float gk_warp_max(float v) {
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, off));
  return v;
}

// Block-wide sum / max, result returned to every thread. blockDim.x must be a multiple of 32
// (at most 1024); `smem` holds 32 floats. Safe to call repeatedly with the same smem.
__device__ __forceinline__ float gk_block_sum(float v, float* smem) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int nwarps = blockDim.x >> 5;
  v = gk_warp_sum(v);
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < nwarps ? smem[lane] : 0.0f;
    v = gk_warp_sum(v);
    if (lane == 0) smem[0] = v;
  }
  __syncthreads();
  return smem[0];
}

__device__ __forceinline__ float gk_block_max(float v, float* smem) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int nwarps = blockDim.x >> 5;
  v = gk_warp_max(v);
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < nwarps ? smem[lane] : GK_NEG_INF;
    v = gk_warp_max(v);
    if (lane == 0) smem[0] = v;
  }
  __syncthreads();
  return smem[0];
}

// One row's max and sum of exp(x - max) (blockDim.x threads stride over its cols), returned to
// every thread as (max, sum). A NaN in the row reaches the sum, so every softmax output is NaN.
template <typename T>
__device__ __forceinline__ float2 gk_row_max_sumexp(const T* row, gk_index cols, float* smem) {
  float m = GK_NEG_INF;
  for (gk_index c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, gk_load(row, c));
  m = gk_block_max(m, smem);
  float s = 0.0f;
  for (gk_index c = threadIdx.x; c < cols; c += blockDim.x) s += expf(gk_load(row, c) - m);
  return make_float2(m, gk_block_sum(s, smem));
}

// One row's softmax (or log-softmax) written to yr by the whole block; returns (max, sum of exp).
template <bool LOG, typename T>
__device__ __forceinline__ float2 gk_softmax_row(const T* xr, T* yr, gk_index cols, float* smem) {
  const float2 ms = gk_row_max_sumexp(xr, cols, smem);
  const float log_s = LOG ? logf(ms.y) : 0.0f;
  for (gk_index c = threadIdx.x; c < cols; c += blockDim.x) {
    const float shifted = gk_load(xr, c) - ms.x;
    gk_store(yr, c, LOG ? shifted - log_s : expf(shifted) / ms.y);
  }
  return ms;
}

// Coordinates of flat index e in a contiguous NHWC tensor (*, h, w, c): batch, row, column, channel.
struct gk_nhwc {
  gk_index b, r, s, k;
};
GK_HD gk_nhwc gk_nhwc_of(gk_index e, gk_index h, gk_index w, gk_index c) {
  return gk_nhwc{e / (c * w * h), (e / (c * w)) % h, (e / c) % w, e % c};
}

// The windows i in [*lo, *hi] (of `size` positions, starting at i * stride, count of them) that
// contain position p; empty when *lo > *hi.
GK_HD void gk_windows_containing(gk_index p, int size, int stride, gk_index count, gk_index* lo, gk_index* hi) {
  *lo = p >= size ? (p - size) / stride + 1 : 0;
  *hi = p / stride < count - 1 ? p / stride : count - 1;
}

// Instantiate MACRO(T, suffix) once per enabled storage dtype.
#ifdef GK_F32
#define GK_FOR_F32(M) M(float, f32)
#else
#define GK_FOR_F32(M)
#endif
#ifdef GK_F16
#define GK_FOR_F16(M) M(__half, f16)
#else
#define GK_FOR_F16(M)
#endif
#ifdef GK_BF16
#define GK_FOR_BF16(M) M(__nv_bfloat16, bf16)
#else
#define GK_FOR_BF16(M)
#endif
#define GK_FOR_EACH_DTYPE(M) GK_FOR_F32(M) GK_FOR_F16(M) GK_FOR_BF16(M)
