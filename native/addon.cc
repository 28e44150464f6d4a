// neural-talking-heads native kernels: an N-API addon over oneDNN (Debian libdnnl 2.x) plus OpenMP
// loops for the kernels oneDNN has no primitive for. Every function works in place on caller-owned
// typed arrays (the TF.js tensors' own storage: no copies between JS and native memory).
//
// Layouts follow TF.js: activations NHWC, conv filters HWIO, matrices row-major.
// Each kernel has a TypeScript reference twin (the cpu backend) that the tests compare against.
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

namespace {

engine& eng() {
  static engine e(engine::kind::cpu, 0);
  return e;
}
stream& strm() {
  static stream s(eng());
  return s;
}

float* f32(const Napi::Value& v) { return v.As<Napi::Float32Array>().Data(); }
size_t len(const Napi::Value& v) { return v.As<Napi::TypedArray>().ElementLength(); }
int64_t i64(const Napi::Value& v) { return v.As<Napi::Number>().Int64Value(); }
int i32(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }

std::vector<int64_t> dims(const Napi::Value& v) {
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> d(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) d[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return d;
}

void check(bool ok, const Napi::Env& env, const char* what) {
  if (!ok) throw Napi::RangeError::New(env, what);
}

// Convolutions and matmuls share process-wide plan caches and scratch arenas, and Node may call the
// addon from several worker threads at once (preprocessing runs face detection in workers): those
// calls take this lock, one at a time (each is parallel inside already).
std::mutex& shared_state() {
  static std::mutex m;
  return m;
}

// Work below this many elements runs on one thread: forking costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;

// ---------------------------------------------------------------- convolution (oneDNN)

struct ConvPlan {
  primitive prim;
  memory::desc a_md, b_md, out_md;
  memory::desc w_opt;
  bool reorder_w = false;
  std::unique_ptr<memory> w_buf;
  reorder w_reorder;
  std::unique_ptr<memory> scratch;
  // Blocked variant: activations reordered between NHWC and the layout the primitive asked for.
  // Index 0: operand a, 1: operand b (mode 2 only), 2: the output (modes 0 and 1).
  // The blocked copies live in three shared, grow-only buffers (calls run one at a time), not per
  // plan: at 256px a plan's activations are hundreds of MB.
  bool blocked = false;
  bool staged[3] = {false, false, false};
  memory::desc act_md[3];
  reorder act_reorder[3];
  // Forward as the backward-data primitive of the mirrored convolution (stride 1): used where the
  // forward kernel would be im2col + gemm (9x9) but backward-data has a direct one. The filter is
  // flipped spatially into `flip` (layout HWIO, viewed as the mirrored conv's O = Ci, I = Co).
  bool via_bwd = false;
  std::vector<float> flip;
  memory::desc flip_md;
  std::string impl;
};
std::unordered_map<std::string, std::unique_ptr<ConvPlan>> conv_plans;
std::vector<float> conv_arena[3];

float* arena(int i, size_t bytes) {
  auto& a = conv_arena[i];
  if (a.size() * sizeof(float) < bytes) a.resize(bytes / sizeof(float) + 16);
  return a.data();
}

// Which layout a convolution runs in. oneDNN's NHWC kernels avoid reorders and are as fast as its
// blocked (nChw8c) ones for forward and backward-data, with two exceptions measured on the presets
// (docs/benchmarks.md): backward-weights is 2-3x slower in NHWC at large batch x spatial sizes, and a
// 9x9 forward falls back to im2col + gemm in NHWC (2x slower than the blocked direct kernel). Those
// run blocked, with the activations reordered; the rule is static, so results do not depend on timing.
// NTH_CONV_BLOCKED=0 turns the blocked variant off (for benchmarks of the two).
bool blocked_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("NTH_CONV_BLOCKED");
    return !(e && std::string(e) == "0");
  }();
  return on;
}

