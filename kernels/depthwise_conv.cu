// Direct depthwise convolution over NHWC tensors (a 1-D input is H = 1), forward and both backwards
// (twin: DepthwiseFusions in gpukeras/backend/fused/depthwise.py). x (N, H, W, C), kernel (KH, KW, C, M),
// y (N, OH, OW, C*M) with output channel c*M + m; (pt, pl) zero rows/columns before the input,
// strides (sh, sw), dilation (dh, dw). No column matrix, no atomics.
//   gk_depthwise_conv_fwd_<dtype>(x, k, y, n, h, w, c, m, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl)
//     one thread per output element: its window times its kernel column, offsets in row-major order.
//   gk_depthwise_conv_bwd_input_<dtype>(dy, k, dx, n, h, w, c, m, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl)
//     one thread per input element: gathers dy * k over the outputs whose window holds it.
//   gk_depthwise_conv_bwd_kernel_<dtype>(x, dy, partial, n, h, w, c, m, oh, ow, kh, kw, sh, sw, dh, dw, pt,
//                                         pl, splits)
//     blocks of 32 x 8 threads, grid (ceil(C*M / 32), KH*KW, splits): block (t, o, z) sums x * dy for 32
//     output channels and kernel offset o over its share z of the N*OH*OW positions into
//     partial[z, o, channel] (float32); the caller adds the `splits` partial sums (deterministic).
#include "common.cuh"

#define GK_DW_TILE 32  // output channels per block of the kernel gradient (blockDim.x)
#define GK_DW_ROWS 8   // positions walked side by side per block (blockDim.y)

template <typename T>
__device__ __forceinline__ void gk_depthwise_conv_fwd(const T* __restrict__ x, const T* __restrict__ k,
                                                      T* __restrict__ y, gk_index n, gk_index h, gk_index w,
                                                      gk_index c, gk_index m, gk_index oh, gk_index ow, int kh,
                                                      int kw, int sh, int sw, int dh, int dw, int pt, int pl) {
  const gk_index cm = c * m;
  GK_GRID_STRIDE(o, n * oh * ow * cm) {
    const gk_nhwc q = gk_nhwc_of(o, oh, ow, cm);  // q.k: output channel
    const gk_index ch = q.k / m;
    float acc = 0.0f;
    for (int u = 0; u < kh; ++u) {
      const gk_index r = q.r * sh + (gk_index)u * dh - pt;
      if (r < 0 || r >= h) continue;
      for (int v = 0; v < kw; ++v) {
        const gk_index s = q.s * sw + (gk_index)v * dw - pl;
        if (s < 0 || s >= w) continue;
        acc += gk_load(x, ((q.b * h + r) * w + s) * c + ch) * gk_load(k, (u * kw + v) * cm + q.k);
      }
    }
    gk_store(y, o, acc);
  }
}

// The output position i (along one axis) whose window holds input position p at kernel offset u, or -1.
GK_HD gk_index gk_dw_source(gk_index p, int u, int stride, int dilation, int pad, gk_index count) {
  const gk_index shifted = p + pad - (gk_index)u * dilation;
  if (shifted < 0 || shifted % stride != 0 || shifted / stride >= count) return -1;
  return shifted / stride;
}

template <typename T>
__device__ __forceinline__ void gk_depthwise_conv_bwd_input(const T* __restrict__ dy, const T* __restrict__ k,
                                                            T* __restrict__ dx, gk_index n, gk_index h,
                                                            gk_index w, gk_index c, gk_index m, gk_index oh,
                                                            gk_index ow, int kh, int kw, int sh, int sw, int dh,
                                                            int dw, int pt, int pl) {
  const gk_index cm = c * m;
  GK_GRID_STRIDE(e, n * h * w * c) {
    const gk_nhwc q = gk_nhwc_of(e, h, w, c);
    float acc = 0.0f;
    for (int u = 0; u < kh; ++u) {
      const gk_index i = gk_dw_source(q.r, u, sh, dh, pt, oh);
      if (i < 0) continue;
      for (int v = 0; v < kw; ++v) {
        const gk_index j = gk_dw_source(q.s, v, sw, dw, pl, ow);
        if (j < 0) continue;
        const gk_index at = ((q.b * oh + i) * ow + j) * cm + q.k * m;
        const gk_index kat = (u * kw + v) * cm + q.k * m;
        float part = 0.0f;
        for (gk_index mm = 0; mm < m; ++mm) part += gk_load(dy, at + mm) * gk_load(k, kat + mm);
        acc += part;
      }
    }
    gk_store(dx, e, acc);
  }
}

