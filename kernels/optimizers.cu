// Multi-tensor optimizer updates: ONE launch updates every weight of a model (float32).
// SGD (momentum, nesterov), Adam / AdamW (amsgrad), RMSprop (centered, momentum), Adagrad,
// Adadelta, Adamax, Nadam and Lion.
//
// Design: a device "tensor table" of int64 rows, GK_ROW entries per weight:
//   [w_ptr, g_ptr, slot1_ptr, slot2_ptr, slot3_ptr, size, first_chunk, flags]
// Each weight is cut into chunks of `chunk` elements; block b finds its weight by binary search
// on first_chunk (the prefix sum of chunk counts) and updates elements
// [(b - first_chunk) * chunk, min(+chunk, size)) of it with a block-stride loop.
// A table (not one flat parameter buffer) because gradients arrive from autodiff as separate
// arrays: a flat buffer would cost an extra gather of every gradient per step. The host caches
// tables by pointer tuple (CuPy's pool hands back the same addresses step after step), so the
// steady state uploads nothing; arithmetic uses _rn intrinsics (no FMA contraction) in the same
// order as the update rules' formulas (gpukeras/optimizers/<name>.py), so results match those twins.
// Decoupled weight decay (AdamW, or any optimizer's weight_decay) is fused for every kernel here:
// each takes (wd, wd_lr) after the table (and, last, `dev`: see GK_DEVICE_SCALARS), and a weight whose flags have GK_DECAY set first gets
// w -= (w * wd) * wd_lr, Keras's order, so exclude_from_weight_decay is a flag per row.
#include "common.cuh"

#define GK_ROW 8
#define GK_DECAY 1

// In a captured CUDA graph the host cannot pass this step's scalars as launch arguments (they would be
// frozen at capture), so every kernel also takes `dev`: when it is not null, the kernel's float
// parameters are read from dev[0..] in declaration order (the host writes them before each launch).
#define GK_DEVICE_SCALARS(...)                                                    \
  if (dev != nullptr) {                                                           \
    float* gk_scalars[] = {__VA_ARGS__};                                          \
    for (int gk_k = 0; gk_k < (int)(sizeof(gk_scalars) / sizeof(float*)); ++gk_k) \
      *gk_scalars[gk_k] = dev[gk_k];                                              \
  }

__device__ __forceinline__ int gk_find_tensor(const long long* __restrict__ table, int n_tensors, long long block) {
  int lo = 0;
  int hi = n_tensors - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (table[(long long)mid * GK_ROW + 6] <= block) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

template <typename F>
__device__ __forceinline__ void gk_multi_tensor_apply(const long long* __restrict__ table, int n_tensors,
                                                      long long chunk, float wd, float wd_lr, F&& update) {
  const int t = gk_find_tensor(table, n_tensors, blockIdx.x);
  const long long* row = table + (long long)t * GK_ROW;
  float* w = reinterpret_cast<float*>(row[0]);
  const float* g = reinterpret_cast<const float*>(row[1]);
  float* s1 = reinterpret_cast<float*>(row[2]);
  float* s2 = reinterpret_cast<float*>(row[3]);
  float* s3 = reinterpret_cast<float*>(row[4]);
  const long long size = row[5];
  const long long begin = ((long long)blockIdx.x - row[6]) * chunk;
  const long long end = begin + chunk < size ? begin + chunk : size;
  const bool decay = (row[7] & GK_DECAY) != 0;
  for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
    if (decay) w[i] = __fsub_rn(w[i], __fmul_rn(__fmul_rn(w[i], wd), wd_lr));
    update(w, g, s1, s2, s3, i);
  }
}