std::unique_ptr<ConvPlan> make_conv_plan(int mode, const int32_t* p, bool blocked, bool bias) {
  const int64_t N = p[0], H = p[1], W = p[2], Ci = p[3], Co = p[4], KH = p[5], KW = p[6], sh = p[7], sw = p[8],
                dh = p[9], dw = p[10], pt = p[11], pl = p[12], pb = p[13], pr = p[14], OH = p[15], OW = p[16];
  auto plan = std::make_unique<ConvPlan>();
  memory::dims src_d = {N, Ci, H, W}, w_d = {Co, Ci, KH, KW}, dst_d = {N, Co, OH, OW};
  memory::dims st = {sh, sw}, dil = {dh - 1, dw - 1}, padl = {pt, pl}, padr = {pb, pr};
  memory::desc src_md(src_d, dt::f32, tag::nhwc), dst_md(dst_d, dt::f32, tag::nhwc);
  const tag act = blocked ? tag::any : tag::nhwc;
  memory::desc src_p(src_d, dt::f32, act), dst_p(dst_d, dt::f32, act);
  memory::desc w_user(w_d, dt::f32, tag::hwio), w_any(w_d, dt::f32, tag::any);
  // bias: added by the forward primitive (mode 0 only)
  const memory::desc bias_md = bias ? memory::desc({Co}, dt::f32, tag::x) : memory::desc();
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  auto fwd_d = convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, src_p, w_any,
                                         bias_md, dst_p, st, dil, padl, padr);
  auto fwd_pd = convolution_forward::primitive_desc(fwd_d, attr, eng());
  memory::desc scratch_md, a_p, b_p, out_p;
  if (mode == 0) {
    plan->prim = convolution_forward(fwd_pd);
    plan->w_opt = fwd_pd.weights_desc();
    scratch_md = fwd_pd.scratchpad_desc();
    plan->impl = fwd_pd.impl_info_str();
    plan->a_md = src_md, plan->b_md = w_user, plan->out_md = dst_md;
    a_p = fwd_pd.src_desc(), out_p = fwd_pd.dst_desc();
  } else if (mode == 1) {
    auto bd =
        convolution_backward_data::desc(algorithm::convolution_direct, src_p, w_any, dst_p, st, dil, padl, padr);
    auto pd = convolution_backward_data::primitive_desc(bd, attr, eng(), fwd_pd);
    plan->prim = convolution_backward_data(pd);
    plan->w_opt = pd.weights_desc();
    scratch_md = pd.scratchpad_desc();
    plan->impl = pd.impl_info_str();
    plan->a_md = dst_md, plan->b_md = w_user, plan->out_md = src_md;
    a_p = pd.diff_dst_desc(), out_p = pd.diff_src_desc();
  } else {
    auto bw =
        convolution_backward_weights::desc(algorithm::convolution_direct, src_p, w_any, dst_p, st, dil, padl, padr);
    auto pd = convolution_backward_weights::primitive_desc(bw, attr, eng(), fwd_pd);
    plan->prim = convolution_backward_weights(pd);
    plan->w_opt = pd.diff_weights_desc();
    scratch_md = pd.scratchpad_desc();
    plan->impl = pd.impl_info_str();
    plan->a_md = src_md, plan->b_md = dst_md, plan->out_md = w_user;
    a_p = pd.src_desc(), b_p = pd.diff_dst_desc();
  }
  plan->reorder_w = plan->w_opt != w_user;
  if (plan->reorder_w) {
    plan->w_buf = std::make_unique<memory>(plan->w_opt, eng());
    plan->w_reorder = mode == 2 ? reorder(reorder::primitive_desc(eng(), plan->w_opt, eng(), w_user))
                                : reorder(reorder::primitive_desc(eng(), w_user, eng(), plan->w_opt));
  }
  plan->blocked = blocked;
  if (blocked) {
    auto in = [&](int i, const memory::desc& user, const memory::desc& want) {
      if (want == user) return;
      plan->staged[i] = true;
      plan->act_md[i] = want;
      plan->act_reorder[i] = reorder(reorder::primitive_desc(eng(), user, eng(), want));
    };
    in(0, plan->a_md, a_p);
    if (mode == 2) in(1, plan->b_md, b_p);
    if (mode != 2 && out_p != plan->out_md) {
      plan->staged[2] = true;
      plan->act_md[2] = out_p;
      plan->act_reorder[2] = reorder(reorder::primitive_desc(eng(), out_p, eng(), plan->out_md));
    }
  }
  plan->scratch = std::make_unique<memory>(scratch_md, eng());
  return plan;
}

