// Elementwise kernels: unary maps, broadcasting binary ops, AddN (OpenMP loops).
#include "common.h"

namespace nthk {

// ---------------------------------------------------------------- elementwise

enum Unary {
  U_RELU, U_TANH, U_SIGMOID, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_SQUARE, U_NEG, U_ABS, U_STEP, U_SIGN,
  U_RECIPROCAL, U_ELU, U_LEAKY, U_SOFTPLUS, U_LOG1P, U_EXPM1, U_COS, U_SIN, U_FLOOR, U_CEIL, U_ROUND,
  U_ATAN, U_ERF, U_CLIP
};

template <typename F>
void map1(const float* x, float* y, int64_t n, F f) {
  // Each thread works on its own copy of f: read through the shared capture, its state (alpha) may
  // alias y for the compiler, which then neither if-converts nor vectorises. With that and
  // -fno-trapping-math (binding.gyp), Step and LeakyRelu run 5x faster, as fast as Relu.
#pragma omp parallel if (n >= kParallelMin)
  {
    const F g = f;
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; i++) y[i] = g(x[i]);
  }
}

// unary(op, x, out, alpha, beta): alpha is LeakyRelu's slope, Step's value, ClipByValue's min; beta its max
Napi::Value UnaryOp(const Napi::CallbackInfo& info) {
  const int op = i32(info[0]);
  const float* x = f32(info[1]);
  float* y = f32(info[2]);
  const float alpha = info.Length() > 3 ? float(info[3].As<Napi::Number>().DoubleValue()) : 0.f;
  const float beta = info.Length() > 4 ? float(info[4].As<Napi::Number>().DoubleValue()) : 0.f;
  const int64_t n = int64_t(len(info[1]));
  check(len(info[2]) == size_t(n), info.Env(), "unary: output size differs from input");
  switch (op) {
    case U_RELU: map1(x, y, n, [](float v) { return v > 0.f ? v : 0.f; }); break;
    case U_TANH: map1(x, y, n, [](float v) { return tanh_fast(v); }); break;
    case U_SIGMOID: map1(x, y, n, [](float v) { return 1.f / (1.f + std::exp(-v)); }); break;
    case U_EXP: map1(x, y, n, [](float v) { return std::exp(v); }); break;
    case U_LOG: map1(x, y, n, [](float v) { return std::log(v); }); break;
    case U_SQRT: map1(x, y, n, [](float v) { return std::sqrt(v); }); break;
    case U_RSQRT: map1(x, y, n, [](float v) { return 1.f / std::sqrt(v); }); break;
    case U_SQUARE: map1(x, y, n, [](float v) { return v * v; }); break;
    case U_NEG: map1(x, y, n, [](float v) { return -v; }); break;
    case U_ABS: map1(x, y, n, [](float v) { return std::fabs(v); }); break;
    // TF.js Step: x > 0 ? 1 : alpha (NaN stays NaN)
    case U_STEP: map1(x, y, n, [alpha](float v) { return v > 0.f ? 1.f : (v == v ? alpha : v); }); break;  // NaN stays NaN
    case U_SIGN: map1(x, y, n, [](float v) { return v > 0.f ? 1.f : (v < 0.f ? -1.f : 0.f); }); break;
    case U_RECIPROCAL: map1(x, y, n, [](float v) { return 1.f / v; }); break;
    case U_ELU: map1(x, y, n, [](float v) { return v >= 0.f ? v : std::exp(v) - 1.f; }); break;
    case U_LEAKY: map1(x, y, n, [alpha](float v) { return v >= 0.f ? v : alpha * v; }); break;
    case U_SOFTPLUS: map1(x, y, n, [](float v) { return v > 20.f ? v : std::log1p(std::exp(v)); }); break;
    case U_LOG1P: map1(x, y, n, [](float v) { return std::log1p(v); }); break;
    case U_EXPM1: map1(x, y, n, [](float v) { return std::expm1(v); }); break;
    case U_COS: map1(x, y, n, [](float v) { return std::cos(v); }); break;
    case U_SIN: map1(x, y, n, [](float v) { return std::sin(v); }); break;
    case U_FLOOR: map1(x, y, n, [](float v) { return std::floor(v); }); break;
    case U_CEIL: map1(x, y, n, [](float v) { return std::ceil(v); }); break;
    // TF rounds half to even
    case U_ROUND: map1(x, y, n, [](float v) { return std::nearbyint(v); }); break;
    case U_ATAN: map1(x, y, n, [](float v) { return std::atan(v); }); break;
    case U_ERF: map1(x, y, n, [](float v) { return std::erf(v); }); break;
    // TF.js ClipByValue: [alpha, beta]; NaN stays NaN (both comparisons are false)
    case U_CLIP: map1(x, y, n, [alpha, beta](float v) { return v > beta ? beta : (v < alpha ? alpha : v); }); break;
    default: throw Napi::RangeError::New(info.Env(), "unary: unknown op");
  }
  return info.Env().Undefined();
}

