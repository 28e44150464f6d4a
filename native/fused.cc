// The fused kernels of src/engine/fused.ts: Adam, spectral norm (power iteration, W / sigma and its gradient), instance norm and its gradient.
#include "common.h"

namespace nthk {

// ---------------------------------------------------------------- optimiser

// adam(p, m, v, g, pOut, mOut, vOut, lr, beta1, beta2, eps, step): one bias-corrected Adam update,
// the arithmetic of src/train/optim.ts's tensor version, in one pass.
Napi::Value Adam(const Napi::CallbackInfo& info) {
  const float *p = f32(info[0]), *m = f32(info[1]), *v = f32(info[2]), *g = f32(info[3]);
  float *po = f32(info[4]), *mo = f32(info[5]), *vo = f32(info[6]);
  const float lr = float(info[7].As<Napi::Number>().DoubleValue()), b1 = float(info[8].As<Napi::Number>().DoubleValue()),
              b2 = float(info[9].As<Napi::Number>().DoubleValue()), eps = float(info[10].As<Napi::Number>().DoubleValue());
  const double t = info[11].As<Napi::Number>().DoubleValue();
  const float c1 = float(1.0 - std::pow(double(b1), t)), c2 = float(1.0 - std::pow(double(b2), t));
  const int64_t n = int64_t(len(info[0]));
  check(len(info[1]) == size_t(n) && len(info[2]) == size_t(n) && len(info[3]) == size_t(n) && len(info[4]) == size_t(n) &&
            len(info[5]) == size_t(n) && len(info[6]) == size_t(n),
        info.Env(), "adam: sizes differ");
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * (1.f - b1);
    const float vi = v[i] * b2 + (gi * gi) * (1.f - b2);
    mo[i] = mi;
    vo[i] = vi;
    po[i] = p[i] - (mi / c1) / (std::sqrt(vi / c2) + eps) * lr;
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- spectral normalisation

// Spectral norm (Miyato et al. 2018) of a weight viewed as a matrix W [F = fan-in, O = outputs],
// row-major (HWIO conv filters and [in, out] linear weights both are). Three fused kernels replace
// ~25 small TF.js ops per weight and step (src/models/blocks.ts keeps that composition as the
// reference twin). Sums run in a fixed order per element, so results do not depend on threading.

// ||x|| like tf.norm, and x / (||x|| + 1e-12) like blocks.ts's l2normalize.
void l2normalize(float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += double(x[i]) * x[i];
  const float d = float(std::sqrt(s)) + 1e-12f;
  for (int64_t i = 0; i < n; i++) x[i] /= d;
}

// y[F] = W u
void matvec(const float* w, const float* u, float* y, int64_t F, int64_t O) {
#pragma omp parallel for schedule(static) if (F * O >= kParallelMin)
  for (int64_t f = 0; f < F; f++) {
    const float* row = w + f * O;
    float acc = 0;
    for (int64_t o = 0; o < O; o++) acc += row[o] * u[o];
    y[f] = acc;
  }
}

// spectralPower(w, u, uOut, vOut, F, O, update): v = normalize(W u); uOut = normalize(W^T v) (or u).
Napi::Value SpectralPower(const Napi::CallbackInfo& info) {
  const float *w = f32(info[0]), *u = f32(info[1]);
  float *uo = f32(info[2]), *vo = f32(info[3]);
  const int64_t F = i64(info[4]), O = i64(info[5]);
  const bool update = info[6].As<Napi::Boolean>();
  check(len(info[0]) == size_t(F * O) && len(info[1]) == size_t(O) && len(info[2]) == size_t(O) &&
            len(info[3]) == size_t(F),
        info.Env(), "spectralPower: sizes do not match [F, O]");
  matvec(w, u, vo, F, O);
  l2normalize(vo, F);
  if (!update) {
    std::memcpy(uo, u, sizeof(float) * O);
    return info.Env().Undefined();
  }
  // W^T v by column blocks: each thread owns whole columns, rows are summed in order.
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (O + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (F * O >= kParallelMin)
  for (int64_t b = 0; b < blocks; b++) {
    const int64_t o0 = b * kBlock, o1 = std::min(O, o0 + kBlock);
    float acc[kBlock] = {0};
    for (int64_t f = 0; f < F; f++) {
      const float* row = w + f * O;
      const float vf = vo[f];
      for (int64_t o = o0; o < o1; o++) acc[o - o0] += row[o] * vf;
    }
    for (int64_t o = o0; o < o1; o++) uo[o] = acc[o - o0];
  }
  l2normalize(uo, O);
  return info.Env().Undefined();
}

// sigma = v^T W u, the product blocks.ts's spectralNorm differentiates through.
float spectralSigma(const float* w, const float* u, const float* v, int64_t F, int64_t O) {
  std::vector<float> wu(static_cast<size_t>(F));
  matvec(w, u, wu.data(), F, O);
  float s = 0;
  for (int64_t f = 0; f < F; f++) s += wu[f] * v[f];
  return s;
}

// spectralDiv(w, u, v, out, F, O) -> sigma: out = W / sigma.
Napi::Value SpectralDiv(const Napi::CallbackInfo& info) {
  const float *w = f32(info[0]), *u = f32(info[1]), *v = f32(info[2]);
  float* out = f32(info[3]);
  const int64_t F = i64(info[4]), O = i64(info[5]), n = F * O;
  check(len(info[0]) == size_t(n) && len(info[1]) == size_t(O) && len(info[2]) == size_t(F) && len(info[3]) == size_t(n),
        info.Env(), "spectralDiv: sizes do not match [F, O]");
  const float sigma = spectralSigma(w, u, v, F, O);
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; i++) out[i] = w[i] / sigma;
  return Napi::Number::New(info.Env(), sigma);
}

// spectralDivGrad(dy, w, u, v, dw, F, O, sigma): the gradient of W / (v^T W u) with u, v constant:
//   dW = dy / sigma - <dy, W> / sigma^2 * v u^T.
Napi::Value SpectralDivGrad(const Napi::CallbackInfo& info) {
  const float *dy = f32(info[0]), *w = f32(info[1]), *u = f32(info[2]), *v = f32(info[3]);
  float* dw = f32(info[4]);
  const int64_t F = i64(info[5]), O = i64(info[6]), n = F * O;
  const float sigma = float(info[7].As<Napi::Number>().DoubleValue());
  check(len(info[0]) == size_t(n) && len(info[1]) == size_t(n) && len(info[2]) == size_t(O) &&
            len(info[3]) == size_t(F) && len(info[4]) == size_t(n),
        info.Env(), "spectralDivGrad: sizes do not match [F, O]");
  std::vector<float> rows(static_cast<size_t>(F));
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t f = 0; f < F; f++) {
    float acc = 0;
    for (int64_t o = 0; o < O; o++) acc += dy[f * O + o] * w[f * O + o];
    rows[f] = acc;
  }
  float dot = 0;
  for (int64_t f = 0; f < F; f++) dot += rows[f];
  const float a = 1.f / sigma, b = dot / (sigma * sigma);
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t f = 0; f < F; f++) {
    const float bv = b * v[f];
    for (int64_t o = 0; o < O; o++) dw[f * O + o] = dy[f * O + o] * a - bv * u[o];
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- instance norm

// Instance norm over H, W of NHWC x with per-sample or shared scale and shift (AdaIN and IN):
//   y = (x - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + eps)  (population variance).
// Forward and backward are two passes each where the TF.js composition (src/models/layers.ts, the
// reference twin) takes ~11 and ~20 kernels over the whole activation. Work is split over samples
// and blocks of channels; each (sample, channel) sums its pixels in order, so threading does not
// change results.
constexpr int64_t kChanBlock = 16;

// instanceNorm(x, gamma, beta, y, mean, rstd, B, HW, C, gammaBatch, eps, relu?)
Napi::Value InstanceNorm(const Napi::CallbackInfo& info) {
  const float *x = f32(info[0]), *gamma = f32(info[1]), *beta = f32(info[2]);
  float *y = f32(info[3]), *mean = f32(info[4]), *rstd = f32(info[5]);
  const int64_t B = i64(info[6]), HW = i64(info[7]), C = i64(info[8]), gB = i64(info[9]);
  const double eps = info[10].As<Napi::Number>().DoubleValue();
  // relu: max(y, 0) in the same pass (inference: AdaIN then ReLU without a second pass over y)
  const bool relu = info.Length() > 11 && info[11].IsBoolean() && info[11].As<Napi::Boolean>();
  check(len(info[0]) == size_t(B * HW * C) && len(info[3]) == size_t(B * HW * C) && len(info[1]) == size_t(gB * C) &&
            len(info[2]) == size_t(gB * C) && len(info[4]) == size_t(B * C) && len(info[5]) == size_t(B * C) &&
            (gB == 1 || gB == B),
        info.Env(), "instanceNorm: sizes do not match [B, HW, C]");
  const int64_t cBlocks = (C + kChanBlock - 1) / kChanBlock;
#pragma omp parallel for schedule(static) if (B * HW * C >= kParallelMin)
  for (int64_t job = 0; job < B * cBlocks; job++) {
    const int64_t b = job / cBlocks, c0 = (job % cBlocks) * kChanBlock, c1 = std::min(C, c0 + kChanBlock), nc = c1 - c0;
    const float* xb = x + b * HW * C;
    float* yb = y + b * HW * C;
    double s[kChanBlock] = {0}, q[kChanBlock] = {0};
    for (int64_t i = 0; i < HW; i++)
      for (int64_t c = 0; c < nc; c++) s[c] += xb[i * C + c0 + c];
    float m[kChanBlock], r[kChanBlock], g[kChanBlock], t[kChanBlock];
    for (int64_t c = 0; c < nc; c++) m[c] = float(s[c] / double(HW));
    for (int64_t i = 0; i < HW; i++)
      for (int64_t c = 0; c < nc; c++) {
        const double d = double(xb[i * C + c0 + c]) - m[c];
        q[c] += d * d;
      }
    const int64_t gOff = (gB == 1 ? 0 : b) * C + c0;
    for (int64_t c = 0; c < nc; c++) {
      r[c] = float(1.0 / std::sqrt(q[c] / double(HW) + eps));
      mean[b * C + c0 + c] = m[c];
      rstd[b * C + c0 + c] = r[c];
      g[c] = r[c] * gamma[gOff + c];
      t[c] = beta[gOff + c] - m[c] * g[c];
    }
    if (relu)
      for (int64_t i = 0; i < HW; i++)
        for (int64_t c = 0; c < nc; c++) yb[i * C + c0 + c] = std::max(xb[i * C + c0 + c] * g[c] + t[c], 0.f);
    else
      for (int64_t i = 0; i < HW; i++)
        for (int64_t c = 0; c < nc; c++) yb[i * C + c0 + c] = xb[i * C + c0 + c] * g[c] + t[c];
  }
  return info.Env().Undefined();
}

// instanceNormGrad(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, B, HW, C, gammaBatch):
//   xhat = (x - mean) rstd;  dbeta = sum dy;  dgamma = sum dy xhat  (per sample: [B, C]);
//   dx = gamma rstd (dy - dbeta / HW - xhat dgamma / HW).
Napi::Value InstanceNormGrad(const Napi::CallbackInfo& info) {
  const float *dy = f32(info[0]), *x = f32(info[1]), *gamma = f32(info[2]), *mean = f32(info[3]), *rstd = f32(info[4]);
  float *dx = f32(info[5]), *dgamma = f32(info[6]), *dbeta = f32(info[7]);
  const int64_t B = i64(info[8]), HW = i64(info[9]), C = i64(info[10]), gB = i64(info[11]);
  check(len(info[0]) == size_t(B * HW * C) && len(info[1]) == size_t(B * HW * C) && len(info[2]) == size_t(gB * C) &&
            len(info[3]) == size_t(B * C) && len(info[4]) == size_t(B * C) && len(info[5]) == size_t(B * HW * C) &&
            len(info[6]) == size_t(B * C) && len(info[7]) == size_t(B * C) && (gB == 1 || gB == B),
        info.Env(), "instanceNormGrad: sizes do not match [B, HW, C]");
  const int64_t cBlocks = (C + kChanBlock - 1) / kChanBlock;
#pragma omp parallel for schedule(static) if (B * HW * C >= kParallelMin)
  for (int64_t job = 0; job < B * cBlocks; job++) {
    const int64_t b = job / cBlocks, c0 = (job % cBlocks) * kChanBlock, c1 = std::min(C, c0 + kChanBlock), nc = c1 - c0;
    const float *xb = x + b * HW * C, *dyb = dy + b * HW * C;
    float* dxb = dx + b * HW * C;
    const float *m = mean + b * C + c0, *r = rstd + b * C + c0;
    double sd[kChanBlock] = {0}, sdx[kChanBlock] = {0};
    for (int64_t i = 0; i < HW; i++)
      for (int64_t c = 0; c < nc; c++) {
        const float d = dyb[i * C + c0 + c];
        sd[c] += d;
        sdx[c] += double(d) * ((xb[i * C + c0 + c] - m[c]) * r[c]);
      }
    const int64_t gOff = (gB == 1 ? 0 : b) * C + c0;
    float k[kChanBlock], a[kChanBlock], e[kChanBlock];
    for (int64_t c = 0; c < nc; c++) {
      dbeta[b * C + c0 + c] = float(sd[c]);
      dgamma[b * C + c0 + c] = float(sdx[c]);
      k[c] = gamma[gOff + c] * r[c];
      a[c] = float(sd[c] / double(HW));
      e[c] = float(sdx[c] / double(HW));
    }
    for (int64_t i = 0; i < HW; i++)
      for (int64_t c = 0; c < nc; c++) {
        const float xh = (xb[i * C + c0 + c] - m[c]) * r[c];
        dxb[i * C + c0 + c] = k[c] * (dyb[i * C + c0 + c] - a[c] - xh * e[c]);
      }
  }
  return info.Env().Undefined();
}

}  // namespace nthk
