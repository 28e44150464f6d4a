// Reductions over axes and softmax (OpenMP loops).
#include "common.h"

namespace nthk {

// ---------------------------------------------------------------- reductions

enum Reduce { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD };

// reduce(op, x, out, outer, size, inner): x viewed as [outer, size, inner] -> out [outer, inner].
// Each output element is reduced by one thread in a fixed order (deterministic across runs).
Napi::Value ReduceOp(const Napi::CallbackInfo& info) {
  const int op = i32(info[0]);
  const float* x = f32(info[1]);
  float* out = f32(info[2]);
  const int64_t outer = i64(info[3]), size = i64(info[4]), inner = i64(info[5]);
  check(len(info[1]) == size_t(outer * size * inner) && len(info[2]) == size_t(outer * inner), info.Env(),
        "reduce: buffer sizes do not match [outer, size, inner]");
  const bool big = outer * size * inner >= kParallelMin;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (big && outer > 1)
    for (int64_t o = 0; o < outer; o++) {
      const float* p = x + o * size;
      double acc = op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : op == R_PROD ? 1.0 : 0.0;
      if (op == R_SUM || op == R_MEAN) {
        float s = 0.f;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < size; i++) s += p[i];
        acc = s;
      } else {
        for (int64_t i = 0; i < size; i++) {
          const float v = p[i];
          if (op == R_MAX) acc = (std::isnan(v) || v > acc) ? v : acc;
          else if (op == R_MIN) acc = (std::isnan(v) || v < acc) ? v : acc;
          else acc *= v;
        }
      }
      out[o] = float(op == R_MEAN ? acc / double(size) : acc);
    }
    return info.Env().Undefined();
  }
  // A sum over many rows into a few outputs (a bias gradient: dy [N*H*W, C] -> [C]) would run on
  // one thread below: split the rows into fixed blocks, sum each block on any thread, then add the
  // block sums in order. The blocks depend on the shape only, so the result does not depend on threads.
  constexpr int64_t kRows = 512;
  if ((op == R_SUM || op == R_MEAN) && big && outer < 4 && size >= 4 * kRows) {
    const int64_t blocks = (size + kRows - 1) / kRows;
    std::vector<float> part(size_t(outer * blocks * inner), 0.f);
#pragma omp parallel for schedule(static)
    for (int64_t ob = 0; ob < outer * blocks; ob++) {
      const int64_t o = ob / blocks, i0 = (ob % blocks) * kRows, i1 = std::min(size, i0 + kRows);
      float* dst = part.data() + ob * inner;
      for (int64_t i = i0; i < i1; i++) {
        const float* src = x + (o * size + i) * inner;
#pragma omp simd
        for (int64_t j = 0; j < inner; j++) dst[j] += src[j];
      }
    }
    for (int64_t o = 0; o < outer; o++) {
      float* dst = out + o * inner;
      for (int64_t j = 0; j < inner; j++) dst[j] = 0.f;
      for (int64_t b = 0; b < blocks; b++) {
        const float* src = part.data() + (o * blocks + b) * inner;
        for (int64_t j = 0; j < inner; j++) dst[j] += src[j];
      }
      if (op == R_MEAN)
        for (int64_t j = 0; j < inner; j++) dst[j] /= float(size);
    }
    return info.Env().Undefined();
  }
  // Reduce over a middle axis: accumulate rows of `inner` contiguous values.
#pragma omp parallel for schedule(static) if (big)
  for (int64_t o = 0; o < outer; o++) {
    float* dst = out + o * inner;
    const float init = op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : op == R_PROD ? 1.f : 0.f;
    for (int64_t j = 0; j < inner; j++) dst[j] = init;
    for (int64_t i = 0; i < size; i++) {
      const float* src = x + (o * size + i) * inner;
      if (op == R_SUM || op == R_MEAN) {
#pragma omp simd
        for (int64_t j = 0; j < inner; j++) dst[j] += src[j];
      } else if (op == R_MAX) {
        for (int64_t j = 0; j < inner; j++) dst[j] = (std::isnan(src[j]) || src[j] > dst[j]) ? src[j] : dst[j];
      } else if (op == R_MIN) {
        for (int64_t j = 0; j < inner; j++) dst[j] = (std::isnan(src[j]) || src[j] < dst[j]) ? src[j] : dst[j];
      } else {
        for (int64_t j = 0; j < inner; j++) dst[j] *= src[j];
      }
    }
    if (op == R_MEAN)
      for (int64_t j = 0; j < inner; j++) dst[j] /= float(size);
  }
  return info.Env().Undefined();
}

// softmax over the last axis: x [rows, cols]
// exp(x) for x <= 0 (softmax after subtracting the row max), vectorisable: Cephes' expf (range
// reduction by ln 2 in two parts, degree-6 polynomial, 2^n through the exponent bits), relative
// error ~2e-7. std::exp is a scalar libm call, and at 256px the attention softmax over 8 x 4096 x 4096
// scores spent most of its time there.
inline float exp_nonpositive(float x) {
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

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* y = f32(info[1]);
  const int64_t rows = i64(info[2]), cols = i64(info[3]);
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (int64_t r = 0; r < rows; r++) {
    const float* p = x + r * cols;
    float* q = y + r * cols;
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < cols; i++) m = std::max(m, p[i]);
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < cols; i++) {
      q[i] = exp_nonpositive(p[i] - m);
      s += q[i];
    }
    const float inv = 1.f / s;
#pragma omp simd
    for (int64_t i = 0; i < cols; i++) q[i] *= inv;
  }
  return info.Env().Undefined();
}

}  // namespace nthk
