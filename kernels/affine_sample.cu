// Batched projective/affine image sampling: RandomRotation, RandomZoom and RandomTranslation's
// transforms (keras.ops.image.affine_transform), one thread per output element, gathering from the
// input. Twin: ImageFusions.affine_transform (gpukeras/backend/fused/image.py), which computes what
// Keras 3's JAX backend computes (jax.scipy.ndimage.map_coordinates); this kernel follows it operation
// for operation in float32, each product and sum rounded on its own (no FMA contraction), so float32
// outputs equal the twin's.
//   gk_affine_sample_<dtype>(x, transform, y, n, h, w, c, channels_first, order, fill_mode, fill_value)
// x, y: (n, h, w, c), or (n, c, h, w) when channels_first; transform: (n, 8) float32 rows
// [a0, a1, a2, b0, b1, b2, c0, c1] taking output (col, row) = (x, y) to input
// ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1.
// order: 0 nearest (round half away from zero), 1 bilinear. fill_mode: 0 constant (fill_value outside),
// 1 nearest (clamp), 2 wrap, 3 mirror (c d c b | a b c d | c b a b), 4 reflect (d c b a | a b c d | d c b a).
#include "common.cuh"

#define GK_FILL_CONSTANT 0
#define GK_FILL_NEAREST 1
#define GK_FILL_WRAP 2
#define GK_FILL_MIRROR 3
#define GK_FILL_REFLECT 4

GK_HD gk_index gk_floor_mod(gk_index a, gk_index b) {
  const gk_index r = a % b;
  return r < 0 ? r + b : r;
}

// The triangular wave of period 2 (size - 1) folding `index` into [0, size).
GK_HD gk_index gk_mirror_index(gk_index index, gk_index size) {
  if (size == 1) return 0;
  const gk_index half = size - 1;
  const gk_index m = gk_floor_mod(index + half, 2 * half) - half;
  return m < 0 ? -m : m;
}

// One tap along an axis: the index inside [0, size) to read, and whether the read counts (constant
// mode: an index outside reads fill_value instead).
struct gk_tap {
  gk_index index;
  bool inside;
  float weight;
};

GK_HD gk_tap gk_fix_tap(gk_index index, gk_index size, int fill_mode, float weight) {
  gk_tap t;
  t.weight = weight;
  t.inside = true;
  if (fill_mode == GK_FILL_CONSTANT) {
    t.inside = index >= 0 && index < size;
    t.index = index < 0 ? 0 : (index >= size ? size - 1 : index);
  } else if (fill_mode == GK_FILL_NEAREST) {
    t.index = index < 0 ? 0 : (index >= size ? size - 1 : index);
  } else if (fill_mode == GK_FILL_WRAP) {
    t.index = gk_floor_mod(index, size);
  } else if (fill_mode == GK_FILL_MIRROR) {
    t.index = gk_mirror_index(index, size);
  } else {  // reflect: the mirror of the half-sample grid (its value is odd, so >= 1)
    t.index = (gk_mirror_index(2 * index + 1, 2 * size + 1) - 1) / 2;
  }
  return t;
}

// The taps of `coord` along one axis (1 for nearest, 2 for bilinear, lower first); returns the count.
__device__ __forceinline__ int gk_axis_taps(float coord, gk_index size, int order, int fill_mode, gk_tap* taps) {
  const float lower = floorf(coord);
  if (order == 0) {
    const float frac = __fsub_rn(coord, lower);
    const bool up = coord >= 0.0f ? frac >= 0.5f : frac > 0.5f;
    taps[0] = gk_fix_tap((gk_index)(up ? __fadd_rn(lower, 1.0f) : lower), size, fill_mode, 1.0f);
    return 1;
  }
  const float upper_weight = __fsub_rn(coord, lower);
  const gk_index index = (gk_index)lower;
  taps[0] = gk_fix_tap(index, size, fill_mode, __fsub_rn(1.0f, upper_weight));
  taps[1] = gk_fix_tap(index + 1, size, fill_mode, upper_weight);
  return 2;
}

template <typename T>
__device__ __forceinline__ void gk_affine_sample(const T* __restrict__ x, const float* __restrict__ transform,
                                                 T* __restrict__ y, gk_index n, gk_index h, gk_index w, gk_index c,
                                                 int channels_first, int order, int fill_mode, float fill_value) {
  GK_GRID_STRIDE(o, n * h * w * c) {
    gk_index b, r, s, k;
    if (channels_first) {
      s = o % w;
      r = (o / w) % h;
      k = (o / (w * h)) % c;
      b = o / (w * h * c);
    } else {
      k = o % c;
      s = (o / c) % w;
      r = (o / (c * w)) % h;
      b = o / (c * w * h);
    }
    const float* t = transform + b * 8;
    const float xs = (float)s, ys = (float)r;
    const float denom = __fadd_rn(__fadd_rn(__fmul_rn(xs, t[6]), __fmul_rn(ys, t[7])), 1.0f);
    const float row = __fdiv_rn(__fadd_rn(__fadd_rn(__fmul_rn(ys, t[4]), __fmul_rn(xs, t[3])), t[5]), denom);
    const float col = __fdiv_rn(__fadd_rn(__fadd_rn(__fmul_rn(ys, t[1]), __fmul_rn(xs, t[0])), t[2]), denom);
    gk_tap rows[2], cols[2];
    const int nr = gk_axis_taps(row, h, order, fill_mode, rows);
    const int nc = gk_axis_taps(col, w, order, fill_mode, cols);
    const T* image = x + b * h * w * c;
    float acc = 0.0f;
    for (int i = 0; i < nr; ++i) {
      for (int j = 0; j < nc; ++j) {
        float value = fill_value;
        if (rows[i].inside && cols[j].inside) {
          const gk_index at = channels_first ? (k * h + rows[i].index) * w + cols[j].index
                                             : (rows[i].index * w + cols[j].index) * c + k;
          value = gk_load(image, at);
        }
        const float term = order == 0 ? value : __fmul_rn(__fmul_rn(rows[i].weight, cols[j].weight), value);
        acc = (i == 0 && j == 0) ? term : __fadd_rn(acc, term);
      }
    }
    gk_store(y, o, acc);
  }
}

#define GK_AFFINE_SAMPLE_KERNELS(T, S)                                                                   \
  extern "C" __global__ void gk_affine_sample_##S(const T* x, const float* transform, T* y, gk_index n,  \
                                                  gk_index h, gk_index w, gk_index c, int channels_first, \
                                                  int order, int fill_mode, float fill_value) {          \
    gk_affine_sample<T>(x, transform, y, n, h, w, c, channels_first, order, fill_mode, fill_value);      \
  }

GK_FOR_EACH_DTYPE(GK_AFFINE_SAMPLE_KERNELS)