// y = conv(x, W) (stride 1, no dilation) equals backward-data of the conv that maps y-shaped
// images to x-shaped ones, with diff_dst = x and W flipped in space, padding K - 1 - p per side:
//   dx'[i] = sum_k x[i + p' - k] W[K-1-k] = sum_j x[i - p + j] W[j]   with p' = K - 1 - p.
std::unique_ptr<ConvPlan> make_forward_via_bwd(const int32_t* p) {
  const int64_t N = p[0], H = p[1], W = p[2], Ci = p[3], Co = p[4], KH = p[5], KW = p[6], pt = p[11], pl = p[12],
                pb = p[13], pr = p[14], OH = p[15], OW = p[16];
  auto plan = std::make_unique<ConvPlan>();
  memory::dims y_d = {N, Co, OH, OW}, x_d = {N, Ci, H, W}, w_d = {Ci, Co, KH, KW};
  memory::dims st = {1, 1}, dil = {0, 0}, padl = {KH - 1 - pt, KW - 1 - pl}, padr = {KH - 1 - pb, KW - 1 - pr};
  memory::desc y_md(y_d, dt::f32, tag::nhwc), x_md(x_d, dt::f32, tag::nhwc), w_any(w_d, dt::f32, tag::any);
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  auto fwd_pd = convolution_forward::primitive_desc(
      convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, y_md, w_any, x_md, st, dil,
                                padl, padr),
      attr, eng());
  auto pd = convolution_backward_data::primitive_desc(
      convolution_backward_data::desc(algorithm::convolution_direct, y_md, w_any, x_md, st, dil, padl, padr), attr,
      eng(), fwd_pd);
  plan->prim = convolution_backward_data(pd);
  plan->impl = pd.impl_info_str();
  plan->via_bwd = true;
  plan->a_md = x_md, plan->out_md = y_md;
  plan->b_md = memory::desc({KH, KW, Ci, Co}, dt::f32, tag::abcd);  // the user's HWIO filter
  // the flipped filter [kh][kw][ci][co] seen as the mirrored conv's {O = Ci, I = Co, KH, KW}
  plan->flip.resize(size_t(KH * KW * Ci * Co));
  plan->flip_md = memory::desc(w_d, dt::f32, memory::dims{Co, 1, KW * Ci * Co, Ci * Co});
  plan->w_opt = pd.weights_desc();
  plan->reorder_w = true;
  plan->w_buf = std::make_unique<memory>(plan->w_opt, eng());
  plan->w_reorder = reorder(reorder::primitive_desc(eng(), plan->flip_md, eng(), plan->w_opt));
  plan->scratch = std::make_unique<memory>(pd.scratchpad_desc(), eng());
  return plan;
}

ConvPlan* conv_plan(int mode, const int32_t* p, bool bias) {
  std::string key = std::to_string(mode) + (bias ? "b" : "");
  for (int i = 0; i < 17; i++) key += "," + std::to_string(p[i]);
  auto it = conv_plans.find(key);
  if (it != conv_plans.end()) return it->second.get();
  const int64_t N = p[0], Ci = p[3], Co = p[4], KH = p[5], KW = p[6], OH = p[15], OW = p[16];
  std::unique_ptr<ConvPlan> plan;
  if (blocked_enabled() && mode == 2 && Ci % 8 == 0 && Co % 8 == 0 && N * OH * OW >= 4096 && KH * KW > 1)
    plan = make_conv_plan(mode, p, true, bias);
  if (!plan) plan = make_conv_plan(mode, p, false, bias);
  const bool unit = p[7] == 1 && p[8] == 1 && p[9] == 1 && p[10] == 1;
  // oneDNN's fallbacks: im2col + gemm, or the reference loops where even the im2col buffer is too
  // big (the paper preset's 9x9 64 -> 64 forward at 256px: 150 s instead of 1 s)
  auto slow = [](const ConvPlan& c) {
    return c.impl.find("gemm") != std::string::npos || c.impl.find("ref") != std::string::npos;
  };
  if (blocked_enabled() && mode == 0 && unit && slow(*plan) && KH * KW > 1) {
    auto alt = make_forward_via_bwd(p);
    if (!slow(*alt)) plan = std::move(alt);
  }
  ConvPlan* c = plan.get();
  conv_plans.emplace(key, std::move(plan));
  return c;
}

