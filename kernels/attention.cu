// Fused scaled dot-product attention, forward and backward, tiled over the keys with an online softmax:
// the (T, S) score matrix is never stored. Layouts (all contiguous): q (B, T, N, H), k (B, S, KH, H),
// v (B, S, KH, HV), out and dout (B, T, N, HV); query head n reads key/value head n / (N / KH).
//   logits[b, n, t, s] = (q[b, t, n] . k[b, s, kh]) * scale
//   allowed(t, s) = (!causal || s <= t) && (keep == null || keep[b*ksb + n*ksn + t*kst + s*kss] != 0)
//   p = softmax over the allowed s; out[b, t, n] = sum_s p * drop(b, n, t, s) * v[b, s, kh]
// drop is 1 or the Philox stream of dropout.cu over the (B, N, T, S) weights (philox.cuh): factor
// 1 / (1 - rate) where kept, 0 where dropped. A query row with no allowed key gives zeros when
// `zero_rows` (Keras's masked Softmax) and otherwise attends uniformly to all S keys (JAX's
// dot_product_attention, whose masked logits all equal -0.7 * FLT_MAX); its lse is -inf.
//   gk_attention_fwd_<dtype>: out and lse[b, n, t] = max + log(sum exp(logit - max)) (float32)
//   gk_attention_bwd_q_<dtype>: dq;  gk_attention_bwd_kv_<dtype>: dk and dv (summed over the query
//   heads sharing a key/value head; one block owns a tile of keys, so nothing is added atomically)
// with dp = dout . v, D = dout . out (per row) and ds = p * (dp * drop - D) on allowed entries.
// Head sizes up to GK_ATT_MAX_D; float32 arithmetic; warps of 32 threads, 4 per block.
#include "common.cuh"
#include "philox.cuh"

#define GK_ATT_MAX_D 128  // the largest head size (H and HV)
#define GK_ATT_KEYS 32    // keys per tile: one per lane
#define GK_ATT_ROWS 16    // query rows per forward block: 4 per warp
#define GK_ATT_BROWS 8    // query rows per backward block or row batch: 2 per warp
#define GK_ATT_THREADS 128
#define GK_ATT_CHUNKS (GK_ATT_MAX_D / 32)

struct gk_att_args {
  const float* keep;  // 1 = may attend, 0 = masked; null: no mask
  gk_index ksb, ksn, kst, kss;  // its strides in elements (0 on a broadcast axis)
  int batch, tq, s, n, kh, h, hv, causal, zero_rows;
  float scale, rate, drop_scale;
  unsigned int seed_lo, seed_hi;
};

__device__ __forceinline__ int gk_att_min(int x, int y) { return x < y ? x : y; }

__device__ __forceinline__ float gk_att_warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ float gk_att_warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ bool gk_att_allowed(const gk_att_args& a, int b, int n, int t, int s) {
  if (a.causal && s > t) return false;
  return a.keep == nullptr || a.keep[b * a.ksb + n * a.ksn + t * a.kst + s * a.kss] != 0.0f;
}

// The dropout factor of weight (b, n, t, s): 1 without dropout.
__device__ __forceinline__ float gk_att_drop(const gk_att_args& a, int b, int n, int t, int s) {
  if (a.rate <= 0.0f) return 1.0f;
  const unsigned long long i = (((unsigned long long)b * a.n + n) * a.tq + t) * a.s + s;
  return gk_philox_keep(i, a.seed_lo, a.seed_hi, a.rate, a.drop_scale);
}

// Rows [t0, t0 + rows) of query head n as float into qs (row stride GK_ATT_MAX_D), zeros past the end.
template <typename T>
__device__ __forceinline__ void gk_att_load_rows(const T* x, float* xs, const gk_att_args& a, int b, int n, int t0,
                                                 int rows, int d) {
  for (int i = threadIdx.x; i < rows * d; i += blockDim.x) {
    const int r = i / d, c = i % d, t = t0 + r;
    xs[r * GK_ATT_MAX_D + c] = t < a.tq ? gk_load(x, (((gk_index)b * a.tq + t) * a.n + n) * d + c) : 0.0f;
  }
}

// Keys [s0, s0 + GK_ATT_KEYS) of key/value head kh as float into xs (row stride `stride`), zeros past S.
template <typename T>
__device__ __forceinline__ void gk_att_load_keys(const T* x, float* xs, const gk_att_args& a, int b, int kh, int s0,
                                                 int d, int stride) {
  for (int i = threadIdx.x; i < GK_ATT_KEYS * d; i += blockDim.x) {
    const int j = i / d, c = i % d, s = s0 + j;
    xs[j * stride + c] = s < a.s ? gk_load(x, (((gk_index)b * a.s + s) * a.kh + kh) * d + c) : 0.0f;
  }
}