// Keras SGD: m = momentum*m - lr*g; w += m  (nesterov: w += momentum*m - lr*g); no momentum: w -= lr*g.
// slot1 = momentum buffer (unused without momentum).
extern "C" __global__ void gk_sgd_multi_f32(const long long* table, int n_tensors, long long chunk,
                                            float wd, float wd_lr, float lr,
                                            float momentum, int use_momentum, int nesterov,
                                            const float* __restrict__ dev) {
  GK_DEVICE_SCALARS(&wd, &wd_lr, &lr, &momentum);
  gk_multi_tensor_apply(table, n_tensors, chunk, wd, wd_lr, [=](float* w, const float* g, float* m, float*, float*,
                                                                long long i) {
    const float lg = __fmul_rn(lr, g[i]);
    if (!use_momentum) {
      w[i] = __fsub_rn(w[i], lg);
      return;
    }
    const float mi = __fsub_rn(__fmul_rn(m[i], momentum), lg);
    m[i] = mi;
    if (nesterov) {
      w[i] = __fadd_rn(w[i], __fsub_rn(__fmul_rn(momentum, mi), lg));
    } else {
      w[i] = __fadd_rn(w[i], mi);
    }
  });
}

// Keras Adam with bias correction folded into alpha = lr*sqrt(1-b2^t)/(1-b1^t) (host, float32):
//   m += (g-m)*(1-b1); v += (g*g-v)*(1-b2); [vhat = max(vhat, v)]; w -= (alpha*m)/(sqrt(v or vhat)+eps)
// AdamW's decay is the fused weight decay of gk_multi_tensor_apply. slot1 = m, slot2 = v, slot3 = vhat (amsgrad).
extern "C" __global__ void gk_adam_multi_f32(const long long* table, int n_tensors, long long chunk,
                                             float wd, float wd_lr, float alpha,
                                             float one_minus_b1, float one_minus_b2, float eps, int amsgrad,
                                             const float* __restrict__ dev) {
  GK_DEVICE_SCALARS(&wd, &wd_lr, &alpha, &one_minus_b1, &one_minus_b2, &eps);
  gk_multi_tensor_apply(table, n_tensors, chunk, wd, wd_lr, [=](float* w, const float* g, float* m, float* v,
                                                                  float* vhat, long long i) {
    const float gi = g[i];
    const float wi = w[i];
    const float mi = __fadd_rn(m[i], __fmul_rn(__fsub_rn(gi, m[i]), one_minus_b1));
    const float vi = __fadd_rn(v[i], __fmul_rn(__fsub_rn(__fmul_rn(gi, gi), v[i]), one_minus_b2));
    m[i] = mi;
    v[i] = vi;
    float denom_v = vi;
    if (amsgrad) {
      denom_v = gk_max(vhat[i], vi);  // NaN-propagating, as NumPy's maximum
      vhat[i] = denom_v;
    }
    w[i] = __fsub_rn(wi, __fdiv_rn(__fmul_rn(mi, alpha), __fadd_rn(__fsqrt_rn(denom_v), eps)));
  });
}

// Keras RMSprop: v = rho*v + (1-rho)*g^2; centered: a = rho*a + (1-rho)*g, denom = v - a^2 + eps,
// else denom = v + eps; inc = lr*g / sqrt(denom); momentum > 0: mo = momentum*mo + inc, w -= mo;
// else w -= inc. slot1 = v, slot2 = a (centered), slot3 = mo (momentum).
extern "C" __global__ void gk_rmsprop_multi_f32(const long long* table, int n_tensors, long long chunk,
                                                float wd, float wd_lr, float lr,
                                                float rho, float one_minus_rho, float momentum, float eps,
                                                int centered, int use_momentum,
                                                const float* __restrict__ dev) {
  GK_DEVICE_SCALARS(&wd, &wd_lr, &lr, &rho, &one_minus_rho, &momentum, &eps);
  gk_multi_tensor_apply(table, n_tensors, chunk, wd, wd_lr, [=](float* w, const float* g, float* v, float* a,
                                                                  float* mo, long long i) {
    const float gi = g[i];
    const float vi = __fadd_rn(__fmul_rn(rho, v[i]), __fmul_rn(one_minus_rho, __fmul_rn(gi, gi)));
    v[i] = vi;
    float denom;
    if (centered) {
      const float ai = __fadd_rn(__fmul_rn(rho, a[i]), __fmul_rn(one_minus_rho, gi));
      a[i] = ai;
      denom = __fadd_rn(__fsub_rn(vi, __fmul_rn(ai, ai)), eps);
    } else {
      denom = __fadd_rn(vi, eps);
    }
    const float inc = __fdiv_rn(__fmul_rn(lr, gi), __fsqrt_rn(denom));
    if (use_momentum) {
      const float moi = __fadd_rn(__fmul_rn(momentum, mo[i]), inc);
      mo[i] = moi;
      w[i] = __fsub_rn(w[i], moi);
    } else {
      w[i] = __fsub_rn(w[i], inc);
    }
  });
}

