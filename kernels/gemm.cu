// C = A @ B, or C += A @ B, batched: our own matrix product for steps captured into a CUDA graph,
// where CuPy refuses to call cuBLAS. Operands are read through element strides, so transposed and
// sliced views need no copy: A(i, p) = a[bz * sab + i * sa0 + p * sa1], B(p, j) = b[bz * sbb +
// p * sb0 + j * sb1] (a batch stride of 0 broadcasts one matrix over the batch); C is C-contiguous
// (m, n) per batch, at c + bz * scb.
//
// Products are summed in float32 (half types converted on load, rounded once on store), k in order
// within each thread; results differ from cuBLAS / NumPy in the last bits because their summation
// order (and their use of FMA) differs.
//
// Launch: block GK_GEMM_THREADS threads (16 x 16), grid (ceil(n / BN), ceil(m / BM), z), the blocks of z
// striding over batch * splits. Split-K (splits > 1, for products with too few tiles to fill the GPU):
// split s of batch bz sums k in [s * kchunk, (s + 1) * kchunk) into the float32 workspace `part`
// (batch * splits, m, n), and gk_gemm_split_sum adds the splits in order into C (deterministic, no
// atomics). With splits == 1, `part` is null and C is written directly. Each block computes one BM x BN tile of C: per stage it copies a
// GK_GEMM_BK-deep slice of A and B to shared memory (loads of the next stage are issued before the
// current one is multiplied) and each thread accumulates TM x TN outputs in registers. The copy walks
// along whichever operand axis has stride 1 (k for a row-major A, i for a transposed one), so global
// loads are coalesced for both layouts. TILE names a (BM, BN, TM, TN) build; the launcher picks one.
#include "common.cuh"

#define GK_GEMM_THREADS 256
#define GK_GEMM_SIDE 16  // threads per block along each tile axis
#define GK_GEMM_BK 16    // k per stage
#define GK_GEMM_PAD 4    // keeps shared rows 16-byte aligned and spreads the k-major stores over banks

// Tile position of a thread's i-th output along one axis: runs of up to 4 (vector loads from shared
// memory), the threads' runs side by side.
template <int PER>
__device__ __forceinline__ int gk_gemm_pos(int t, int i) {
  constexpr int RUN = PER < 4 ? PER : 4;
  return (i / RUN) * (GK_GEMM_SIDE * RUN) + t * RUN + i % RUN;
}

// One stage's slice X(p, w) = x[p * sp + w * sw], p in [p0, p0 + BK), w in [w0, w0 + W), as float
// in registers (zero where p >= k_end or w >= width). Consecutive threads take consecutive w when w has
// stride 1 (or neither axis has), else consecutive p.
template <int W, typename T>
__device__ __forceinline__ void gk_gemm_fetch(float* regs, const T* __restrict__ x, gk_index p0, gk_index w0,
                                              gk_index k_end, gk_index width, gk_index sp, gk_index sw) {
  constexpr int PER = W * GK_GEMM_BK / GK_GEMM_THREADS;
  const bool w_fast = sw == 1 || sp != 1;
#pragma unroll
  for (int e = 0; e < PER; ++e) {
    const int idx = threadIdx.x + e * GK_GEMM_THREADS;
    const gk_index p = p0 + (w_fast ? idx / W : idx % GK_GEMM_BK);
    const gk_index w = w0 + (w_fast ? idx % W : idx / GK_GEMM_BK);
    regs[e] = (p < k_end && w < width) ? gk_load(x, p * sp + w * sw) : 0.0f;
  }
}

// The registers of gk_gemm_fetch into the k-major shared tile, at the same positions.
template <int W>
__device__ __forceinline__ void gk_gemm_stash(float (*tile)[W + GK_GEMM_PAD], const float* regs, gk_index sp,
                                              gk_index sw) {
  constexpr int PER = W * GK_GEMM_BK / GK_GEMM_THREADS;
  const bool w_fast = sw == 1 || sp != 1;
#pragma unroll
  for (int e = 0; e < PER; ++e) {
    const int idx = threadIdx.x + e * GK_GEMM_THREADS;
    tile[w_fast ? idx / W : idx % GK_GEMM_BK][w_fast ? idx % W : idx / GK_GEMM_BK] = regs[e];
  }
}