__device__ __forceinline__ float gk_att_dot(const float* x, const float* y, int d) {
  float acc = 0.0f;
  for (int c = 0; c < d; ++c) acc += x[c] * y[c];
  return acc;
}

template <typename T>
__device__ __forceinline__ void gk_attention_fwd(const T* __restrict__ q, const T* __restrict__ k,
                                                 const T* __restrict__ v, T* __restrict__ out, float* __restrict__ lse,
                                                 const gk_att_args a) {
  __shared__ float qs[GK_ATT_ROWS * GK_ATT_MAX_D];
  __shared__ float ks[GK_ATT_KEYS * (GK_ATT_MAX_D + 1)];
  __shared__ float vs[GK_ATT_KEYS * GK_ATT_MAX_D];
  __shared__ float ps[GK_ATT_ROWS * GK_ATT_KEYS];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int b = blockIdx.z, n = blockIdx.y, t0 = blockIdx.x * GK_ATT_ROWS;
  const int kh = n / (a.n / a.kh);
  gk_att_load_rows(q, qs, a, b, n, t0, GK_ATT_ROWS, a.h);
  float m[4], l[4], acc[4][GK_ATT_CHUNKS];
#pragma unroll
  for (int rr = 0; rr < 4; ++rr) {
    m[rr] = GK_NEG_INF;
    l[rr] = 0.0f;
#pragma unroll
    for (int c = 0; c < GK_ATT_CHUNKS; ++c) acc[rr][c] = 0.0f;
  }
  const int t_last = gk_att_min(t0 + GK_ATT_ROWS, a.tq) - 1;
  const int s_end = a.causal ? gk_att_min(a.s, t_last + 1) : a.s;  // later keys are masked for every row here
  for (int s0 = 0; s0 < s_end; s0 += GK_ATT_KEYS) {
    __syncthreads();  // the previous tile is no longer read (and qs is written)
    gk_att_load_keys(k, ks, a, b, kh, s0, a.h, GK_ATT_MAX_D + 1);
    gk_att_load_keys(v, vs, a, b, kh, s0, a.hv, GK_ATT_MAX_D);
    __syncthreads();
    const int s = s0 + lane;
#pragma unroll
    for (int rr = 0; rr < 4; ++rr) {
      const int r = warp * 4 + rr, t = t0 + r;
      const bool ok = t < a.tq && s < a.s && gk_att_allowed(a, b, n, t, s);
      const float x = ok ? gk_att_dot(qs + r * GK_ATT_MAX_D, ks + lane * (GK_ATT_MAX_D + 1), a.h) * a.scale
                         : GK_NEG_INF;
      const float m_new = fmaxf(m[rr], gk_att_warp_max(x));
      const float p = ok ? expf(x - m_new) : 0.0f;
      const float corr = m[rr] == GK_NEG_INF ? 0.0f : expf(m[rr] - m_new);
      l[rr] = l[rr] * corr + gk_att_warp_sum(p);
      m[rr] = m_new;
      ps[r * GK_ATT_KEYS + lane] = ok ? p * gk_att_drop(a, b, n, t, s) : 0.0f;
      __syncwarp();
#pragma unroll
      for (int c = 0; c < GK_ATT_CHUNKS; ++c) {
        const int hc = lane + 32 * c;
        if (hc < a.hv) {
          float sum = acc[rr][c] * corr;
          for (int j = 0; j < GK_ATT_KEYS; ++j) sum += ps[r * GK_ATT_KEYS + j] * vs[j * GK_ATT_MAX_D + hc];
          acc[rr][c] = sum;
        }
      }
      __syncwarp();
    }
  }
#pragma unroll
  for (int rr = 0; rr < 4; ++rr) {
    const int t = t0 + warp * 4 + rr;
    if (t >= a.tq) continue;
    const gk_index row = ((gk_index)b * a.tq + t) * a.n + n;
    const bool none = l[rr] == 0.0f;
    const float inv = none ? 0.0f : 1.0f / l[rr];
#pragma unroll
    for (int c = 0; c < GK_ATT_CHUNKS; ++c) {
      const int hc = lane + 32 * c;
      if (hc >= a.hv) continue;
      float value = acc[rr][c] * inv;
      if (none && !a.zero_rows) {  // uniform over all S keys
        value = 0.0f;
        for (int s = 0; s < a.s; ++s)
          value += gk_att_drop(a, b, n, t, s) * gk_load(v, (((gk_index)b * a.s + s) * a.kh + kh) * a.hv + hc);
        value /= (float)a.s;
      }
      gk_store(out, row * a.hv + hc, value);
    }
    if (lane == 0) lse[((gk_index)b * a.n + n) * a.tq + t] = none ? GK_NEG_INF : m[rr] + logf(l[rr]);
  }
}