// Keras Adagrad: acc += g*g; w -= (lr*g) / sqrt(acc + eps). slot1 = accumulator.
extern "C" __global__ void gk_adagrad_multi_f32(const long long* table, int n_tensors, long long chunk,
                                                float wd, float wd_lr, float lr,
                                                float eps,
                                                const float* __restrict__ dev) {
  GK_DEVICE_SCALARS(&wd, &wd_lr, &lr, &eps);
  gk_multi_tensor_apply(table, n_tensors, chunk, wd, wd_lr, [=](float* w, const float* g, float* acc, float*, float*,
                                                                long long i) {
    const float gi = g[i];
    const float ai = __fadd_rn(acc[i], __fmul_rn(gi, gi));
    acc[i] = ai;
    w[i] = __fsub_rn(w[i], __fdiv_rn(__fmul_rn(lr, gi), __fsqrt_rn(__fadd_rn(ai, eps))));
  });
}

// Keras Adamax: m += (g-m)*(1-b1); u = max(b2*u, |g|); w -= (lr*m) / (correction*(u+eps)), with
// correction = 1 - b1^t computed on the host in float32. slot1 = m, slot2 = u.
extern "C" __global__ void gk_adamax_multi_f32(const long long* table, int n_tensors, long long chunk,
                                               float wd, float wd_lr, float lr,
                                               float correction, float one_minus_b1, float b2, float eps,
                                               const float* __restrict__ dev) {
  GK_DEVICE_SCALARS(&wd, &wd_lr, &lr, &correction, &one_minus_b1, &b2, &eps);
  gk_multi_tensor_apply(table, n_tensors, chunk, wd, wd_lr, [=](float* w, const float* g, float* m, float* u, float*,
                                                                long long i) {
    const float gi = g[i];
    const float mi = __fadd_rn(m[i], __fmul_rn(__fsub_rn(gi, m[i]), one_minus_b1));
    const float ui = gk_max(__fmul_rn(b2, u[i]), fabsf(gi));
    m[i] = mi;
    u[i] = ui;
    w[i] = __fsub_rn(w[i], __fdiv_rn(__fmul_rn(lr, mi), __fmul_rn(correction, __fadd_rn(ui, eps))));
  });
}

// NumPy's sign: -1, 0 or 1, and NaN for NaN.
__device__ __forceinline__ float gk_sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); }

// Keras Lion: w -= lr * sign(m*b1 + g*(1-b1)); m = m*b2 + g*(1-b2). slot1 = m.
extern "C" __global__ void gk_lion_multi_f32(const long long* table, int n_tensors, long long chunk,
                                             float wd, float wd_lr, float lr,
                                             float b1, float one_minus_b1, float b2, float one_minus_b2,
                                             const float* __restrict__ dev) {
  GK_DEVICE_SCALARS(&wd, &wd_lr, &lr, &b1, &one_minus_b1, &b2, &one_minus_b2);
  gk_multi_tensor_apply(table, n_tensors, chunk, wd, wd_lr, [=](float* w, const float* g, float* m, float*, float*,
                                                                long long i) {
    const float gi = g[i];
    const float mi = m[i];
    const float s = gk_sign(__fadd_rn(__fmul_rn(mi, b1), __fmul_rn(gi, one_minus_b1)));
    w[i] = __fsub_rn(w[i], __fmul_rn(lr, s));
    m[i] = __fadd_rn(__fmul_rn(mi, b2), __fmul_rn(gi, one_minus_b2));
  });
}

