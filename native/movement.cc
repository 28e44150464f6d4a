// Data movement: transpose, concat / split / slice, average pooling, resize (OpenMP loops).
#include "common.h"

namespace nthk {

// ---------------------------------------------------------------- data movement

// transpose(x, out, shape, perm) for 4-byte elements
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  const uint32_t* x = reinterpret_cast<const uint32_t*>(info[0].As<Napi::TypedArray>().ArrayBuffer().Data()) +
                      info[0].As<Napi::TypedArray>().ByteOffset() / 4;
  uint32_t* y = reinterpret_cast<uint32_t*>(info[1].As<Napi::TypedArray>().ArrayBuffer().Data()) +
                info[1].As<Napi::TypedArray>().ByteOffset() / 4;
  auto shape = dims(info[2]), perm = dims(info[3]);
  const int r = int(shape.size());
  std::vector<int64_t> inStride(r), outShape(r), st(r);
  int64_t s = 1;
  for (int i = r - 1; i >= 0; i--) {
    inStride[i] = s;
    s *= shape[i];
  }
  const int64_t n = s;
  for (int i = 0; i < r; i++) {
    outShape[i] = shape[perm[i]];
    st[i] = inStride[perm[i]];  // input stride of output axis i
  }
  const int64_t inner = outShape[r - 1], innerStride = st[r - 1];
  const int64_t rows = n / inner;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t row = 0; row < rows; row++) {
    int64_t rem = row, off = 0;
    for (int d = r - 2; d >= 0; d--) {
      const int64_t k = rem % outShape[d];
      rem /= outShape[d];
      off += k * st[d];
    }
    uint32_t* o = y + row * inner;
    const uint32_t* p = x + off;
    for (int64_t i = 0; i < inner; i++) o[i] = p[i * innerStride];
  }
  return info.Env().Undefined();
}

// concat(out, outer, inputs[], inner[]): out rows are the inputs' rows side by side (4-byte elements).
// split(x, outer, outputs[], inner[]): the inverse.
uint32_t* u32(const Napi::Value& v) {
  auto t = v.As<Napi::TypedArray>();
  return reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset());
}

Napi::Value ConcatOrSplit(const Napi::CallbackInfo& info, bool split) {
  uint32_t* big = u32(info[0]);
  const int64_t outer = i64(info[1]);
  auto parts = info[2].As<Napi::Array>();
  auto inner = dims(info[3]);
  const uint32_t k = parts.Length();
  std::vector<uint32_t*> ptr(k);
  int64_t row = 0;
  for (uint32_t i = 0; i < k; i++) {
    ptr[i] = u32(parts.Get(i));
    check(parts.Get(i).As<Napi::TypedArray>().ElementLength() == size_t(outer * inner[i]), info.Env(), "concat/split: part size");
    row += inner[i];
  }
  check(info[0].As<Napi::TypedArray>().ElementLength() == size_t(outer * row), info.Env(), "concat/split: total size");
#pragma omp parallel for schedule(static) if (outer * row >= kParallelMin)
  for (int64_t o = 0; o < outer; o++) {
    uint32_t* r = big + o * row;
    for (uint32_t i = 0; i < k; i++) {
      if (split)
        std::memcpy(ptr[i] + o * inner[i], r, 4 * inner[i]);
      else
        std::memcpy(r, ptr[i] + o * inner[i], 4 * inner[i]);
      r += inner[i];
    }
  }
  return info.Env().Undefined();
}
// slice(x, out, shape, begin, size): out = x[begin : begin + size] for 32-bit elements, copied in
// rows of the innermost dimension. (Contiguous slices never get here: they are zero-copy views.)
Napi::Value Slice(const Napi::CallbackInfo& info) {
  const uint32_t* x = u32(info[0]);
  uint32_t* out = u32(info[1]);
  const auto shape = dims(info[2]), begin = dims(info[3]), size = dims(info[4]);
  const size_t r = shape.size();
  check(r >= 1 && begin.size() == r && size.size() == r, info.Env(), "slice: ranks differ");
  std::vector<int64_t> stride(r, 1);
  for (size_t d = r - 1; d > 0; d--) stride[d - 1] = stride[d] * shape[d];
  int64_t rows = 1, total = 1;
  for (size_t d = 0; d < r; d++) {
    check(begin[d] >= 0 && size[d] >= 0 && begin[d] + size[d] <= shape[d], info.Env(), "slice: out of bounds");
    if (d + 1 < r) rows *= size[d];
    total *= shape[d];
  }
  const int64_t len = size[r - 1];
  check(info[0].As<Napi::TypedArray>().ElementLength() == size_t(total) &&
            info[1].As<Napi::TypedArray>().ElementLength() == size_t(rows * len),
        info.Env(), "slice: buffer sizes do not match the shapes");
#pragma omp parallel for schedule(static) if (rows * len >= kParallelMin)
  for (int64_t i = 0; i < rows; i++) {
    int64_t rest = i, off = begin[r - 1];
    for (size_t d = r - 1; d > 0; d--) {
      const int64_t idx = rest % size[d - 1];
      rest /= size[d - 1];
      off += (begin[d - 1] + idx) * stride[d - 1];
    }
    std::memcpy(out + i * len, x + off, 4 * len);
  }
  return info.Env().Undefined();
}

