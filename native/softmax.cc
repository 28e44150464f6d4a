// Softmax over the last axis, built for AVX-512, AVX2 and the x86-64-v2 baseline (softmax_rows.inc)
// and picked by native/isa.h: at 256 px the attention's 4 x 4096 x 4096 scores spend most of their
// softmax in the exp polynomial, which the baseline build runs 4 lanes wide.
#include "common.h"
#include "isa.h"

namespace nthk {
namespace {

namespace base {
#include "softmax_rows.inc"
}  // namespace base

#pragma GCC push_options
#pragma GCC target("avx2")
namespace avx2 {
#include "softmax_rows.inc"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
#include "softmax_rows.inc"
}  // namespace avx512
#pragma GCC pop_options

}  // namespace

void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  switch (nth::active_isa()) {
    case nth::Isa::avx512:
      return avx512::softmax_rows(x, y, rows, cols);
    case nth::Isa::avx2:
      return avx2::softmax_rows(x, y, rows, cols);
    default:
      return base::softmax_rows(x, y, rows, cols);
  }
}

// softmax over the last axis: x [rows, cols]
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  softmax_rows(f32(info[0]), f32(info[1]), i64(info[2]), i64(info[3]));
  return info.Env().Undefined();
}

}  // namespace nthk