// The weight p of entry (t, s) from the stored lse; allowed entries only, or every entry of a row with none
// allowed (lse = -inf) when it attends uniformly.
__device__ __forceinline__ float gk_att_prob(const gk_att_args& a, float logit, float row_lse, bool ok) {
  if (row_lse == GK_NEG_INF) return a.zero_rows ? 0.0f : 1.0f / (float)a.s;
  return ok ? expf(logit - row_lse) : 0.0f;
}

// D = dout . out for each of the block's rows (one warp per row, in turn), into ds_row.
template <typename T>
__device__ __forceinline__ void gk_att_row_dots(const T* dout, const T* out, float* d_row, const gk_att_args& a,
                                                int b, int n, int t0) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int r = warp; r < GK_ATT_BROWS; r += GK_ATT_THREADS / 32) {
    const int t = t0 + r;
    float sum = 0.0f;
    if (t < a.tq) {
      const gk_index row = (((gk_index)b * a.tq + t) * a.n + n) * a.hv;
      for (int c = lane; c < a.hv; c += 32) sum += gk_load(dout, row + c) * gk_load(out, row + c);
    }
    sum = gk_att_warp_sum(sum);
    if (lane == 0) d_row[r] = sum;
  }
}

template <typename T>
__device__ __forceinline__ void gk_attention_bwd_q(const T* __restrict__ q, const T* __restrict__ k,
                                                   const T* __restrict__ v, const T* __restrict__ out,
                                                   const T* __restrict__ dout, const float* __restrict__ lse,
                                                   T* __restrict__ dq, const gk_att_args a) {
  __shared__ float qs[GK_ATT_BROWS * GK_ATT_MAX_D];
  __shared__ float dos[GK_ATT_BROWS * GK_ATT_MAX_D];
  __shared__ float ks[GK_ATT_KEYS * (GK_ATT_MAX_D + 1)];
  __shared__ float vs[GK_ATT_KEYS * (GK_ATT_MAX_D + 1)];
  __shared__ float dss[GK_ATT_BROWS * GK_ATT_KEYS];
  __shared__ float d_row[GK_ATT_BROWS];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int b = blockIdx.z, n = blockIdx.y, t0 = blockIdx.x * GK_ATT_BROWS;
  const int kh = n / (a.n / a.kh);
  gk_att_load_rows(q, qs, a, b, n, t0, GK_ATT_BROWS, a.h);
  gk_att_load_rows(dout, dos, a, b, n, t0, GK_ATT_BROWS, a.hv);
  gk_att_row_dots(dout, out, d_row, a, b, n, t0);
  float acc[2][GK_ATT_CHUNKS], row_lse[2];
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const int t = t0 + warp * 2 + rr;
    row_lse[rr] = t < a.tq ? lse[((gk_index)b * a.n + n) * a.tq + t] : GK_NEG_INF;
#pragma unroll
    for (int c = 0; c < GK_ATT_CHUNKS; ++c) acc[rr][c] = 0.0f;
  }
  const int t_last = gk_att_min(t0 + GK_ATT_BROWS, a.tq) - 1;
  const int s_end = a.causal ? gk_att_min(a.s, t_last + 1) : a.s;  // ds is 0 on masked entries
  for (int s0 = 0; s0 < s_end; s0 += GK_ATT_KEYS) {
    __syncthreads();
    gk_att_load_keys(k, ks, a, b, kh, s0, a.h, GK_ATT_MAX_D + 1);
    gk_att_load_keys(v, vs, a, b, kh, s0, a.hv, GK_ATT_MAX_D + 1);
    __syncthreads();
    const int s = s0 + lane;
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      const int r = warp * 2 + rr, t = t0 + r;
      const bool ok = t < a.tq && s < a.s && gk_att_allowed(a, b, n, t, s);
      float ds = 0.0f;
      if (ok && row_lse[rr] != GK_NEG_INF) {
        const float logit = gk_att_dot(qs + r * GK_ATT_MAX_D, ks + lane * (GK_ATT_MAX_D + 1), a.h) * a.scale;
        const float p = expf(logit - row_lse[rr]);
        const float dp = gk_att_dot(dos + r * GK_ATT_MAX_D, vs + lane * (GK_ATT_MAX_D + 1), a.hv);
        ds = p * (dp * gk_att_drop(a, b, n, t, s) - d_row[r]) * a.scale;
      }
      dss[r * GK_ATT_KEYS + lane] = ds;
      __syncwarp();
#pragma unroll
      for (int c = 0; c < GK_ATT_CHUNKS; ++c) {
        const int hc = lane + 32 * c;
        if (hc < a.h) {
          float sum = acc[rr][c];
          for (int j = 0; j < GK_ATT_KEYS; ++j) sum += dss[r * GK_ATT_KEYS + j] * ks[j * (GK_ATT_MAX_D + 1) + hc];
          acc[rr][c] = sum;
        }
      }
      __syncwarp();
    }
  }
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const int t = t0 + warp * 2 + rr;
    if (t >= a.tq) continue;
    const gk_index row = ((gk_index)b * a.tq + t) * a.n + n;
