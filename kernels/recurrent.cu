// One time step's elementwise work of an LSTM and of a GRU (reset_after) cell, forward and backward:
// gates, nonlinearities, state update and mask, one thread per (row, unit). The recurrent GEMM
// (hr = h_prev @ recurrent_kernel, and dz @ recurrent_kernel^T backward) is the caller's.
// Twin: gpukeras/backend/fused/recurrent.py (RecurrentFusions), same order of operations.
//
//   gk_lstm_step_fwd_<dtype>(x, hr, bias, h_prev, c_prev, mask, fallback, z, gates, c_new, act_c, h, c, out,
//                            rows, units, act, a0, a1, a2, ract, r0, r1, r2)
//     z = x + hr (+ bias) (rows, 4 units; gates i, f, c, o); gates (4, rows, units) = ract(z) but act(z_c);
//     c_new = f * c_prev + i * g; act_c = act(c_new); h_new = o * act_c;
//     where mask[row] == 0: h = h_prev, c = c_prev, out = fallback (0 when null); else h_new, c_new, h_new.
//   gk_lstm_step_bwd_<dtype>(dh, dc, dout, z, gates, c_new, act_c, c_prev, mask, dz, dh_skip, dc_prev, dout_prev,
//                            rows, units, masked_output, act, ..., ract, ...)
//     dz: the gradient of z; dh_skip: of h_prev but through the recurrent GEMM (written when mask is given);
//     dout_prev: a masked row's output gradient when masked_output == 2 (unroll; 0 carry, 1 zero).
//   gk_gru_step_fwd_<dtype>(x, hr, rbias, h_prev, mask, fallback, pre, post, inner_h, h, out, rows, units, ...)
//     inner = hr (+ rbias) (rows, 3 units; gates z, r, h); z = ract(x_z + inner_z), r = ract(x_r + inner_r),
//     hh = act(x_h + r * inner_h); h_new = z * h_prev + (1 - z) * hh; pre / post: the pre-activations and
//     activations, gate-major (3, rows, units); inner_h (rows, units).
//   gk_gru_step_bwd_<dtype>(dh, dout, pre, post, inner_h, h_prev, mask, dx, dinner, dh_skip, dout_prev, rows,
//                           units, masked_output, ...)
//     dx: gradient of the input projection; dinner: of hr + rbias; dh_skip: of h_prev but through the GEMM.
// mask, fallback, bias, rbias and dout may be null. Activation ids: act_functions.cuh (0 = linear), with
// their parameters (a0, a1, a2).
#include "act_functions.cuh"

GK_HD float gk_act_id(int id, float x, float p0, float p1, float p2) {
  switch (id) {
    case GK_RELU: return gk_act<GK_RELU>(x, p0, p1, p2);
    case GK_RELU6: return gk_act<GK_RELU6>(x, p0, p1, p2);
    case GK_LEAKY_RELU: return gk_act<GK_LEAKY_RELU>(x, p0, p1, p2);
    case GK_ELU: return gk_act<GK_ELU>(x, p0, p1, p2);
    case GK_SELU: return gk_act<GK_SELU>(x, p0, p1, p2);
    case GK_GELU: return gk_act<GK_GELU>(x, p0, p1, p2);
    case GK_GELU_TANH: return gk_act<GK_GELU_TANH>(x, p0, p1, p2);
    case GK_SILU: return gk_act<GK_SILU>(x, p0, p1, p2);
    case GK_SIGMOID: return gk_act<GK_SIGMOID>(x, p0, p1, p2);
    case GK_HARD_SIGMOID: return gk_act<GK_HARD_SIGMOID>(x, p0, p1, p2);
    case GK_HARD_SILU: return gk_act<GK_HARD_SILU>(x, p0, p1, p2);
    case GK_TANH: return gk_act<GK_TANH>(x, p0, p1, p2);
    case GK_SOFTPLUS: return gk_act<GK_SOFTPLUS>(x, p0, p1, p2);
    case GK_SOFTSIGN: return gk_act<GK_SOFTSIGN>(x, p0, p1, p2);
    case GK_EXPONENTIAL: return gk_act<GK_EXPONENTIAL>(x, p0, p1, p2);
    case GK_MISH: return gk_act<GK_MISH>(x, p0, p1, p2);
    default: return x;
  }
}