Napi::Value Concat(const Napi::CallbackInfo& info) { return ConcatOrSplit(info, false); }
Napi::Value Split(const Napi::CallbackInfo& info) { return ConcatOrSplit(info, true); }

// ---------------------------------------------------------------- pooling

// avgPool(x, out, params[N,H,W,C,KH,KW,sh,sw,pt,pl,OH,OW], grad): grad = 0: out = pool(x);
// grad = 1: x is dy [N,OH,OW,C] and out is dx [N,H,W,C]. Padding is excluded from the count (TF).
Napi::Value AvgPool(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* out = f32(info[1]);
  const int32_t* p = info[2].As<Napi::Int32Array>().Data();
  const bool grad = info[3].As<Napi::Boolean>();
  const int64_t N = p[0], H = p[1], W = p[2], C = p[3], KH = p[4], KW = p[5], sh = p[6], sw = p[7], pt = p[8],
                pl = p[9], OH = p[10], OW = p[11];
  if (grad) std::memset(out, 0, sizeof(float) * N * H * W * C);
  // Parallel over images in the gradient (windows of one image may overlap); over output rows otherwise.
#pragma omp parallel for schedule(static) if (N * H * W * C >= kParallelMin)
  for (int64_t n = 0; n < N; n++) {
    for (int64_t oy = 0; oy < OH; oy++) {
      const int64_t y0 = std::max<int64_t>(0, oy * sh - pt), y1 = std::min<int64_t>(H, oy * sh - pt + KH);
      for (int64_t ox = 0; ox < OW; ox++) {
        const int64_t x0 = std::max<int64_t>(0, ox * sw - pl), x1 = std::min<int64_t>(W, ox * sw - pl + KW);
        const float inv = 1.f / float((y1 - y0) * (x1 - x0));
        if (!grad) {
          float* o = out + ((n * OH + oy) * OW + ox) * C;
          for (int64_t c = 0; c < C; c++) o[c] = 0.f;
          for (int64_t y = y0; y < y1; y++)
            for (int64_t xx = x0; xx < x1; xx++) {
              const float* s = x + ((n * H + y) * W + xx) * C;
              for (int64_t c = 0; c < C; c++) o[c] += s[c];
            }
          for (int64_t c = 0; c < C; c++) o[c] *= inv;
        } else {
          const float* g = x + ((n * OH + oy) * OW + ox) * C;
          for (int64_t y = y0; y < y1; y++)
            for (int64_t xx = x0; xx < x1; xx++) {
              float* d = out + ((n * H + y) * W + xx) * C;
              for (int64_t c = 0; c < C; c++) d[c] += g[c] * inv;
            }
        }
      }
    }
  }
  return info.Env().Undefined();
}

// maxPool(x, out, params[N,H,W,C,KH,KW,sh,sw,pt,pl,OH,OW]): forward only (the gradient needs the
// arg-max: the JavaScript kernel keeps it). Padding never wins (TF's -inf); NaN propagates as on cpu.
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* out = f32(info[1]);
  const int32_t* p = info[2].As<Napi::Int32Array>().Data();
  const int64_t N = p[0], H = p[1], W = p[2], C = p[3], KH = p[4], KW = p[5], sh = p[6], sw = p[7], pt = p[8],
                pl = p[9], OH = p[10], OW = p[11];
  check(len(info[1]) == size_t(N * OH * OW * C), info.Env(), "maxPool: output size");