template <typename T>
__device__ __forceinline__ void gk_depthwise_conv_bwd_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                                                             float* __restrict__ partial, gk_index n, gk_index h,
                                                             gk_index w, gk_index c, gk_index m, gk_index oh,
                                                             gk_index ow, int kh, int kw, int sh, int sw, int dh,
                                                             int dw, int pt, int pl, int splits) {
  __shared__ float sums[GK_DW_ROWS][GK_DW_TILE + 1];
  const gk_index cm = c * m;
  const gk_index out_ch = (gk_index)blockIdx.x * GK_DW_TILE + threadIdx.x;
  const int u = blockIdx.y / kw, v = blockIdx.y % kw;
  const gk_index positions = n * oh * ow;
  const gk_index chunk = (positions + splits - 1) / splits;
  const gk_index begin = (gk_index)blockIdx.z * chunk;
  const gk_index end = begin + chunk < positions ? begin + chunk : positions;
  float acc = 0.0f;
  if (out_ch < cm) {
    const gk_index ch = out_ch / m;
    for (gk_index p = begin + threadIdx.y; p < end; p += GK_DW_ROWS) {
      const gk_index j = p % ow, i = (p / ow) % oh, b = p / (ow * oh);
      const gk_index r = i * sh + (gk_index)u * dh - pt;
      const gk_index s = j * sw + (gk_index)v * dw - pl;
      if (r < 0 || r >= h || s < 0 || s >= w) continue;
      acc += gk_load(x, ((b * h + r) * w + s) * c + ch) * gk_load(dy, p * cm + out_ch);
    }
  }
  sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && out_ch < cm) {
    float total = 0.0f;
    for (int row = 0; row < GK_DW_ROWS; ++row) total += sums[row][threadIdx.x];
    partial[((gk_index)blockIdx.z * kh * kw + blockIdx.y) * cm + out_ch] = total;
  }
}

#define GK_DEPTHWISE_KERNELS(T, S)                                                                              \
  extern "C" __global__ void gk_depthwise_conv_fwd_##S(const T* x, const T* k, T* y, gk_index n, gk_index h,    \
                                                       gk_index w, gk_index c, gk_index m, gk_index oh,         \
                                                       gk_index ow, int kh, int kw, int sh, int sw, int dh,     \
                                                       int dw, int pt, int pl) {                                \
    gk_depthwise_conv_fwd<T>(x, k, y, n, h, w, c, m, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl);                   \
  }                                                                                                             \
  extern "C" __global__ void gk_depthwise_conv_bwd_input_##S(const T* dy, const T* k, T* dx, gk_index n,        \
                                                             gk_index h, gk_index w, gk_index c, gk_index m,    \
                                                             gk_index oh, gk_index ow, int kh, int kw, int sh,  \
                                                             int sw, int dh, int dw, int pt, int pl) {          \
    gk_depthwise_conv_bwd_input<T>(dy, k, dx, n, h, w, c, m, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl);           \
  }                                                                                                             \
  extern "C" __global__ void gk_depthwise_conv_bwd_kernel_##S(const T* x, const T* dy, float* partial,          \
                                                              gk_index n, gk_index h, gk_index w, gk_index c,   \
                                                              gk_index m, gk_index oh, gk_index ow, int kh,     \
                                                              int kw, int sh, int sw, int dh, int dw, int pt,   \
                                                              int pl, int splits) {                             \
    gk_depthwise_conv_bwd_kernel<T>(x, dy, partial, n, h, w, c, m, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl,      \
                                    splits);                                                                    \
  }

GK_FOR_EACH_DTYPE(GK_DEPTHWISE_KERNELS)