// acc += the stage in shared memory: TM x TN outer products per k.
template <int BM, int BN, int TM, int TN>
__device__ __forceinline__ void gk_gemm_stage(float (*acc)[TN], const float (*as)[BM + GK_GEMM_PAD],
                                              const float (*bs)[BN + GK_GEMM_PAD], int tx, int ty) {
#pragma unroll
  for (int p = 0; p < GK_GEMM_BK; ++p) {
    float av[TM], bv[TN];
#pragma unroll
    for (int i = 0; i < TM; ++i) av[i] = as[p][gk_gemm_pos<TM>(ty, i)];
#pragma unroll
    for (int j = 0; j < TN; ++j) bv[j] = bs[p][gk_gemm_pos<TN>(tx, j)];
#pragma unroll
    for (int i = 0; i < TM; ++i) {
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] += av[i] * bv[j];
    }
  }
}

// The thread's outputs into C (row-major, n columns), added to what is there when `accumulate`.
template <int TM, int TN, typename T>
__device__ __forceinline__ void gk_gemm_store(T* __restrict__ c, const float (*acc)[TN], gk_index r0, gk_index c0,
                                              gk_index m, gk_index n, int tx, int ty, int accumulate) {
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const gk_index r = r0 + gk_gemm_pos<TM>(ty, i);
    if (r >= m) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const gk_index col = c0 + gk_gemm_pos<TN>(tx, j);
      if (col >= n) continue;
      const gk_index at = r * n + col;
      gk_store(c, at, accumulate ? gk_load(c, at) + acc[i][j] : acc[i][j]);
    }
  }
}

template <int BM, int BN, int TM, int TN, typename T>
__device__ __forceinline__ void gk_gemm(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ c,
                                        float* __restrict__ part, gk_index batch, gk_index splits, gk_index kchunk,
                                        gk_index m, gk_index n, gk_index k, gk_index sa0, gk_index sa1, gk_index sab,
                                        gk_index sb0, gk_index sb1, gk_index sbb, gk_index scb, int accumulate) {
  static_assert(BM == GK_GEMM_SIDE * TM && BN == GK_GEMM_SIDE * TN, "one TM x TN block of outputs per thread");
  static_assert((BM * GK_GEMM_BK) % GK_GEMM_THREADS == 0 && (BN * GK_GEMM_BK) % GK_GEMM_THREADS == 0,
                "every thread copies the same number of elements");
  __shared__ __align__(16) float as[GK_GEMM_BK][BM + GK_GEMM_PAD];
  __shared__ __align__(16) float bs[GK_GEMM_BK][BN + GK_GEMM_PAD];
  const int tx = threadIdx.x % GK_GEMM_SIDE;
  const int ty = threadIdx.x / GK_GEMM_SIDE;
  const gk_index r0 = (gk_index)blockIdx.y * BM;
  const gk_index c0 = (gk_index)blockIdx.x * BN;
  for (gk_index z = blockIdx.z; z < batch * splits; z += gridDim.z) {
    const gk_index bz = z / splits;
    const gk_index k0 = (z % splits) * kchunk;
    const gk_index k1 = k0 + kchunk < k ? k0 + kchunk : k;
    const gk_index stages = k1 > k0 ? (k1 - k0 + GK_GEMM_BK - 1) / GK_GEMM_BK : 0;
    const T* ab = a + bz * sab;
    const T* bb = b + bz * sbb;
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i) {
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
    }
    float ra[BM * GK_GEMM_BK / GK_GEMM_THREADS], rb[BN * GK_GEMM_BK / GK_GEMM_THREADS];
    if (stages > 0) {  // A is read as A^T(p, i): its k axis is the slice's depth
      gk_gemm_fetch<BM>(ra, ab, k0, r0, k1, m, sa1, sa0);
      gk_gemm_fetch<BN>(rb, bb, k0, c0, k1, n, sb0, sb1);
    }
    for (gk_index s = 0; s < stages; ++s) {
      __syncthreads();  // the previous stage (or batch) is done with the tiles
      gk_gemm_stash<BM>(as, ra, sa1, sa0);
      gk_gemm_stash<BN>(bs, rb, sb0, sb1);
      __syncthreads();
      if (s + 1 < stages) {  // next stage's loads in flight while this one is multiplied
        const gk_index p0 = k0 + (s + 1) * GK_GEMM_BK;
        gk_gemm_fetch<BM>(ra, ab, p0, r0, k1, m, sa1, sa0);
        gk_gemm_fetch<BN>(rb, bb, p0, c0, k1, n, sb0, sb1);
      }
      gk_gemm_stage<BM, BN, TM, TN>(acc, as, bs, tx, ty);
    }
    if (part != nullptr) {
      gk_gemm_store<TM, TN>(part + z * m * n, acc, r0, c0, m, n, tx, ty, 0);
    } else {
      gk_gemm_store<TM, TN>(c + bz * scb, acc, r0, c0, m, n, tx, ty, accumulate);
    }
  }
}

