// 2-D max and average pooling over NHWC tensors with "valid" windows, forward and backward
// (twins: ConvolutionOps.pool / pool_backward, and the C kernels max_pool2d / max_pool2d_grad).
// Max: a NaN in a window gives NaN. The gradient of a window goes to its first maximum in
// row-major window order (TensorFlow's rule); a window whose maximum is NaN credits nobody.
// Average: the window sum in window order times scale = 1 / (ph * pw) (float32, as the twin).
//   gk_max_pool2d_fwd_<dtype>(x, y, n, h, w, c, ph, pw, sh, sw)       one thread per output
//   gk_max_pool2d_bwd_<dtype>(x, y, dy, dx, n, h, w, c, ph, pw, sh, sw) one thread per input: it
//     gathers dy over the windows that contain it (no atomics, any overlap, every dx written once).
//   gk_avg_pool2d_fwd_<dtype>(x, y, n, h, w, c, ph, pw, sh, sw, scale)
//   gk_avg_pool2d_bwd_<dtype>(dy, dx, n, h, w, c, ph, pw, sh, sw, scale)
#include "common.cuh"

// One thread per output element: fold(acc, value, first) over its window in row-major order,
// then y = finish(acc).
template <typename T, typename Fold, typename Finish>
__device__ __forceinline__ void gk_pool2d_reduce(const T* __restrict__ x, T* __restrict__ y, gk_index n,
                                                 gk_index h, gk_index w, gk_index c, int ph, int pw, int sh,
                                                 int sw, Fold&& fold, Finish&& finish) {
  const gk_index oh = (h - ph) / sh + 1;
  const gk_index ow = (w - pw) / sw + 1;
  GK_GRID_STRIDE(o, n * oh * ow * c) {
    const gk_nhwc q = gk_nhwc_of(o, oh, ow, c);
    float acc = 0.0f;
    for (int u = 0; u < ph; ++u) {
      for (int v = 0; v < pw; ++v) {
        acc = fold(acc, gk_load(x, ((q.b * h + q.r * sh + u) * w + q.s * sw + v) * c + q.k), u == 0 && v == 0);
      }
    }
    gk_store(y, o, finish(acc));
  }
}

template <typename T>
__device__ __forceinline__ void gk_max_pool2d_fwd(const T* __restrict__ x, T* __restrict__ y, gk_index n,
                                                  gk_index h, gk_index w, gk_index c, int ph, int pw, int sh,
                                                  int sw) {
  gk_pool2d_reduce(
      x, y, n, h, w, c, ph, pw, sh, sw,
      [](float best, float val, bool first) { return (first || val > best || val != val) ? val : best; },  // NaN sticks
      [](float best) { return best; });
}

// One thread per input element: dx = sum over the windows (i, j) containing it of credit(b, i, j, k,
// position of the element inside the window), in window order; every dx element written once.
template <typename T, typename F>
__device__ __forceinline__ void gk_pool2d_gather(T* __restrict__ dx, gk_index n, gk_index h, gk_index w,
                                                 gk_index c, int ph, int pw, int sh, int sw, F&& credit) {
  const gk_index oh = (h - ph) / sh + 1;
  const gk_index ow = (w - pw) / sw + 1;
  GK_GRID_STRIDE(e, n * h * w * c) {
    const gk_nhwc q = gk_nhwc_of(e, h, w, c);
    gk_index i_lo, i_hi, j_lo, j_hi;
    gk_windows_containing(q.r, ph, sh, oh, &i_lo, &i_hi);
    gk_windows_containing(q.s, pw, sw, ow, &j_lo, &j_hi);
    float acc = 0.0f;
    for (gk_index i = i_lo; i <= i_hi; ++i) {
      for (gk_index j = j_lo; j <= j_hi; ++j) {
        const int inside = (int)((q.r - i * sh) * pw + (q.s - j * sw));
        acc += credit(((q.b * oh + i) * ow + j) * c + q.k, q.b, i, j, q.k, inside);
      }
    }
    gk_store(dx, e, acc);
  }
}

