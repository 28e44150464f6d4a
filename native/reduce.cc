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

}  // namespace nthk
