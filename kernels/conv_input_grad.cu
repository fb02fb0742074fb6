// The input gradient of a 2-D convolution (also the forward of a transposed convolution) computed
// directly, without the column matrix: one thread per element of dx (N, H, W, Cin) sums
// dy (N, OH, OW, Cout) times kernel (KH, KW, Cin / groups, Cout) over the kernel offsets whose window
// holds it (row-major) and, per offset, over its group's output channels. Twin: WindowFusions.
// conv_input_grad (a GEMM into column gradients, then col2im), the same sums in another order.
// The generic path writes and reads KH*KW*Cout numbers per input pixel; this reads dy in place, so it
// is used where the per-element dot products are short (few output channels per group; the launcher
// decides), where the GEMM cannot make up for that memory traffic.
//   gk_conv_input_grad_direct_<dtype>(dy, k, dx, n, h, w, cin, oh, ow, cout, kh, kw, sh, sw, dh, dw, pt, pl,
//                                     groups)
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void gk_conv_input_grad_direct(const T* __restrict__ dy, const T* __restrict__ k,
                                                          T* __restrict__ dx, gk_index n, gk_index h, gk_index w,
                                                          gk_index cin, gk_index oh, gk_index ow, gk_index cout,
                                                          int kh, int kw, int sh, int sw, int dh, int dw, int pt,
                                                          int pl, int groups) {
  const gk_index cin_g = cin / groups, cout_g = cout / groups;
  GK_GRID_STRIDE(e, n * h * w * cin) {
    const gk_nhwc q = gk_nhwc_of(e, h, w, cin);
    const gk_index first = (q.k / cin_g) * cout_g;  // this input channel's group's first output channel
    const gk_index row_in_kernel = q.k % cin_g;
    float acc = 0.0f;
    for (int u = 0; u < kh; ++u) {
      const gk_index ri = q.r + pt - (gk_index)u * dh;
      if (ri < 0 || ri % sh != 0 || ri / sh >= oh) continue;
      const gk_index i = ri / sh;
      for (int v = 0; v < kw; ++v) {
        const gk_index sj = q.s + pl - (gk_index)v * dw;
        if (sj < 0 || sj % sw != 0 || sj / sw >= ow) continue;
        const gk_index j = sj / sw;
        const T* dyp = dy + ((q.b * oh + i) * ow + j) * cout + first;
        const T* kp = k + ((gk_index)(u * kw + v) * cin_g + row_in_kernel) * cout + first;
        float part = 0.0f;
        for (gk_index o = 0; o < cout_g; ++o) part += gk_load(dyp, o) * gk_load(kp, o);
        acc += part;
      }
    }
    gk_store(dx, e, acc);
  }
}

#define GK_CONV_INPUT_GRAD_KERNELS(T, S)                                                                        \
  extern "C" __global__ void gk_conv_input_grad_direct_##S(const T* dy, const T* k, T* dx, gk_index n,          \
                                                           gk_index h, gk_index w, gk_index cin, gk_index oh,   \
                                                           gk_index ow, gk_index cout, int kh, int kw, int sh,  \
                                                           int sw, int dh, int dw, int pt, int pl, int groups) { \
    gk_conv_input_grad_direct<T>(dy, k, dx, n, h, w, cin, oh, ow, cout, kh, kw, sh, sw, dh, dw, pt, pl, groups); \
  }

GK_FOR_EACH_DTYPE(GK_CONV_INPUT_GRAD_KERNELS)