// conv(mode, a, b, out, params[N,H,W,Ci,Co,KH,KW,sh,sw,dh,dw,pt,pl,pb,pr,OH,OW], bias?)
//   mode 0: out = conv(x = a, w = b) (+ bias)   mode 1: out = dx(dy = a, w = b)
//   mode 2: out = dw(x = a, dy = b)
Napi::Value Conv(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(shared_state());
  const int mode = i32(info[0]);
  const int32_t* p = info[4].As<Napi::Int32Array>().Data();
  const bool has_bias = info.Length() > 5 && info[5].IsTypedArray();
  check(!has_bias || mode == 0, info.Env(), "conv: only the forward pass takes a bias");
  float* bias = has_bias ? f32(info[5]) : nullptr;
  if (has_bias) check(len(info[5]) == size_t(p[4]), info.Env(), "conv: bias size");
  if (nth::winograd_applies(p)) {
    nth::winograd_conv(mode, f32(info[1]), f32(info[2]), f32(info[3]), p, bias, eng(), strm());
    return info.Env().Undefined();
  }
  ConvPlan* c = conv_plan(mode, p, has_bias);
  memory a(c->a_md, eng(), f32(info[1])), b(c->b_md, eng(), f32(info[2])), out(c->out_md, eng(), f32(info[3]));
  if (c->via_bwd) {
    const int64_t KH = p[5], KW = p[6], block = int64_t(p[3]) * p[4];
    const float* w = f32(info[2]);
    for (int64_t kh = 0; kh < KH; kh++)
      for (int64_t kw = 0; kw < KW; kw++)
        std::memcpy(c->flip.data() + (kh * KW + kw) * block, w + ((KH - 1 - kh) * KW + (KW - 1 - kw)) * block,
                    sizeof(float) * block);
    memory flipped(c->flip_md, eng(), c->flip.data());
    c->w_reorder.execute(strm(), flipped, *c->w_buf);
    c->prim.execute(strm(), {{DNNL_ARG_DIFF_DST, a}, {DNNL_ARG_WEIGHTS, *c->w_buf}, {DNNL_ARG_DIFF_SRC, out},
                             {DNNL_ARG_SCRATCHPAD, *c->scratch}});
    strm().wait();
    if (bias) {  // backward-data has no bias: add it to every pixel
      const int64_t Co = p[4], rows = int64_t(p[0]) * p[15] * p[16];
      float* y = f32(info[3]);
#pragma omp parallel for schedule(static) if (rows * Co >= kParallelMin)
      for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < Co; o++) y[r * Co + o] += bias[o];
    }
    return info.Env().Undefined();
  }
  // activations in the primitive's layout (the user's NHWC memory when no reorder is needed)
  auto buf = [&](int i) { return memory(c->act_md[i], eng(), arena(i, c->act_md[i].get_size())); };
  auto staged = [&](int i, memory& user) -> memory {
    if (!c->staged[i]) return user;
    memory m = buf(i);
    c->act_reorder[i].execute(strm(), user, m);
    return m;
  };
  memory as = staged(0, a);
  if (mode == 0 || mode == 1) {
    memory w = b;
    if (c->reorder_w) {
      c->w_reorder.execute(strm(), b, *c->w_buf);
      w = *c->w_buf;
    }
    memory os = c->staged[2] ? buf(2) : out;
    std::unordered_map<int, memory> args = {{DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_SCRATCHPAD, *c->scratch}};
    if (mode == 0) {
      args.insert({{DNNL_ARG_SRC, as}, {DNNL_ARG_DST, os}});
      if (bias) args.insert({DNNL_ARG_BIAS, memory(memory::desc({p[4]}, dt::f32, tag::x), eng(), bias)});
    } else {
      args.insert({{DNNL_ARG_DIFF_DST, as}, {DNNL_ARG_DIFF_SRC, os}});
    }
    c->prim.execute(strm(), args);
    if (c->staged[2]) c->act_reorder[2].execute(strm(), os, out);
  } else {
    memory bs = staged(1, b);
    memory dwm = c->reorder_w ? *c->w_buf : out;
    c->prim.execute(strm(), {{DNNL_ARG_SRC, as}, {DNNL_ARG_DIFF_DST, bs}, {DNNL_ARG_DIFF_WEIGHTS, dwm}, {DNNL_ARG_SCRATCHPAD, *c->scratch}});
    if (c->reorder_w) c->w_reorder.execute(strm(), *c->w_buf, out);
  }
  strm().wait();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- matmul (oneDNN)

