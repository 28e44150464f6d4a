// Inference kernels of the face detector and landmark network (face-api's MobileNets): depthwise
// convolution and batch normalisation. Without them the native backend ran these on tfjs-backend-cpu's
// JavaScript (82% of a detection's time, issue 11). OpenMP loops over NHWC, channels innermost so the
// compiler vectorises over them; each has the cpu backend's kernel as its test oracle.
#include "common.h"

namespace nthk {

// depthwiseConv(x [N,H,W,C], filter [KH,KW,C,1], out [N,OH,OW,C],
//               params[N,H,W,C,KH,KW,sh,sw,dh,dw,pt,pl,OH,OW], bias? [C])
// Channel multiplier 1 (what MobileNets use); the caller falls back to JavaScript otherwise.
Napi::Value DepthwiseConv(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const float* w = f32(info[1]);
  float* out = f32(info[2]);
  const int32_t* p = info[3].As<Napi::Int32Array>().Data();
  const float* bias = info.Length() > 4 && info[4].IsTypedArray() ? f32(info[4]) : nullptr;
  const int64_t N = p[0], H = p[1], W = p[2], C = p[3], KH = p[4], KW = p[5], sh = p[6], sw = p[7], dh = p[8],
                dw = p[9], pt = p[10], pl = p[11], OH = p[12], OW = p[13];
  check(len(info[0]) == size_t(N * H * W * C), info.Env(), "depthwiseConv: input size");
  check(len(info[1]) == size_t(KH * KW * C), info.Env(), "depthwiseConv: filter size");
  check(len(info[2]) == size_t(N * OH * OW * C), info.Env(), "depthwiseConv: output size");
#pragma omp parallel for collapse(2) schedule(static) if (N * OH * OW * C * KH * KW >= kParallelMin)
  for (int64_t n = 0; n < N; n++) {
    for (int64_t oy = 0; oy < OH; oy++) {
      for (int64_t ox = 0; ox < OW; ox++) {
        float* o = out + ((n * OH + oy) * OW + ox) * C;
        if (bias)
          for (int64_t c = 0; c < C; c++) o[c] = bias[c];
        else
          for (int64_t c = 0; c < C; c++) o[c] = 0.f;
        for (int64_t ky = 0; ky < KH; ky++) {
          const int64_t y = oy * sh - pt + ky * dh;
          if (y < 0 || y >= H) continue;
          for (int64_t kx = 0; kx < KW; kx++) {
            const int64_t xx = ox * sw - pl + kx * dw;
            if (xx < 0 || xx >= W) continue;
            const float* s = x + ((n * H + y) * W + xx) * C;
            const float* f = w + (ky * KW + kx) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) o[c] += s[c] * f[c];
          }
        }
      }
    }
  }
  return info.Env().Undefined();
}

// batchNorm(x, mean, variance, offset|null, scale|null, out, eps): every parameter has C values
// (the last axis) or 1 (broadcast); y = (x - mean) / sqrt(variance + eps) * scale + offset.
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  const int64_t n = int64_t(len(info[0]));
  auto param = [&](int i, int64_t& size) -> const float* {
    if (!info[i].IsTypedArray()) {
      size = 0;
      return nullptr;
    }
    size = int64_t(len(info[i]));
    return f32(info[i]);
  };
  int64_t cm, cv, co, cs;
  const float* mean = param(1, cm);
  const float* var = param(2, cv);
  const float* off = param(3, co);
  const float* scale = param(4, cs);
  float* y = f32(info[5]);
  const float eps = float(info[6].As<Napi::Number>().DoubleValue());
  const int64_t C = std::max({cm, cv, co, cs, int64_t(1)});
  check(len(info[5]) == size_t(n) && n % C == 0, info.Env(), "batchNorm: sizes");
  for (int64_t s : {cm, cv, co, cs}) check(s == 0 || s == 1 || s == C, info.Env(), "batchNorm: parameter size");
  check(cm > 0 && cv > 0, info.Env(), "batchNorm: mean and variance are required");
  // Folded per channel: y = x * a + b.
  std::vector<float> a(C), b(C);
  for (int64_t c = 0; c < C; c++) {
    const float m = mean[cm == 1 ? 0 : c], v = var[cv == 1 ? 0 : c];
    const float g = scale ? scale[cs == 1 ? 0 : c] : 1.f, o = off ? off[co == 1 ? 0 : c] : 0.f;
    a[c] = g / std::sqrt(v + eps);
    b[c] = o - m * a[c];
  }
  const float* A = a.data();
  const float* B = b.data();
  const int64_t rows = n / C;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t r = 0; r < rows; r++) {
    const float* s = x + r * C;
    float* d = y + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) d[c] = s[c] * A[c] + B[c];
  }
  return info.Env().Undefined();
}

}  // namespace nthk