template <typename T>
__device__ __forceinline__ void gk_max_pool2d_bwd(const T* __restrict__ x, const T* __restrict__ y,
                                                  const T* __restrict__ dy, T* __restrict__ dx, gk_index n,
                                                  gk_index h, gk_index w, gk_index c, int ph, int pw, int sh,
                                                  int sw) {
  gk_pool2d_gather(dx, n, h, w, c, ph, pw, sh, sw,
                   [=](gk_index at, gk_index b, gk_index i, gk_index j, gk_index k, int mine) {
                     const float top = gk_load(y, at);
                     int first = -1;  // the first position of the window holding its maximum
                     for (int u = 0; u < ph && first < 0; ++u) {
                       for (int v = 0; v < pw; ++v) {
                         if (gk_load(x, ((b * h + i * sh + u) * w + j * sw + v) * c + k) == top) {
                           first = u * pw + v;
                           break;
                         }
                       }
                     }
                     return (first == mine ? 1.0f : 0.0f) * gk_load(dy, at);  // 0 * NaN = NaN, as the twin
                   });
}

template <typename T>
__device__ __forceinline__ void gk_avg_pool2d_fwd(const T* __restrict__ x, T* __restrict__ y, gk_index n,
                                                  gk_index h, gk_index w, gk_index c, int ph, int pw, int sh,
                                                  int sw, float scale) {
  gk_pool2d_reduce(
      x, y, n, h, w, c, ph, pw, sh, sw, [](float acc, float val, bool) { return acc + val; },
      [=](float acc) { return acc * scale; });
}

template <typename T>
__device__ __forceinline__ void gk_avg_pool2d_bwd(const T* __restrict__ dy, T* __restrict__ dx, gk_index n,
                                                  gk_index h, gk_index w, gk_index c, int ph, int pw, int sh,
                                                  int sw, float scale) {
  gk_pool2d_gather(dx, n, h, w, c, ph, pw, sh, sw,
                   [=](gk_index at, gk_index, gk_index, gk_index, gk_index, int) { return gk_load(dy, at) * scale; });
}

#define GK_POOL_KERNELS(T, S)                                                                            \
  extern "C" __global__ void gk_max_pool2d_fwd_##S(const T* x, T* y, gk_index n, gk_index h, gk_index w, \
                                                   gk_index c, int ph, int pw, int sh, int sw) {         \
    gk_max_pool2d_fwd<T>(x, y, n, h, w, c, ph, pw, sh, sw);                                              \
  }                                                                                                      \
  extern "C" __global__ void gk_max_pool2d_bwd_##S(const T* x, const T* y, const T* dy, T* dx,           \
                                                   gk_index n, gk_index h, gk_index w, gk_index c,       \
                                                   int ph, int pw, int sh, int sw) {                     \
    gk_max_pool2d_bwd<T>(x, y, dy, dx, n, h, w, c, ph, pw, sh, sw);                                      \
  }                                                                                                      \
  extern "C" __global__ void gk_avg_pool2d_fwd_##S(const T* x, T* y, gk_index n, gk_index h, gk_index w, \
                                                   gk_index c, int ph, int pw, int sh, int sw,           \
                                                   float scale) {                                        \
    gk_avg_pool2d_fwd<T>(x, y, n, h, w, c, ph, pw, sh, sw, scale);                                       \
  }                                                                                                      \
  extern "C" __global__ void gk_avg_pool2d_bwd_##S(const T* dy, T* dx, gk_index n, gk_index h,           \
                                                   gk_index w, gk_index c, int ph, int pw, int sh,       \
                                                   int sw, float scale) {                                \
    gk_avg_pool2d_bwd<T>(dy, dx, n, h, w, c, ph, pw, sh, sw, scale);                                     \
  }

GK_FOR_EACH_DTYPE(GK_POOL_KERNELS)
