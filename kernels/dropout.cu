// Inverted dropout from a counter-based RNG (Philox4x32-10, Salmon et al. 2011; Random123).
// Element i uses output word (i % 4) of Philox(counter = (i / 4 low, i / 4 high, 0, 0),
// key = (seed_lo, seed_hi)); u = (word >> 8) * 2^-24 in [0, 1); kept iff u >= rate.
//   gk_dropout_mask_<dtype>(mask, n, seed_lo, seed_hi, rate, scale): mask = kept ? scale : 0
//   gk_dropout_<dtype>(x, y, mask, n, seed_lo, seed_hi, rate, scale): the mask and y = x * mask
// in one pass. Both take a last argument `seed_dev`: when not null, the key is read from it (one
// int64, low word first) instead, so a captured CUDA graph draws a new mask at each launch (the
// host writes the seed before launching; launch arguments are frozen at capture). The stream is backend-specific (NumPy draws from its Generator); the NumPy twin of
// this exact stream is gpukeras.backend.kernels.philox_dropout_mask.
#include "common.cuh"

#define GK_PHILOX_M0 0xD2511F53u
#define GK_PHILOX_M1 0xCD9E8D57u
#define GK_PHILOX_W0 0x9E3779B9u
#define GK_PHILOX_W1 0xBB67AE85u

GK_HD unsigned int gk_mulhi32(unsigned int a, unsigned int b) {
#ifdef __CUDA_ARCH__
  return __umulhi(a, b);
#else
  return (unsigned int)(((unsigned long long)a * b) >> 32);
#endif
}

GK_HD uint4 gk_philox4x32_10(uint4 c, unsigned int k0, unsigned int k1) {
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += GK_PHILOX_W0;
      k1 += GK_PHILOX_W1;
    }
    const unsigned int hi0 = gk_mulhi32(GK_PHILOX_M0, c.x);
    const unsigned int lo0 = GK_PHILOX_M0 * c.x;
    const unsigned int hi1 = gk_mulhi32(GK_PHILOX_M1, c.z);
    const unsigned int lo1 = GK_PHILOX_M1 * c.z;
    c = make_uint4(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
  }
  return c;
}

GK_HD float gk_philox_uniform(unsigned int word) {
  return (float)(word >> 8) * 5.9604644775390625e-08f;  // 2^-24
}

template <typename T>
__device__ __forceinline__ void gk_dropout(const T* __restrict__ x, T* __restrict__ y, T* __restrict__ mask,
                                           gk_index n, unsigned int seed_lo, unsigned int seed_hi, float rate,
                                           float scale) {
  const gk_index quads = (n + 3) / 4;
  GK_GRID_STRIDE(q, quads) {
    const uint4 r = gk_philox4x32_10(
        make_uint4((unsigned int)((unsigned long long)q & 0xffffffffull), (unsigned int)((unsigned long long)q >> 32),
                   0u, 0u),
        seed_lo, seed_hi);
    const unsigned int words[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const gk_index i = q * 4 + j;
      if (i < n) {
        const float keep = gk_philox_uniform(words[j]) >= rate ? scale : 0.0f;
        T kt;
        gk_from_float(keep, &kt);
        mask[i] = kt;
        if (x != nullptr) gk_store(y, i, gk_load(x, i) * gk_to_float(kt));
      }
    }
  }
}

__device__ __forceinline__ void gk_seed_from_device(const long long* seed_dev, unsigned int* lo, unsigned int* hi) {
  if (seed_dev != nullptr) {
    const unsigned long long seed = (unsigned long long)seed_dev[0];
    *lo = (unsigned int)(seed & 0xffffffffull);
    *hi = (unsigned int)(seed >> 32);
  }
}

#define GK_DROPOUT_KERNELS(T, S)                                                                      \
  extern "C" __global__ void gk_dropout_mask_##S(T* mask, gk_index n, unsigned int seed_lo,          \
                                                 unsigned int seed_hi, float rate, float scale,      \
                                                 const long long* seed_dev) {                        \
    gk_seed_from_device(seed_dev, &seed_lo, &seed_hi);                                                \
    gk_dropout<T>(nullptr, nullptr, mask, n, seed_lo, seed_hi, rate, scale);                          \
  }                                                                                                   \
  extern "C" __global__ void gk_dropout_##S(const T* x, T* y, T* mask, gk_index n, unsigned int seed_lo, \
                                            unsigned int seed_hi, float rate, float scale,           \
                                            const long long* seed_dev) {                             \
    gk_seed_from_device(seed_dev, &seed_lo, &seed_hi);                                                \
    gk_dropout<T>(x, y, mask, n, seed_lo, seed_hi, rate, scale);                                      \
  }

GK_FOR_EACH_DTYPE(GK_DROPOUT_KERNELS)