struct MatMulPlan {
  primitive prim;
  memory::desc a, b, c;
  std::unique_ptr<memory> scratch;
};
std::unordered_map<std::string, std::unique_ptr<MatMulPlan>> mm_plans;

// matmul(a, b, out, batchA, batchB, M, K, N, transA, transB): out[batch, M, N] = op(a) op(b); a batch of 1 broadcasts.
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(shared_state());
  const int64_t bA = i64(info[3]), bB = i64(info[4]), M = i64(info[5]), K = i64(info[6]), N = i64(info[7]);
  const bool tA = info[8].As<Napi::Boolean>(), tB = info[9].As<Napi::Boolean>();
  check(len(info[0]) == size_t(bA * M * K) && len(info[1]) == size_t(bB * K * N) &&
            len(info[2]) == size_t(std::max(bA, bB) * M * N),
        info.Env(), "matmul: buffer sizes do not match the shapes");
  std::string key = std::to_string(bA) + "," + std::to_string(bB) + "," + std::to_string(M) + "," + std::to_string(K) +
                    "," + std::to_string(N) + "," + std::to_string(tA) + "," + std::to_string(tB);
  auto it = mm_plans.find(key);
  MatMulPlan* pp;
  if (it == mm_plans.end()) {
    auto p = std::make_unique<MatMulPlan>();
    const int64_t bC = std::max(bA, bB);
    p->a = memory::desc({bA, M, K}, dt::f32, tA ? memory::dims{M * K, 1, M} : memory::dims{M * K, K, 1});
    p->b = memory::desc({bB, K, N}, dt::f32, tB ? memory::dims{K * N, 1, K} : memory::dims{K * N, N, 1});
    p->c = memory::desc({bC, M, N}, dt::f32, memory::dims{M * N, N, 1});
    primitive_attr attr;
    attr.set_scratchpad_mode(scratchpad_mode::user);
    auto pd = matmul::primitive_desc(matmul::desc(p->a, p->b, p->c), attr, eng());
    p->prim = matmul(pd);
    p->scratch = std::make_unique<memory>(pd.scratchpad_desc(), eng());
    pp = p.get();
    mm_plans.emplace(key, std::move(p));
  } else {
    pp = it->second.get();
  }
  memory a(pp->a, eng(), f32(info[0])), b(pp->b, eng(), f32(info[1])), c(pp->c, eng(), f32(info[2]));
  pp->prim.execute(strm(), {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}, {DNNL_ARG_SCRATCHPAD, *pp->scratch}});
  strm().wait();
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- elementwise

enum Unary {
  U_RELU, U_TANH, U_SIGMOID, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_SQUARE, U_NEG, U_ABS, U_STEP, U_SIGN,
  U_RECIPROCAL, U_ELU, U_LEAKY, U_SOFTPLUS, U_LOG1P, U_EXPM1, U_COS, U_SIN, U_FLOOR, U_CEIL, U_ROUND,
  U_ATAN, U_ERF
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

// unary(op, x, out, alpha)
Napi::Value UnaryOp(const Napi::CallbackInfo& info) {
  const int op = i32(info[0]);
  const float* x = f32(info[1]);
  float* y = f32(info[2]);
  const float alpha = info.Length() > 3 ? float(info[3].As<Napi::Number>().DoubleValue()) : 0.f;
  const int64_t n = int64_t(len(info[1]));
  check(len(info[2]) == size_t(n), info.Env(), "unary: output size differs from input");
  switch (op) {
    case U_RELU: map1(x, y, n, [](float v) { return v > 0.f ? v : 0.f; }); break;
    case U_TANH: map1(x, y, n, [](float v) { return std::tanh(v); }); break;
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
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0]);
  float* y = f32(info[1]);
  const int64_t rows = i64(info[2]), cols = i64(info[3]);
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelMin)
  for (int64_t r = 0; r < rows; r++) {
    const float* p = x + r * cols;
    float* q = y + r * cols;
    float m = -INFINITY;
    for (int64_t i = 0; i < cols; i++) m = std::max(m, p[i]);
    float s = 0.f;
    for (int64_t i = 0; i < cols; i++) {
      q[i] = std::exp(p[i] - m);
      s += q[i];
    }
    const float inv = 1.f / s;
    for (int64_t i = 0; i < cols; i++) q[i] *= inv;
  }
  return info.Env().Undefined();
}

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