// C (+)= the sum of the splits' partial products, in split order; e strides over batch * m * n.
template <typename T>
__device__ __forceinline__ void gk_gemm_split_sum(const float* __restrict__ part, T* __restrict__ c, gk_index batch,
                                                  gk_index splits, gk_index mn, gk_index scb, int accumulate) {
  GK_GRID_STRIDE(e, batch * mn) {
    const gk_index bz = e / mn;
    const gk_index i = e - bz * mn;
    const float* p = part + bz * splits * mn + i;
    float total = 0.0f;
    for (gk_index s = 0; s < splits; ++s) total += p[s * mn];
    const gk_index at = bz * scb + i;
    gk_store(c, at, accumulate ? gk_load(c, at) + total : total);
  }
}

#define GK_GEMM_KERNEL(T, S, TILE, BM, BN, TM, TN)                                                           \
  extern "C" __global__ void __launch_bounds__(GK_GEMM_THREADS)                                              \
      gk_gemm_##TILE##_##S(const T* a, const T* b, T* c, float* part, gk_index batch, gk_index splits,        \
                           gk_index kchunk, gk_index m, gk_index n, gk_index k, gk_index sa0, gk_index sa1,   \
                           gk_index sab, gk_index sb0, gk_index sb1, gk_index sbb, gk_index scb,              \
                           int accumulate) {                                                                 \
    gk_gemm<BM, BN, TM, TN, T>(a, b, c, part, batch, splits, kchunk, m, n, k, sa0, sa1, sab, sb0, sb1, sbb,  \
                               scb, accumulate);                                                             \
  }

#define GK_GEMM_SPLIT_SUM(T, S)                                                                              \
  extern "C" __global__ void gk_gemm_split_sum_##S(const float* part, T* c, gk_index batch, gk_index splits, \
                                                   gk_index mn, gk_index scb, int accumulate) {              \
    gk_gemm_split_sum<T>(part, c, batch, splits, mn, scb, accumulate);                                       \
  }

// Tiles: 128 x 128 (8 x 8 per thread) for large products, 64 x 64 and 32 x 32 to fill the GPU's SMs
// when C has few tiles.
#define GK_GEMM_ALL(T, S)                       \
  GK_GEMM_KERNEL(T, S, t128, 128, 128, 8, 8)    \
  GK_GEMM_KERNEL(T, S, t64, 64, 64, 4, 4)       \
  GK_GEMM_KERNEL(T, S, t32, 32, 32, 2, 2)       \
  GK_GEMM_SPLIT_SUM(T, S)
GK_FOR_EACH_DTYPE(GK_GEMM_ALL)
