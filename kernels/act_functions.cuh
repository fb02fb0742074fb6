// Activation forward/backward formulas, in float32, identical to gpukeras/backend/base.py.
// Ids match ACT_IDS in gpukeras/backend/kernels.py. Parameters p0..p2 (unused ones are 0):
//   relu: p0 = negative_slope, p1 = max_value (+inf for None), p2 = threshold
//   leaky_relu: p0 = negative_slope;  elu: p0 = alpha
#pragma once
#include "common.cuh"

#define GK_LINEAR 0
#define GK_RELU 1
#define GK_RELU6 2
#define GK_LEAKY_RELU 3
#define GK_ELU 4
#define GK_SELU 5
#define GK_GELU 6
#define GK_GELU_TANH 7
#define GK_SILU 8
#define GK_SIGMOID 9
#define GK_HARD_SIGMOID 10
#define GK_HARD_SILU 11
#define GK_TANH 12
#define GK_SOFTPLUS 13
#define GK_SOFTSIGN 14
#define GK_EXPONENTIAL 15
#define GK_MISH 16

#define GK_SELU_ALPHA 1.6732632423543772f
#define GK_SELU_SCALE 1.0507009873554805f
#define GK_SQRT_2_OVER_PI 0.7978845608028654f
#define GK_RSQRT_2 0.7071067811865476f
#define GK_RSQRT_2PI 0.3989422804014327f
#define GK_GELU_C 0.044715f

// X-macro over the elementwise activations: M(name, id)
#define GK_ACTIVATION_LIST(M, T, S)                                                         \
  M(T, S, relu, GK_RELU) M(T, S, relu6, GK_RELU6) M(T, S, leaky_relu, GK_LEAKY_RELU)        \
  M(T, S, elu, GK_ELU) M(T, S, selu, GK_SELU) M(T, S, gelu, GK_GELU)                        \
  M(T, S, gelu_tanh, GK_GELU_TANH) M(T, S, silu, GK_SILU) M(T, S, sigmoid, GK_SIGMOID)      \
  M(T, S, hard_sigmoid, GK_HARD_SIGMOID) M(T, S, hard_silu, GK_HARD_SILU)                   \
  M(T, S, tanh, GK_TANH) M(T, S, softplus, GK_SOFTPLUS) M(T, S, softsign, GK_SOFTSIGN)      \
  M(T, S, exponential, GK_EXPONENTIAL) M(T, S, mish, GK_MISH)

template <int A>
GK_HD float gk_act(float x, float p0, float p1, float p2) {
  if (A == GK_LINEAR) return x;
  if (A == GK_RELU) {
    const float y = x < p2 ? (p0 != 0.0f ? p0 * (x - p2) : 0.0f) : x;  // NaN stays NaN
    return gk_min(y, p1);
  }
  if (A == GK_RELU6) return gk_min(gk_max(x, 0.0f), 6.0f);
  if (A == GK_LEAKY_RELU) return x >= 0.0f ? x : x * p0;
  if (A == GK_ELU) return x > 0.0f ? x : p0 * expm1f(gk_min(x, 0.0f));
  if (A == GK_SELU) return GK_SELU_SCALE * (x > 0.0f ? x : GK_SELU_ALPHA * expm1f(gk_min(x, 0.0f)));
  if (A == GK_GELU) return 0.5f * x * erfcf(-x * GK_RSQRT_2);
  if (A == GK_GELU_TANH) return 0.5f * x * (1.0f + tanhf(GK_SQRT_2_OVER_PI * (x + GK_GELU_C * x * x * x)));
  if (A == GK_SILU) return x * gk_sigmoid(x);
  if (A == GK_SIGMOID) return gk_sigmoid(x);
  if (A == GK_HARD_SIGMOID) return gk_min(gk_max(x / 6.0f + 0.5f, 0.0f), 1.0f);
  if (A == GK_HARD_SILU) return x * gk_min(gk_max(x / 6.0f + 0.5f, 0.0f), 1.0f);
  if (A == GK_TANH) return tanhf(x);
  if (A == GK_SOFTPLUS) return gk_softplus(x);
  if (A == GK_SOFTSIGN) return x / (1.0f + fabsf(x));
  if (A == GK_EXPONENTIAL) return expf(x);
  if (A == GK_MISH) return x * tanhf(gk_softplus(x));
  return x;
}

// dL/dx from dL/dy, the input x and the output y (as in Ops.activation_backward).
template <int A>
GK_HD float gk_dact(float dy, float x, float y, float p0, float p1, float p2) {
  if (A == GK_LINEAR) return dy;
  if (A == GK_RELU) {
    float d = x > p2 ? 1.0f : p0;
    if (x >= p1 && p1 <= GK_FLT_MAX) d = 0.0f;  // p1 = +inf means no cap: the slope at x = +inf is 1
    return dy * d;
  }
  if (A == GK_RELU6) return (x > 0.0f && x < 6.0f) ? dy : 0.0f * dy;
  if (A == GK_LEAKY_RELU) return x > 0.0f ? dy : dy * p0;
  if (A == GK_ELU) return x > 0.0f ? dy : dy * p0 * expf(gk_min(x, 0.0f));
  if (A == GK_SELU) return dy * (x > 0.0f ? GK_SELU_SCALE : GK_SELU_SCALE * GK_SELU_ALPHA * expf(gk_min(x, 0.0f)));
  if (A == GK_GELU) {
    const float cdf = 0.5f * erfcf(-x * GK_RSQRT_2);
    const float pdf = expf(-0.5f * x * x) * GK_RSQRT_2PI;
    return dy * (cdf + x * pdf);
  }
  if (A == GK_GELU_TANH) {
    const float t = tanhf(GK_SQRT_2_OVER_PI * (x + GK_GELU_C * x * x * x));
    const float d = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GK_SQRT_2_OVER_PI * (1.0f + 3.0f * GK_GELU_C * x * x);
    return dy * d;
  }
  if (A == GK_SILU) {
    const float s = gk_sigmoid(x);
    return dy * (s * (1.0f + x * (1.0f - s)));
  }
  if (A == GK_SIGMOID) return dy * (y * (1.0f - y));
  if (A == GK_HARD_SIGMOID) return (x > -3.0f && x < 3.0f) ? dy / 6.0f : 0.0f * dy;
  if (A == GK_HARD_SILU) return dy * (x <= -3.0f ? 0.0f : (x >= 3.0f ? 1.0f : x / 3.0f + 0.5f));
  if (A == GK_TANH) return dy * (1.0f - y * y);
  if (A == GK_SOFTPLUS) return dy * gk_sigmoid(x);
  if (A == GK_SOFTSIGN) {
    const float d = 1.0f + fabsf(x);
    return dy / (d * d);
  }
  if (A == GK_EXPONENTIAL) return dy * y;
  if (A == GK_MISH) {
    const float t = tanhf(gk_softplus(x));
    return dy * (t + x * (1.0f - t * t) * gk_sigmoid(x));
  }
  return dy;
}