GK_HD float gk_dact_id(int id, float dy, float x, float y, float p0, float p1, float p2) {
  switch (id) {
    case GK_RELU: return gk_dact<GK_RELU>(dy, x, y, p0, p1, p2);
    case GK_RELU6: return gk_dact<GK_RELU6>(dy, x, y, p0, p1, p2);
    case GK_LEAKY_RELU: return gk_dact<GK_LEAKY_RELU>(dy, x, y, p0, p1, p2);
    case GK_ELU: return gk_dact<GK_ELU>(dy, x, y, p0, p1, p2);
    case GK_SELU: return gk_dact<GK_SELU>(dy, x, y, p0, p1, p2);
    case GK_GELU: return gk_dact<GK_GELU>(dy, x, y, p0, p1, p2);
    case GK_GELU_TANH: return gk_dact<GK_GELU_TANH>(dy, x, y, p0, p1, p2);
    case GK_SILU: return gk_dact<GK_SILU>(dy, x, y, p0, p1, p2);
    case GK_SIGMOID: return gk_dact<GK_SIGMOID>(dy, x, y, p0, p1, p2);
    case GK_HARD_SIGMOID: return gk_dact<GK_HARD_SIGMOID>(dy, x, y, p0, p1, p2);
    case GK_HARD_SILU: return gk_dact<GK_HARD_SILU>(dy, x, y, p0, p1, p2);
    case GK_TANH: return gk_dact<GK_TANH>(dy, x, y, p0, p1, p2);
    case GK_SOFTPLUS: return gk_dact<GK_SOFTPLUS>(dy, x, y, p0, p1, p2);
    case GK_SOFTSIGN: return gk_dact<GK_SOFTSIGN>(dy, x, y, p0, p1, p2);
    case GK_EXPONENTIAL: return gk_dact<GK_EXPONENTIAL>(dy, x, y, p0, p1, p2);
    case GK_MISH: return gk_dact<GK_MISH>(dy, x, y, p0, p1, p2);
    default: return dy;
  }
}

// One activation with its parameters, as the kernels receive it.
struct gk_act_spec {
  int id;
  float p0, p1, p2;
  GK_HD float f(float x) const { return gk_act_id(id, x, p0, p1, p2); }
  GK_HD float df(float dy, float x, float y) const { return gk_dact_id(id, dy, x, y, p0, p1, p2); }
};

// The stored value of v (rounded to the storage dtype), so later arithmetic uses what the twin keeps.
template <typename T>
__device__ __forceinline__ float gk_put(T* p, gk_index i, float v) {
  T t;
  gk_from_float(v, &t);
  p[i] = t;
  return gk_to_float(t);
}

// The gradients a masked step splits: what reaches the new h (returned), what skips the cell to
// h_prev (*keep) and the previous output's share (*out_prev, unroll only). Twin: _masked_step_grads.
__device__ __forceinline__ float gk_masked_grads(bool counts, bool has_mask, float dh, float dout, int masked_output,
                                                 float* keep, float* out_prev) {
  if (!has_mask) {
    *keep = 0.0f;
    *out_prev = 0.0f;
    return dh + dout;
  }
  *keep = counts ? 0.0f : (masked_output == 0 ? dh + dout : dh);
  *out_prev = (!counts && masked_output == 2) ? dout : 0.0f;
  return counts ? dh + dout : 0.0f;
}

template <typename T>
__device__ __forceinline__ void gk_lstm_step_fwd(const T* __restrict__ x, const T* __restrict__ hr,
                                                 const T* __restrict__ bias, const T* __restrict__ h_prev,
                                                 const T* __restrict__ c_prev, const T* __restrict__ mask,
                                                 const T* __restrict__ fallback, T* __restrict__ z,
                                                 T* __restrict__ gates, T* __restrict__ c_new, T* __restrict__ act_c,
                                                 T* __restrict__ h, T* __restrict__ c, T* __restrict__ out,
                                                 gk_index rows, gk_index units, gk_act_spec act, gk_act_spec ract) {
  GK_GRID_STRIDE(e, rows * units) {
    const gk_index row = e / units;
    const gk_index u = e - row * units;
    float g[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const gk_index j = row * 4 * units + k * units + u;
      float zk = gk_load(x, j) + gk_load(hr, j);
      if (bias != nullptr) zk += gk_load(bias, k * units + u);
      zk = gk_put(z, j, zk);
      g[k] = gk_put(gates, k * rows * units + e, k == 2 ? act.f(zk) : ract.f(zk));
    }
    const float cp = gk_load(c_prev, e);
    const float cn = gk_put(c_new, e, g[1] * cp + g[0] * g[2]);
    const float ac = gk_put(act_c, e, act.f(cn));
    const float hn = g[3] * ac;
    const bool counts = mask == nullptr || gk_load(mask, row) != 0.0f;
    gk_store(h, e, counts ? hn : gk_load(h_prev, e));
    gk_store(c, e, counts ? cn : cp);
    gk_store(out, e, counts ? hn : (fallback != nullptr ? gk_load(fallback, e) : 0.0f));
  }
}