// Keras Adadelta: a_g = rho*a_g + (1-rho)*g^2; d = -(sqrt(a_d + eps)*g / sqrt(a_g + eps));
// a_d = rho*a_d + (1-rho)*d^2; w += lr*d. slot1 = a_g, slot2 = a_d.
extern "C" __global__ void gk_adadelta_multi_f32(const long long* table, int n_tensors, long long chunk,
                                                 float wd, float wd_lr, float lr,
                                                 float rho, float one_minus_rho, float eps,
                                                 const float* __restrict__ dev) {
  GK_DEVICE_SCALARS(&wd, &wd_lr, &lr, &rho, &one_minus_rho, &eps);
  gk_multi_tensor_apply(table, n_tensors, chunk, wd, wd_lr, [=](float* w, const float* g, float* ag, float* ad, float*,
                                                                long long i) {
    const float gi = g[i];
    const float agi = __fadd_rn(__fmul_rn(rho, ag[i]), __fmul_rn(one_minus_rho, __fmul_rn(gi, gi)));
    const float d = -__fdiv_rn(__fmul_rn(__fsqrt_rn(__fadd_rn(ad[i], eps)), gi), __fsqrt_rn(__fadd_rn(agi, eps)));
    ag[i] = agi;
    ad[i] = __fadd_rn(__fmul_rn(rho, ad[i]), __fmul_rn(one_minus_rho, __fmul_rn(d, d)));
    w[i] = __fadd_rn(w[i], __fmul_rn(lr, d));
  });
}

// Keras Nadam, the momentum-schedule scalars folded on the host (float32, as the twin uses them):
//   m += (g-m)*(1-b1); v += (g*g-v)*(1-b2);
//   m_hat = (u_next*m)/c_next + (c_u*g)/c_prod;  v_hat = v/c_b2;  w -= (m_hat*lr)/(sqrt(v_hat)+eps)
// with u_next = u_{t+1}, c_next = 1 - prod_{t+1}, c_u = 1 - u_t, c_prod = 1 - prod_t, c_b2 = 1 - b2^t.
extern "C" __global__ void gk_nadam_multi_f32(const long long* table, int n_tensors, long long chunk,
                                              float wd, float wd_lr, float lr,
                                              float one_minus_b1, float one_minus_b2, float eps, float u_next,
                                              float c_next, float c_u, float c_prod, float c_b2,
                                              const float* __restrict__ dev) {
  GK_DEVICE_SCALARS(&wd, &wd_lr, &lr, &one_minus_b1, &one_minus_b2, &eps, &u_next, &c_next, &c_u, &c_prod, &c_b2);
  gk_multi_tensor_apply(table, n_tensors, chunk, wd, wd_lr, [=](float* w, const float* g, float* m, float* v, float*,
                                                                long long i) {
    const float gi = g[i];
    const float mi = __fadd_rn(m[i], __fmul_rn(__fsub_rn(gi, m[i]), one_minus_b1));
    const float vi = __fadd_rn(v[i], __fmul_rn(__fsub_rn(__fmul_rn(gi, gi), v[i]), one_minus_b2));
    m[i] = mi;
    v[i] = vi;
    const float m_hat = __fadd_rn(__fdiv_rn(__fmul_rn(u_next, mi), c_next), __fdiv_rn(__fmul_rn(c_u, gi), c_prod));
    const float v_hat = __fdiv_rn(vi, c_b2);
    w[i] = __fsub_rn(w[i], __fdiv_rn(__fmul_rn(m_hat, lr), __fadd_rn(__fsqrt_rn(v_hat), eps)));
  });
}
