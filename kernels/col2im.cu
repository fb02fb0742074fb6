// The input gradient of a 2-D convolution from its column gradients (col2im), as a gather: one
// thread per element of the padded input gradient dx (N, H, W, C) sums the entries of
// dcols (N, OH, OW, KH, KW, C) that came from it, in kernel-offset order, and adds the sum to dx.
// Twin: ConvolutionOps._col2im_add (one strided add per kernel offset); on a zero dx the sums are
// bit-identical to it (same additions in the same order).
//   gk_col2im_add_<dtype>(dx, dcols, n, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw)
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void gk_col2im_add(T* __restrict__ dx, const T* __restrict__ dcols, gk_index n,
                                              gk_index h, gk_index w, gk_index c, gk_index oh, gk_index ow,
                                              int kh, int kw, int sh, int sw, int dh, int dw) {
  GK_GRID_STRIDE(e, n * h * w * c) {
    const gk_nhwc q = gk_nhwc_of(e, h, w, c);
    const gk_index b = q.b, r = q.r, s = q.s, k = q.k;
    float acc = 0.0f;
    for (int u = 0; u < kh; ++u) {
      const gk_index ri = r - (gk_index)u * dh;
      if (ri < 0 || ri % sh != 0 || ri / sh >= oh) continue;
      const gk_index i = ri / sh;
      for (int v = 0; v < kw; ++v) {
        const gk_index sj = s - (gk_index)v * dw;
        if (sj < 0 || sj % sw != 0 || sj / sw >= ow) continue;
        const gk_index j = sj / sw;
        acc += gk_load(dcols, ((((b * oh + i) * ow + j) * kh + u) * kw + v) * c + k);
      }
    }
    gk_store(dx, e, gk_load(dx, e) + acc);
  }
}

#define GK_COL2IM_KERNELS(T, S)                                                                          \
  extern "C" __global__ void gk_col2im_add_##S(T* dx, const T* dcols, gk_index n, gk_index h, gk_index w, \
                                               gk_index c, gk_index oh, gk_index ow, int kh, int kw,     \
                                               int sh, int sw, int dh, int dw) {                         \
    gk_col2im_add<T>(dx, dcols, n, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw);                             \
  }

GK_FOR_EACH_DTYPE(GK_COL2IM_KERNELS)
