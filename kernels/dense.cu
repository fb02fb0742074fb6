// Fused Dense epilogues around the cuBLAS GEMMs (done by cupy.matmul):
//   forward : z = z + bias (in place), y = act(z)            -- one pass over z
//   backward: dz = dy * act'(z, y), bias partial sums over rows -- one pass over dy, z, y
// Layout: z, y, dy, dz are row-major (rows, cols); bias is (cols,).
// Forward launch: block (bx, 1) over columns, grid (ceil(cols / bx), gy) with grid-stride rows.
// Backward launch: block (32, 8), grid (ceil(cols / 32), gy). Each block reduces its column tile
// over its rows in shared memory (no atomics, deterministic). With gy == 1 it writes dbias
// directly; otherwise it writes float32 partials (gy, cols) and gk_dense_bias_finish_<dtype>
// sums them (one tiny extra launch).
#include "act_functions.cuh"

#define GK_BWD_TX 32
#define GK_BWD_TY 8

template <int A, typename T>
__device__ __forceinline__ void gk_dense_fwd(T* __restrict__ z, T* __restrict__ y, const T* __restrict__ bias,
                                             gk_index rows, gk_index cols, float p0, float p1, float p2) {
  const gk_index col = (gk_index)blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  const float b = bias != nullptr ? gk_load(bias, col) : 0.0f;
  for (gk_index r = blockIdx.y; r < rows; r += gridDim.y) {
    const gk_index i = r * cols + col;
    T zt;
    gk_from_float(gk_load(z, i) + b, &zt);
    z[i] = zt;
    if (A != GK_LINEAR) gk_store(y, i, gk_act<A>(gk_to_float(zt), p0, p1, p2));
  }
}

template <int A, typename T>
__device__ __forceinline__ void gk_dense_bwd(const T* __restrict__ dy, const T* __restrict__ z,
                                             const T* __restrict__ y, T* __restrict__ dz,
                                             float* __restrict__ partial, T* __restrict__ dbias,
                                             gk_index rows, gk_index cols, float p0, float p1, float p2) {
  __shared__ float tile[GK_BWD_TY][GK_BWD_TX + 1];
  const gk_index col = (gk_index)blockIdx.x * GK_BWD_TX + threadIdx.x;
  float acc = 0.0f;
  if (col < cols) {
    for (gk_index r = (gk_index)blockIdx.y * GK_BWD_TY + threadIdx.y; r < rows; r += (gk_index)gridDim.y * GK_BWD_TY) {
      const gk_index i = r * cols + col;
      float d = gk_load(dy, i);
      if (A != GK_LINEAR) {
        d = gk_dact<A>(d, gk_load(z, i), gk_load(y, i), p0, p1, p2);
        T dt;
        gk_from_float(d, &dt);
        dz[i] = dt;
        d = gk_to_float(dt);  // the bias gradient sums the stored dz, like the generic path
      }
      acc += d;
    }
  }
  tile[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols && (dbias != nullptr || partial != nullptr)) {
    float total = 0.0f;
    for (int k = 0; k < GK_BWD_TY; ++k) total += tile[k][threadIdx.x];
    if (gridDim.y == 1 && dbias != nullptr) {
      gk_store(dbias, col, total);
    } else if (partial != nullptr) {
      partial[(gk_index)blockIdx.y * cols + col] = total;
    }
  }
}

#define GK_DENSE_KERNELS(T, S, NAME, A)                                                                 \
  extern "C" __global__ void gk_dense_fwd_##NAME##_##S(T* z, T* y, const T* bias, gk_index rows,        \
                                                       gk_index cols, float p0, float p1, float p2) {   \
    gk_dense_fwd<A, T>(z, y, bias, rows, cols, p0, p1, p2);                                             \
  }                                                                                                     \
  extern "C" __global__ void __launch_bounds__(GK_BWD_TX * GK_BWD_TY)                                   \
      gk_dense_bwd_##NAME##_##S(const T* dy, const T* z, const T* y, T* dz, float* partial, T* dbias,   \
                                gk_index rows, gk_index cols, float p0, float p1, float p2) {           \
    gk_dense_bwd<A, T>(dy, z, y, dz, partial, dbias, rows, cols, p0, p1, p2);                           \
  }

#define GK_DENSE_FINISH(T, S)                                                                           \
  extern "C" __global__ void gk_dense_bias_finish_##S(const float* __restrict__ partial,               \
                                                      T* __restrict__ dbias, gk_index parts,            \
                                                      gk_index cols) {                                  \
    GK_GRID_STRIDE(c, cols) {                                                                           \
      float total = 0.0f;                                                                               \
      for (gk_index p = 0; p < parts; ++p) total += partial[p * cols + c];                              \
      gk_store(dbias, c, total);                                                                        \
    }                                                                                                   \
  }

#define GK_DENSE_ALL(T, S) \
  GK_DENSE_KERNELS(T, S, linear, GK_LINEAR) GK_ACTIVATION_LIST(GK_DENSE_KERNELS, T, S) GK_DENSE_FINISH(T, S)
GK_FOR_EACH_DTYPE(GK_DENSE_ALL)