enum Binary { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_SQDIFF, B_POW, B_ATAN2 };

template <typename F>
void broadcast2(const float* a, const std::vector<int64_t>& sa, const float* b, const std::vector<int64_t>& sb, float* out,
                const std::vector<int64_t>& so, F f) {
  const int r = int(so.size());
  int64_t n = 1;
  for (auto d : so) n *= d;
  // Fast paths: equal shapes, scalar operand, trailing-vector operand (bias over channels).
  int64_t na = 1, nb = 1;
  for (auto d : sa) na *= d;
  for (auto d : sb) nb *= d;
  if (na == n && nb == n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) out[i] = f(a[i], b[i]);
    return;
  }
  if (nb == 1) {
    const float bv = b[0];
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) out[i] = f(a[i], bv);
    return;
  }
  if (na == 1) {
    const float av = a[0];
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) out[i] = f(av, b[i]);
    return;
  }
  // General: strides of each operand in output coordinates (0 where broadcast).
  std::vector<int64_t> stA(r, 0), stB(r, 0);
  {
    int64_t s = 1;
    for (int i = int(sa.size()) - 1, j = r - 1; i >= 0; i--, j--) {
      stA[j] = sa[i] == 1 ? 0 : s;
      s *= sa[i];
    }
    s = 1;
    for (int i = int(sb.size()) - 1, j = r - 1; i >= 0; i--, j--) {
      stB[j] = sb[i] == 1 ? 0 : s;
      s *= sb[i];
    }
  }
  const int64_t inner = so[r - 1];
  const int64_t rows = n / inner;
  const int64_t ia = stA[r - 1], ib = stB[r - 1];
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t row = 0; row < rows; row++) {
    int64_t rem = row, offA = 0, offB = 0;
    for (int d = r - 2; d >= 0; d--) {
      const int64_t k = rem % so[d];
      rem /= so[d];
      offA += k * stA[d];
      offB += k * stB[d];
    }
    float* o = out + row * inner;
    const float* pa = a + offA;
    const float* pb = b + offB;
    for (int64_t i = 0; i < inner; i++) o[i] = f(pa[i * ia], pb[i * ib]);
  }
}

// binary(op, a, aShape, b, bShape, out, outShape)
Napi::Value BinaryOp(const Napi::CallbackInfo& info) {
  const int op = i32(info[0]);
  auto sa = dims(info[2]), sb = dims(info[4]), so = dims(info[6]);
  if (so.empty()) so = {1};
  if (sa.empty()) sa = {1};
  if (sb.empty()) sb = {1};
  const float *a = f32(info[1]), *b = f32(info[3]);
  float* out = f32(info[5]);
  switch (op) {
    case B_ADD: broadcast2(a, sa, b, sb, out, so, [](float x, float y) { return x + y; }); break;
    case B_SUB: broadcast2(a, sa, b, sb, out, so, [](float x, float y) { return x - y; }); break;
    case B_MUL: broadcast2(a, sa, b, sb, out, so, [](float x, float y) { return x * y; }); break;
    case B_DIV: broadcast2(a, sa, b, sb, out, so, [](float x, float y) { return x / y; }); break;
    case B_MAX: broadcast2(a, sa, b, sb, out, so, [](float x, float y) { return (std::isnan(x) || x > y) ? x : y; }); break;
    case B_MIN: broadcast2(a, sa, b, sb, out, so, [](float x, float y) { return (std::isnan(x) || x < y) ? x : y; }); break;
    case B_SQDIFF: broadcast2(a, sa, b, sb, out, so, [](float x, float y) { return (x - y) * (x - y); }); break;
    case B_POW: broadcast2(a, sa, b, sb, out, so, [](float x, float y) { return std::pow(x, y); }); break;
    case B_ATAN2: broadcast2(a, sa, b, sb, out, so, [](float x, float y) { return std::atan2(x, y); }); break;
    default: throw Napi::RangeError::New(info.Env(), "binary: unknown op");
  }
  return info.Env().Undefined();
}

// addN(out, ...inputs): out = sum of equally shaped inputs (gradient accumulation)
Napi::Value AddN(const Napi::CallbackInfo& info) {
  float* out = f32(info[0]);
  const int64_t n = int64_t(len(info[0]));
  std::vector<const float*> xs;
  for (size_t i = 1; i < info.Length(); i++) {
    check(len(info[i]) == size_t(n), info.Env(), "addN: inputs differ in size");
    xs.push_back(f32(info[i]));
  }
  const size_t k = xs.size();
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t j = 0; j < n; j++) {
    float s = 0.f;
    for (size_t i = 0; i < k; i++) s += xs[i][j];
    out[j] = s;
  }
  return info.Env().Undefined();
}

}  // namespace nthk