#pragma omp parallel for collapse(2) schedule(static) if (N * OH * OW * C * KH * KW >= kParallelMin)
  for (int64_t n = 0; n < N; n++) {
    for (int64_t oy = 0; oy < OH; oy++) {
      const int64_t y0 = std::max<int64_t>(0, oy * sh - pt), y1 = std::min<int64_t>(H, oy * sh - pt + KH);
      for (int64_t ox = 0; ox < OW; ox++) {
        const int64_t x0 = std::max<int64_t>(0, ox * sw - pl), x1 = std::min<int64_t>(W, ox * sw - pl + KW);
        float* o = out + ((n * OH + oy) * OW + ox) * C;
        for (int64_t c = 0; c < C; c++) o[c] = -INFINITY;
        for (int64_t y = y0; y < y1; y++)
          for (int64_t xx = x0; xx < x1; xx++) {
            const float* s = x + ((n * H + y) * W + xx) * C;
            for (int64_t c = 0; c < C; c++) o[c] = (s[c] > o[c] || s[c] != s[c]) ? s[c] : o[c];
          }
      }
    }
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- resize

struct AxisMap {
  std::vector<int64_t> lo, hi;
  std::vector<float> frac;
};

// Source coordinates per output index, exactly as tfjs-backend-cpu's forward kernels compute them.
AxisMap bilinearMap(int64_t in, int64_t out, bool align, bool half) {
  AxisMap m{std::vector<int64_t>(out), std::vector<int64_t>(out), std::vector<float>(out)};
  const double ratio = (align && out > 1) ? double(in - 1) / double(out - 1) : double(in) / double(out);
  for (int64_t o = 0; o < out; o++) {
    const double src = half ? ratio * (o + 0.5) - 0.5 : ratio * o;
    const int64_t f = std::max<int64_t>(0, int64_t(std::floor(src)));
    m.lo[o] = f;
    m.hi[o] = std::min<int64_t>(in - 1, int64_t(std::ceil(src)));
    m.frac[o] = float(src - double(f));
  }
  return m;
}

std::vector<int64_t> nearestMap(int64_t in, int64_t out, bool align, bool half) {
  std::vector<int64_t> idx(out);
  const double ratio = (align && out > 1) ? double(in - 1) / double(out - 1) : double(in) / double(out);
  for (int64_t o = 0; o < out; o++) {
    const double src = half ? ratio * (o + 0.5) : ratio * o;
    int64_t i = std::min<int64_t>(in - 1, align ? int64_t(std::round(src)) : int64_t(std::floor(src)));
    if (half) i = std::max<int64_t>(0, i);
    idx[o] = i;
  }
  return idx;
}

// resize(bilinear, grad, a, out, [N,H,W,C,OH,OW], align, half)
//   grad = 0: a = images [N,H,W,C] -> out [N,OH,OW,C]
//   grad = 1: a = dy [N,OH,OW,C] -> out = dx [N,H,W,C] (the exact adjoint of the forward)
Napi::Value Resize(const Napi::CallbackInfo& info) {
  const bool bilinear = info[0].As<Napi::Boolean>(), grad = info[1].As<Napi::Boolean>();
  const float* a = f32(info[2]);
  float* out = f32(info[3]);
  const int32_t* p = info[4].As<Napi::Int32Array>().Data();
  const bool align = info[5].As<Napi::Boolean>(), half = info[6].As<Napi::Boolean>();
  const int64_t N = p[0], H = p[1], W = p[2], C = p[3], OH = p[4], OW = p[5];
  const bool big = N * OH * OW * C >= kParallelMin;
  if (grad) std::memset(out, 0, sizeof(float) * N * H * W * C);
  if (bilinear) {
    const AxisMap rows = bilinearMap(H, OH, align, half), cols = bilinearMap(W, OW, align, half);
    // Parallel over images: in the gradient, pixels of one image receive from several outputs.
#pragma omp parallel for schedule(static) if (big)
    for (int64_t n = 0; n < N; n++) {
      for (int64_t r = 0; r < OH; r++) {
        const int64_t top = (n * H + rows.lo[r]) * W, bot = (n * H + rows.hi[r]) * W;
        const float fr = rows.frac[r];
        for (int64_t q = 0; q < OW; q++) {
          const int64_t l = cols.lo[q], rt = cols.hi[q];
          const float fc = cols.frac[q];
          const int64_t o = ((n * OH + r) * OW + q) * C;
          if (!grad) {
            const float *ptl = a + (top + l) * C, *ptr = a + (top + rt) * C, *pbl = a + (bot + l) * C, *pbr = a + (bot + rt) * C;
            for (int64_t c = 0; c < C; c++) {
              // the JS kernel's order: lerp along the row, then between rows
              const float t = ptl[c] + (ptr[c] - ptl[c]) * fc;
              const float b = pbl[c] + (pbr[c] - pbl[c]) * fc;
              out[o + c] = t + (b - t) * fr;
            }
          } else {
            const float wtl = (1 - fr) * (1 - fc), wtr = (1 - fr) * fc, wbl = fr * (1 - fc), wbr = fr * fc;
            float *tl = out + (top + l) * C, *tr = out + (top + rt) * C, *bl = out + (bot + l) * C, *br = out + (bot + rt) * C;
            for (int64_t c = 0; c < C; c++) {
              const float g = a[o + c];
              tl[c] += g * wtl;
              tr[c] += g * wtr;
              bl[c] += g * wbl;
              br[c] += g * wbr;
            }
          }
        }
      }
    }
  } else {
    const std::vector<int64_t> rows = nearestMap(H, OH, align, half), cols = nearestMap(W, OW, align, half);
#pragma omp parallel for schedule(static) if (big)
    for (int64_t n = 0; n < N; n++) {
      for (int64_t r = 0; r < OH; r++) {
        const int64_t row = (n * H + rows[r]) * W;
        for (int64_t q = 0; q < OW; q++) {
          const int64_t o = ((n * OH + r) * OW + q) * C, s = (row + cols[q]) * C;
          if (!grad)
            std::memcpy(out + o, a + s, sizeof(float) * C);
          else
            for (int64_t c = 0; c < C; c++) out[s + c] += a[o + c];
        }
      }
    }
  }
  return info.Env().Undefined();
}

}  // namespace nthk