#pragma unroll
    for (int c = 0; c < GK_ATT_CHUNKS; ++c) {
      const int hc = lane + 32 * c;
      if (hc < a.h) gk_store(dq, row * a.h + hc, acc[rr][c]);
    }
  }
}

template <typename T>
__device__ __forceinline__ void gk_attention_bwd_kv(const T* __restrict__ q, const T* __restrict__ k,
                                                    const T* __restrict__ v, const T* __restrict__ out,
                                                    const T* __restrict__ dout, const float* __restrict__ lse,
                                                    T* __restrict__ dk, T* __restrict__ dv, const gk_att_args a) {
  __shared__ float qs[GK_ATT_BROWS * GK_ATT_MAX_D];
  __shared__ float dos[GK_ATT_BROWS * GK_ATT_MAX_D];
  __shared__ float ks[GK_ATT_KEYS * (GK_ATT_MAX_D + 1)];
  __shared__ float vs[GK_ATT_KEYS * (GK_ATT_MAX_D + 1)];
  __shared__ float pds[GK_ATT_BROWS * GK_ATT_KEYS];  // p * drop
  __shared__ float dss[GK_ATT_BROWS * GK_ATT_KEYS];  // ds * scale
  __shared__ float d_row[GK_ATT_BROWS];
  __shared__ float lse_row[GK_ATT_BROWS];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int b = blockIdx.z, kh = blockIdx.y, s0 = blockIdx.x * GK_ATT_KEYS;
  const int groups = a.n / a.kh;
  gk_att_load_keys(k, ks, a, b, kh, s0, a.h, GK_ATT_MAX_D + 1);
  gk_att_load_keys(v, vs, a, b, kh, s0, a.hv, GK_ATT_MAX_D + 1);
  // Each thread owns entries e = threadIdx.x + GK_ATT_THREADS * i of the (keys, H) and (keys, HV) gradients.
  constexpr int kOwned = GK_ATT_KEYS * GK_ATT_MAX_D / GK_ATT_THREADS;
  float dk_acc[kOwned], dv_acc[kOwned];
#pragma unroll
  for (int i = 0; i < kOwned; ++i) dk_acc[i] = dv_acc[i] = 0.0f;
  // Without a mask a causal row t sees keys s <= t only, and never has none allowed: rows before the tile skip.
  const int t_start = (a.causal && a.keep == nullptr) ? s0 / GK_ATT_BROWS * GK_ATT_BROWS : 0;
  const int s = s0 + lane;
  for (int g = 0; g < groups; ++g) {
    const int n = kh * groups + g;
    for (int t0 = t_start; t0 < a.tq; t0 += GK_ATT_BROWS) {
      __syncthreads();  // the previous batch's rows are no longer read
      gk_att_load_rows(q, qs, a, b, n, t0, GK_ATT_BROWS, a.h);
      gk_att_load_rows(dout, dos, a, b, n, t0, GK_ATT_BROWS, a.hv);
      gk_att_row_dots(dout, out, d_row, a, b, n, t0);
      for (int r = threadIdx.x; r < GK_ATT_BROWS; r += blockDim.x)
        lse_row[r] = t0 + r < a.tq ? lse[((gk_index)b * a.n + n) * a.tq + t0 + r] : GK_NEG_INF;
      __syncthreads();
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        const int r = warp * 2 + rr, t = t0 + r;
        float pd = 0.0f, ds = 0.0f;
        if (t < a.tq && s < a.s) {
          const bool ok = gk_att_allowed(a, b, n, t, s);
          const float logit =
              ok ? gk_att_dot(qs + r * GK_ATT_MAX_D, ks + lane * (GK_ATT_MAX_D + 1), a.h) * a.scale : 0.0f;
          const float p = gk_att_prob(a, logit, lse_row[r], ok);
          const float drop = p != 0.0f ? gk_att_drop(a, b, n, t, s) : 0.0f;
          pd = p * drop;
          if (ok && lse_row[r] != GK_NEG_INF) {
            const float dp = gk_att_dot(dos + r * GK_ATT_MAX_D, vs + lane * (GK_ATT_MAX_D + 1), a.hv);
            ds = p * (dp * drop - d_row[r]) * a.scale;
          }
        }
        pds[r * GK_ATT_KEYS + lane] = pd;
        dss[r * GK_ATT_KEYS + lane] = ds;
      }
      __syncthreads();
#pragma unroll
      for (int i = 0; i < kOwned; ++i) {
        const int e = threadIdx.x + GK_ATT_THREADS * i;
        if (e < GK_ATT_KEYS * a.h) {
          const int j = e / a.h, c = e % a.h;
          float sum = dk_acc[i];
          for (int r = 0; r < GK_ATT_BROWS; ++r) sum += dss[r * GK_ATT_KEYS + j] * qs[r * GK_ATT_MAX_D + c];
          dk_acc[i] = sum;
        }
        if (e < GK_ATT_KEYS * a.hv) {
          const int j = e / a.hv, c = e % a.hv;
          float sum = dv_acc[i];
          for (int r = 0; r < GK_ATT_BROWS; ++r) sum += pds[r * GK_ATT_KEYS + j] * dos[r * GK_ATT_MAX_D + c];
          dv_acc[i] = sum;
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kOwned; ++i) {
    const int e = threadIdx.x + GK_ATT_THREADS * i;
    if (e < GK_ATT_KEYS * a.h) {
      const int j = e / a.h, c = e % a.h;
      if (s0 + j < a.s) gk_store(dk, (((gk_index)b * a.s + s0 + j) * a.kh + kh) * a.h + c, dk_acc[i]);
    }
    if (e < GK_ATT_KEYS * a.hv) {
      const int j = e / a.hv, c = e % a.hv;
      if (s0 + j < a.s) gk_store(dv, (((gk_index)b * a.s + s0 + j) * a.kh + kh) * a.hv + c, dv_acc[i]);
    }
  }
}

#define GK_ATT_ARGS                                                                                             \
  gk_att_args { keep, ksb, ksn, kst, kss, batch, tq, s, n, kh, h, hv, causal, zero_rows, scale, rate, drop_scale, \
                seed_lo, seed_hi }

// The parameters after the tensors are the same in all three (the catalogue reads them as written here).
#define GK_ATTENTION_KERNELS(T, S)                                                                               \
  extern "C" __global__ void __launch_bounds__(GK_ATT_THREADS) gk_attention_fwd_##S(                             \
      const T* q, const T* k, const T* v, T* out, float* lse, const float* keep, gk_index ksb, gk_index ksn,     \
      gk_index kst, gk_index kss, int batch, int tq, int s, int n, int kh, int h, int hv, int causal,             \
      int zero_rows, float scale, float rate, float drop_scale, unsigned int seed_lo, unsigned int seed_hi) {    \
    gk_attention_fwd<T>(q, k, v, out, lse, GK_ATT_ARGS);                                                         \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(GK_ATT_THREADS) gk_attention_bwd_q_##S(                           \
      const T* q, const T* k, const T* v, const T* out, const T* dout, const float* lse, T* dq, const float* keep, \
      gk_index ksb, gk_index ksn, gk_index kst, gk_index kss, int batch, int tq, int s, int n, int kh, int h,     \
      int hv, int causal, int zero_rows, float scale, float rate, float drop_scale, unsigned int seed_lo,        \
      unsigned int seed_hi) {                                                                                    \
    gk_attention_bwd_q<T>(q, k, v, out, dout, lse, dq, GK_ATT_ARGS);                                             \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(GK_ATT_THREADS) gk_attention_bwd_kv_##S(                          \
      const T* q, const T* k, const T* v, const T* out, const T* dout, const float* lse, T* dk, T* dv,           \
      const float* keep, gk_index ksb, gk_index ksn, gk_index kst, gk_index kss, int batch, int tq, int s, int n, \
      int kh, int h, int hv, int causal, int zero_rows, float scale, float rate, float drop_scale,               \
      unsigned int seed_lo, unsigned int seed_hi) {                                                              \
    gk_attention_bwd_kv<T>(q, k, v, out, dout, lse, dk, dv, GK_ATT_ARGS);                                        \
  }

GK_FOR_EACH_DTYPE(GK_ATTENTION_KERNELS)
