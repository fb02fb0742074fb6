// Bilinear up-sampling of images by whole factors (fh, fw), forward and backward (twin: ResamplingFusions
// in gpukeras/backend/fused/resampling.py). Keras 3's (jax.image.resize's) rule: output o along an axis
// of n inputs samples input o / f + t, t = (o % f + 0.5) / f - 0.5, between its two nearest inputs with
// weights by distance; the edge input stands in for a missing neighbour. Images are (N, H, W, C), or
// (N, C, H, W) when channels_first is 1.
//   gk_upsample_bilinear2d_fwd_<dtype>(x, y, n, c, h, w, fh, fw, channels_first)  one thread per output:
//     along H first, then W, each the "same" input's term then its neighbour's (the twin's order).
//   gk_upsample_bilinear2d_bwd_<dtype>(dy, dx, n, c, h, w, fh, fw, channels_first) one thread per input:
//     gathers dy times its weight over the outputs of input rows/columns i-1, i, i+1 (no atomics).
#include "common.cuh"

// The two inputs output o mixes along one axis (n inputs, factor f) and their weights: `same` (o / f)
// first, then the neighbour (clamped to the axis); the weights are the twin's float64 values rounded.
struct gk_taps {
  gk_index same, other;
  float w_same, w_other;
};
GK_HD gk_taps gk_bilinear_taps(gk_index o, int f, gk_index n) {
  const gk_index i = o / f;
  const double t = ((double)(o % f) + 0.5) / f - 0.5;
  gk_taps taps;
  taps.same = i;
  if (t < 0) {
    taps.other = i > 0 ? i - 1 : 0;
    taps.w_same = (float)(1.0 + t);
    taps.w_other = (float)(-t);
  } else {
    taps.other = i + 1 < n ? i + 1 : n - 1;
    taps.w_same = (float)(1.0 - t);
    taps.w_other = (float)t;
  }
  return taps;
}

// The weight with which input i takes part in output o (0 when it does not).
GK_HD float gk_bilinear_weight(gk_index o, int f, gk_index n, gk_index i) {
  const gk_taps taps = gk_bilinear_taps(o, f, n);
  return (taps.same == i ? taps.w_same : 0.0f) + (taps.w_other != 0.0f && taps.other == i ? taps.w_other : 0.0f);
}

// Flat index of (b, row, col, ch) in an (N, H, W, C) or (N, C, H, W) image batch.
GK_HD gk_index gk_image_at(gk_index b, gk_index row, gk_index col, gk_index ch, gk_index c, gk_index h,
                           gk_index w, int channels_first) {
  return channels_first ? ((b * c + ch) * h + row) * w + col : ((b * h + row) * w + col) * c + ch;
}

// (b, row, col, ch) of flat index e of an (N, H, W, C) or (N, C, H, W) batch.
GK_HD gk_nhwc gk_image_coords(gk_index e, gk_index c, gk_index h, gk_index w, int channels_first) {
  if (!channels_first) return gk_nhwc_of(e, h, w, c);
  return gk_nhwc{e / (c * h * w), (e / w) % h, e % w, (e / (h * w)) % c};
}

template <typename T>
__device__ __forceinline__ void gk_upsample_bilinear2d_fwd(const T* __restrict__ x, T* __restrict__ y,
                                                           gk_index n, gk_index c, gk_index h, gk_index w, int fh,
                                                           int fw, int channels_first) {
  const gk_index oh = h * fh, ow = w * fw;
  GK_GRID_STRIDE(o, n * c * oh * ow) {
    const gk_nhwc q = gk_image_coords(o, c, oh, ow, channels_first);
    const gk_taps rows = gk_bilinear_taps(q.r, fh, h);
    const gk_taps cols = gk_bilinear_taps(q.s, fw, w);
    float at_col[2];
    const gk_index col_of[2] = {cols.same, cols.other};
    for (int t = 0; t < 2; ++t) {  // the H pass at the two columns this output needs
      float z = gk_load(x, gk_image_at(q.b, rows.same, col_of[t], q.k, c, h, w, channels_first)) * rows.w_same;
      if (rows.w_other != 0.0f)
        z += gk_load(x, gk_image_at(q.b, rows.other, col_of[t], q.k, c, h, w, channels_first)) * rows.w_other;
      at_col[t] = z;
    }
    float out = at_col[0] * cols.w_same;
    if (cols.w_other != 0.0f) out += at_col[1] * cols.w_other;
    gk_store(y, o, out);
  }
}

template <typename T>
__device__ __forceinline__ void gk_upsample_bilinear2d_bwd(const T* __restrict__ dy, T* __restrict__ dx,
                                                           gk_index n, gk_index c, gk_index h, gk_index w, int fh,
                                                           int fw, int channels_first) {
  const gk_index oh = h * fh, ow = w * fw;
  GK_GRID_STRIDE(e, n * c * h * w) {
    const gk_nhwc q = gk_image_coords(e, c, h, w, channels_first);
    const gk_index r_lo = (q.r > 0 ? q.r - 1 : 0) * fh, r_hi = (q.r + 2 < h ? q.r + 2 : h) * fh;
    const gk_index s_lo = (q.s > 0 ? q.s - 1 : 0) * fw, s_hi = (q.s + 2 < w ? q.s + 2 : w) * fw;
    float acc = 0.0f;
    for (gk_index orow = r_lo; orow < r_hi; ++orow) {
      const float wr = gk_bilinear_weight(orow, fh, h, q.r);
      if (wr == 0.0f) continue;
      float row_sum = 0.0f;
      for (gk_index ocol = s_lo; ocol < s_hi; ++ocol) {
        const float wc = gk_bilinear_weight(ocol, fw, w, q.s);
        if (wc != 0.0f) row_sum += wc * gk_load(dy, gk_image_at(q.b, orow, ocol, q.k, c, oh, ow, channels_first));
      }
      acc += wr * row_sum;
    }
    gk_store(dx, e, acc);
  }
}

#define GK_UPSAMPLING_KERNELS(T, S)                                                                          \
  extern "C" __global__ void gk_upsample_bilinear2d_fwd_##S(const T* x, T* y, gk_index n, gk_index c,         \
                                                            gk_index h, gk_index w, int fh, int fw,           \
                                                            int channels_first) {                             \
    gk_upsample_bilinear2d_fwd<T>(x, y, n, c, h, w, fh, fw, channels_first);                                 \
  }                                                                                                          \
  extern "C" __global__ void gk_upsample_bilinear2d_bwd_##S(const T* dy, T* dx, gk_index n, gk_index c,       \
                                                            gk_index h, gk_index w, int fh, int fw,           \
                                                            int channels_first) {                             \
    gk_upsample_bilinear2d_bwd<T>(dy, dx, n, c, h, w, fh, fw, channels_first);                               \
  }

GK_FOR_EACH_DTYPE(GK_UPSAMPLING_KERNELS)