// instanceNorm(x, gamma, beta, y, mean, rstd, B, HW, C, gammaBatch, eps)
Napi::Value InstanceNorm(const Napi::CallbackInfo& info) {
  const float *x = f32(info[0]), *gamma = f32(info[1]), *beta = f32(info[2]);
  float *y = f32(info[3]), *mean = f32(info[4]), *rstd = f32(info[5]);
  const int64_t B = i64(info[6]), HW = i64(info[7]), C = i64(info[8]), gB = i64(info[9]);
  const double eps = info[10].As<Napi::Number>().DoubleValue();
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

// ---------------------------------------------------------------- misc

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  omp_set_num_threads(i32(info[0]));
  return info.Env().Undefined();
}
Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), omp_get_max_threads()); }
// winogradMin(n?): the channel count from which 3x3 stride-1 convolutions run as Winograd (tests
// lower it to reach small shapes; a huge value turns Winograd off). Returns the previous value.
Napi::Value WinogradMin(const Napi::CallbackInfo& info) {
  const int64_t prev = nth::winograd_min();
  if (info.Length() > 0 && info[0].IsNumber()) nth::set_winograd_min(i64(info[0]));
  return Napi::Number::New(info.Env(), double(prev));
}
// winogradTile(t?): 0 picks F(2x2, 3x3) or F(4x4, 3x3) by size, 2 or 4 forces one. Returns the previous.
Napi::Value WinogradTile(const Napi::CallbackInfo& info) {
  const int prev = nth::set_winograd_tile(0);
  nth::set_winograd_tile(info.Length() > 0 && info[0].IsNumber() ? i32(info[0]) : prev);
  return Napi::Number::New(info.Env(), prev);
}
Napi::Value WinogradCalls(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(nth::winograd_calls()));
}
Napi::Value Version(const Napi::CallbackInfo& info) {
  auto v = dnnl::version();
  return Napi::String::New(info.Env(), std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
}
Napi::Value ClearCaches(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(shared_state());
  conv_plans.clear();
  mm_plans.clear();
  nth::winograd_clear();
  for (auto& a : conv_arena) std::vector<float>().swap(a);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("conv", Napi::Function::New(env, Conv));
  exports.Set("matmul", Napi::Function::New(env, MatMul));
  exports.Set("unary", Napi::Function::New(env, UnaryOp));
  exports.Set("binary", Napi::Function::New(env, BinaryOp));
  exports.Set("addN", Napi::Function::New(env, AddN));
  exports.Set("reduce", Napi::Function::New(env, ReduceOp));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("concat", Napi::Function::New(env, Concat));
  exports.Set("slice", Napi::Function::New(env, Slice));
  exports.Set("split", Napi::Function::New(env, Split));
  exports.Set("avgPool", Napi::Function::New(env, AvgPool));
  exports.Set("resize", Napi::Function::New(env, Resize));
  exports.Set("adam", Napi::Function::New(env, Adam));
  exports.Set("instanceNorm", Napi::Function::New(env, InstanceNorm));
  exports.Set("instanceNormGrad", Napi::Function::New(env, InstanceNormGrad));
  exports.Set("spectralPower", Napi::Function::New(env, SpectralPower));
  exports.Set("spectralDiv", Napi::Function::New(env, SpectralDiv));
  exports.Set("spectralDivGrad", Napi::Function::New(env, SpectralDivGrad));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("winogradMin", Napi::Function::New(env, WinogradMin));
  exports.Set("winogradTile", Napi::Function::New(env, WinogradTile));
  exports.Set("winogradCalls", Napi::Function::New(env, WinogradCalls));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("clearCaches", Napi::Function::New(env, ClearCaches));
  return exports;
}

}  // namespace

NODE_API_MODULE(nth_native, Init)
