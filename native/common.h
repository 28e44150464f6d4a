// Shared by the addon's kernel files: includes, the oneDNN engine and stream, argument helpers, the
// lock around oneDNN's shared state, and the entry points each kernel file defines (addon.cc exports
// them). Layouts follow TF.js: activations NHWC, conv filters HWIO, matrices row-major.
#pragma once
#include <napi.h>
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "winograd.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;


namespace nthk {


inline engine& eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}
inline stream& strm() {
  static stream s(eng());
  return s;
}

inline float* f32(const Napi::Value& v) { return v.As<Napi::Float32Array>().Data(); }
inline size_t len(const Napi::Value& v) { return v.As<Napi::TypedArray>().ElementLength(); }
inline int64_t i64(const Napi::Value& v) { return v.As<Napi::Number>().Int64Value(); }
inline int i32(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }

inline std::vector<int64_t> dims(const Napi::Value& v) {
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> d(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) d[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return d;
}

inline void check(bool ok, const Napi::Env& env, const char* what) {
  if (!ok) throw Napi::RangeError::New(env, what);
}

// Convolutions and matmuls share process-wide plan caches and scratch arenas, and Node may call the
// addon from several worker threads at once (preprocessing runs face detection in workers): those
// calls take this lock, one at a time (each is parallel inside already).
inline std::mutex& shared_state() {
  static std::mutex m;
  return m;
}

// Work below this many elements runs on one thread: forking costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;

// Entry points, by file: onednn.cc (convolution, matmul, their caches), elementwise.cc, reduce.cc
// (reductions, softmax), movement.cc (transpose, concat/split/slice, pooling, resize), fused.cc
// (Adam, spectral norm, instance norm), inference.cc (depthwise convolution, batch norm).
Napi::Value Conv(const Napi::CallbackInfo& info);
Napi::Value MatMul(const Napi::CallbackInfo& info);
Napi::Value UnaryOp(const Napi::CallbackInfo& info);
Napi::Value BinaryOp(const Napi::CallbackInfo& info);
Napi::Value AddN(const Napi::CallbackInfo& info);
Napi::Value ReduceOp(const Napi::CallbackInfo& info);
Napi::Value Softmax(const Napi::CallbackInfo& info);
Napi::Value Attention(const Napi::CallbackInfo& info);
// softmax over the last axis of x [rows, cols] into y (in place when x == y): softmax.cc
void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols);
Napi::Value Transpose(const Napi::CallbackInfo& info);
Napi::Value Concat(const Napi::CallbackInfo& info);
Napi::Value Slice(const Napi::CallbackInfo& info);
Napi::Value Split(const Napi::CallbackInfo& info);
Napi::Value AvgPool(const Napi::CallbackInfo& info);
Napi::Value MaxPool(const Napi::CallbackInfo& info);
Napi::Value Resize(const Napi::CallbackInfo& info);
Napi::Value Adam(const Napi::CallbackInfo& info);
Napi::Value InstanceNorm(const Napi::CallbackInfo& info);
Napi::Value InstanceNormGrad(const Napi::CallbackInfo& info);
Napi::Value SpectralPower(const Napi::CallbackInfo& info);
Napi::Value SpectralDiv(const Napi::CallbackInfo& info);
Napi::Value SpectralDivGrad(const Napi::CallbackInfo& info);
Napi::Value ClearCaches(const Napi::CallbackInfo& info);
Napi::Value DepthwiseConv(const Napi::CallbackInfo& info);
Napi::Value BatchNorm(const Napi::CallbackInfo& info);

// exp(x) for x <= 0 (softmax after subtracting the row max), vectorisable: Cephes' expf (range
// reduction by ln 2 in two parts, degree-6 polynomial, 2^n through the exponent bits), relative
// error ~2e-7. std::exp is a scalar libm call, and at 256px the attention softmax over 8 x 4096 x 4096
// scores spent most of its time there.
__attribute__((always_inline)) inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);  // exp(-87) ~ 1.6e-38: below, a normal float cannot hold 2^n
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  x = x - n * 0.693359375f + n * 2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * x + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * x * x + x + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

// tanh without libm's scalar call, vectorisable (Cephes' tanhf): an odd polynomial for |x| < 0.625,
// (1 - e) / (1 + e) with e = exp(-2|x|) above, where e <= 0.29 leaves no cancellation; relative error
// ~2e-7 (the tests hold it to the cpu backend's Math.tanh). G's output layer is one tanh over every
// pixel of every frame: 6 ms a 16-frame call at 128 px through std::tanh.
__attribute__((always_inline)) inline float tanh_fast(float x) {
  const float a = std::fabs(x);
  const float z = x * x;
  const float small =
      ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
       3.33332819422e-1f) * z * x + x;
  const float e = exp_nonpositive(-2.f * a);
  const float big = std::copysign((1.f - e) / (1.f + e), x);
  return a < 0.625f ? small : big;
}

}  // namespace nthk