template <typename T>
__device__ __forceinline__ void gk_lstm_step_bwd(const T* __restrict__ dh, const T* __restrict__ dc,
                                                 const T* __restrict__ dout, const T* __restrict__ z,
                                                 const T* __restrict__ gates, const T* __restrict__ c_new,
                                                 const T* __restrict__ act_c, const T* __restrict__ c_prev,
                                                 const T* __restrict__ mask, T* __restrict__ dz,
                                                 T* __restrict__ dh_skip, T* __restrict__ dc_prev,
                                                 T* __restrict__ dout_prev, gk_index rows, gk_index units,
                                                 int masked_output, gk_act_spec act, gk_act_spec ract) {
  GK_GRID_STRIDE(e, rows * units) {
    const gk_index row = e / units;
    const gk_index u = e - row * units;
    const gk_index base = row * 4 * units + u;
    const bool has_mask = mask != nullptr;
    const bool counts = !has_mask || gk_load(mask, row) != 0.0f;
    float keep, out_prev;
    const float dcv = gk_load(dc, e);
    const float dh_new = gk_masked_grads(counts, has_mask, gk_load(dh, e), dout != nullptr ? gk_load(dout, e) : 0.0f,
                                         masked_output, &keep, &out_prev);
    const gk_index n = rows * units;
    const float i = gk_load(gates, e), f = gk_load(gates, n + e);
    const float gg = gk_load(gates, 2 * n + e), o = gk_load(gates, 3 * n + e);
    const float ac = gk_load(act_c, e);
    const float dct = (counts ? dcv : 0.0f) + act.df(dh_new * o, gk_load(c_new, e), ac);
    gk_store(dz, base, ract.df(dct * gg, gk_load(z, base), i));
    gk_store(dz, base + units, ract.df(dct * gk_load(c_prev, e), gk_load(z, base + units), f));
    gk_store(dz, base + 2 * units, act.df(dct * i, gk_load(z, base + 2 * units), gg));
    gk_store(dz, base + 3 * units, ract.df(dh_new * ac, gk_load(z, base + 3 * units), o));
    gk_store(dc_prev, e, dct * f + (counts ? 0.0f : dcv));
    if (dh_skip != nullptr) gk_store(dh_skip, e, keep);
    if (dout_prev != nullptr) gk_store(dout_prev, e, out_prev);
  }
}

template <typename T>
__device__ __forceinline__ void gk_gru_step_fwd(const T* __restrict__ x, const T* __restrict__ hr,
                                                const T* __restrict__ rbias, const T* __restrict__ h_prev,
                                                const T* __restrict__ mask, const T* __restrict__ fallback,
                                                T* __restrict__ pre, T* __restrict__ post, T* __restrict__ inner_h,
                                                T* __restrict__ h, T* __restrict__ out, gk_index rows, gk_index units,
                                                gk_act_spec act, gk_act_spec ract) {
  GK_GRID_STRIDE(e, rows * units) {
    const gk_index row = e / units;
    const gk_index u = e - row * units;
    const gk_index base = row * 3 * units + u;
    float inner[3];
#pragma unroll
    for (int k = 0; k < 3; ++k) {
      float v = gk_load(hr, base + k * units);
      if (rbias != nullptr) v += gk_load(rbias, k * units + u);
      inner[k] = v;
    }
    const gk_index n = rows * units;
    const float ih = gk_put(inner_h, e, inner[2]);
    const float zg = gk_put(post, e, ract.f(gk_put(pre, e, gk_load(x, base) + inner[0])));
    const float r = gk_put(post, n + e, ract.f(gk_put(pre, n + e, gk_load(x, base + units) + inner[1])));
    const float hp = gk_put(pre, 2 * n + e, gk_load(x, base + 2 * units) + r * ih);
    const float hh = gk_put(post, 2 * n + e, act.f(hp));
    const float hprev = gk_load(h_prev, e);
    const float hn = zg * hprev + (1.0f - zg) * hh;
    const bool counts = mask == nullptr || gk_load(mask, row) != 0.0f;
    gk_store(h, e, counts ? hn : hprev);
    gk_store(out, e, counts ? hn : (fallback != nullptr ? gk_load(fallback, e) : 0.0f));
  }
}

