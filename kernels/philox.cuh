// Philox4x32-10 (Salmon et al. 2011; Random123), the counter-based stream of gpukeras's dropout masks.
// Element i of a mask uses output word (i % 4) of Philox(counter = (i / 4 low, i / 4 high, 0, 0),
// key = (seed_lo, seed_hi)); u = (word >> 8) * 2^-24 in [0, 1); kept iff u >= rate. The same stream
// as kernels/dropout.cu; its NumPy twin is gpukeras.backend.philox.
#pragma once

#include "common.cuh"

#define GK_PHILOX_M0 0xD2511F53u
#define GK_PHILOX_M1 0xCD9E8D57u
#define GK_PHILOX_W0 0x9E3779B9u
#define GK_PHILOX_W1 0xBB67AE85u

GK_HD unsigned int gk_philox_mulhi32(unsigned int a, unsigned int b) {
#ifdef __CUDA_ARCH__
  return __umulhi(a, b);
#else
  return (unsigned int)(((unsigned long long)a * b) >> 32);
#endif
}

GK_HD uint4 gk_philox_block(uint4 c, unsigned int k0, unsigned int k1) {
#pragma unroll
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += GK_PHILOX_W0;
      k1 += GK_PHILOX_W1;
    }
    const unsigned int hi0 = gk_philox_mulhi32(GK_PHILOX_M0, c.x);
    const unsigned int lo0 = GK_PHILOX_M0 * c.x;
    const unsigned int hi1 = gk_philox_mulhi32(GK_PHILOX_M1, c.z);
    const unsigned int lo1 = GK_PHILOX_M1 * c.z;
    c = make_uint4(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
  }
  return c;
}

// The dropout factor of element i of the stream: `scale` (1 / (1 - rate)) if kept, else 0.
GK_HD float gk_philox_keep(unsigned long long i, unsigned int seed_lo, unsigned int seed_hi, float rate, float scale) {
  const unsigned long long quad = i >> 2;
  const uint4 r = gk_philox_block(make_uint4((unsigned int)(quad & 0xffffffffull), (unsigned int)(quad >> 32), 0u, 0u),
                                  seed_lo, seed_hi);
  const unsigned int j = (unsigned int)(i & 3ull);
  const unsigned int word = j == 0 ? r.x : j == 1 ? r.y : j == 2 ? r.z : r.w;
  return (float)(word >> 8) * 5.9604644775390625e-08f >= rate ? scale : 0.0f;  // 2^-24
}