template <typename T>
__device__ __forceinline__ void gk_gru_step_bwd(const T* __restrict__ dh, const T* __restrict__ dout,
                                                const T* __restrict__ pre, const T* __restrict__ post,
                                                const T* __restrict__ inner_h, const T* __restrict__ h_prev,
                                                const T* __restrict__ mask, T* __restrict__ dx,
                                                T* __restrict__ dinner, T* __restrict__ dh_skip,
                                                T* __restrict__ dout_prev, gk_index rows, gk_index units,
                                                int masked_output, gk_act_spec act, gk_act_spec ract) {
  GK_GRID_STRIDE(e, rows * units) {
    const gk_index row = e / units;
    const gk_index u = e - row * units;
    const gk_index base = row * 3 * units + u;
    const bool has_mask = mask != nullptr;
    const bool counts = !has_mask || gk_load(mask, row) != 0.0f;
    float keep, out_prev;
    const float dh_new = gk_masked_grads(counts, has_mask, gk_load(dh, e), dout != nullptr ? gk_load(dout, e) : 0.0f,
                                         masked_output, &keep, &out_prev);
    const gk_index n = rows * units;
    const float zg = gk_load(post, e), r = gk_load(post, n + e), hh = gk_load(post, 2 * n + e);
    const float hprev = gk_load(h_prev, e);
    const float dzpre = ract.df(dh_new * (hprev - hh), gk_load(pre, e), zg);
    const float dhpre = act.df(dh_new * (1.0f - zg), gk_load(pre, 2 * n + e), hh);
    const float drpre = ract.df(dhpre * gk_load(inner_h, e), gk_load(pre, n + e), r);
    gk_store(dx, base, dzpre);
    gk_store(dx, base + units, drpre);
    gk_store(dx, base + 2 * units, dhpre);
    gk_store(dinner, base, dzpre);
    gk_store(dinner, base + units, drpre);
    gk_store(dinner, base + 2 * units, dhpre * r);
    gk_store(dh_skip, e, dh_new * zg + keep);
    if (dout_prev != nullptr) gk_store(dout_prev, e, out_prev);
  }
}

#define GK_RECURRENT_KERNELS(T, S)                                                                                   \
  extern "C" __global__ void gk_lstm_step_fwd_##S(                                                                  \
      const T* x, const T* hr, const T* bias, const T* h_prev, const T* c_prev, const T* mask, const T* fallback,  \
      T* z, T* gates, T* c_new, T* act_c, T* h, T* c, T* out, gk_index rows, gk_index units, int act, float a0,    \
      float a1, float a2, int ract, float r0, float r1, float r2) {                                               \
    gk_lstm_step_fwd<T>(x, hr, bias, h_prev, c_prev, mask, fallback, z, gates, c_new, act_c, h, c, out, rows,      \
                        units, gk_act_spec{act, a0, a1, a2}, gk_act_spec{ract, r0, r1, r2});                       \
  }                                                                                                                 \
  extern "C" __global__ void gk_lstm_step_bwd_##S(                                                                  \
      const T* dh, const T* dc, const T* dout, const T* z, const T* gates, const T* c_new, const T* act_c,         \
      const T* c_prev, const T* mask, T* dz, T* dh_skip, T* dc_prev, T* dout_prev, gk_index rows, gk_index units,  \
      int masked_output, int act, float a0, float a1, float a2, int ract, float r0, float r1, float r2) {         \
    gk_lstm_step_bwd<T>(dh, dc, dout, z, gates, c_new, act_c, c_prev, mask, dz, dh_skip, dc_prev, dout_prev, rows, \
                        units, masked_output, gk_act_spec{act, a0, a1, a2}, gk_act_spec{ract, r0, r1, r2});        \
  }                                                                                                                 \
  extern "C" __global__ void gk_gru_step_fwd_##S(                                                                   \
      const T* x, const T* hr, const T* rbias, const T* h_prev, const T* mask, const T* fallback, T* pre,          \
      T* post, T* inner_h, T* h, T* out, gk_index rows, gk_index units, int act, float a0, float a1, float a2,     \
      int ract, float r0, float r1, float r2) {                                                                    \
    gk_gru_step_fwd<T>(x, hr, rbias, h_prev, mask, fallback, pre, post, inner_h, h, out, rows, units,              \
                       gk_act_spec{act, a0, a1, a2}, gk_act_spec{ract, r0, r1, r2});                                \
  }                                                                                                                 \
  extern "C" __global__ void gk_gru_step_bwd_##S(                                                                   \
      const T* dh, const T* dout, const T* pre, const T* post, const T* inner_h, const T* h_prev, const T* mask,   \
      T* dx, T* dinner, T* dh_skip, T* dout_prev, gk_index rows, gk_index units, int masked_output, int act,       \
      float a0, float a1, float a2, int ract, float r0, float r1, float r2) {                                     \
    gk_gru_step_bwd<T>(dh, dout, pre, post, inner_h, h_prev, mask, dx, dinner, dh_skip, dout_prev, rows, units,    \
                       masked_output, gk_act_spec{act, a0, a1, a2}, gk_act_spec{ract, r0, r1, r2});                \
  }

GK_FOR_EACH_DTYPE(GK_RECURRENT_KERNELS)
