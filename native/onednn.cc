// Convolutions (oneDNN primitives, or Winograd for 3x3 stride-1 ones) and matmuls, with their plan caches and scratch arenas.
#include "common.h"
#include "isa.h"

namespace nthk {

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

// A convolution pass with bf16 operands (f32 bias, sums and result): mode 0 forward (x, w -> y),
// 1 backward-data (dy, w -> dx), 2 backward-weights (x, dy -> dw, reordered back to HWIO f32). The
// caller's f32 NHWC activations are reordered to bf16 and the HWIO weights each call; null where
// oneDNN has no fast bf16 kernel for the shape (the f32 plan runs instead).
std::unique_ptr<ConvPlan> make_conv_plan_bf16(int mode, const int32_t* p, bool bias) {
  const int64_t N = p[0], H = p[1], W = p[2], Ci = p[3], Co = p[4], KH = p[5], KW = p[6], sh = p[7], sw = p[8],
                dh = p[9], dw = p[10], pt = p[11], pl = p[12], pb = p[13], pr = p[14], OH = p[15], OW = p[16];
  auto plan = std::make_unique<ConvPlan>();
  memory::dims src_d = {N, Ci, H, W}, w_d = {Co, Ci, KH, KW}, dst_d = {N, Co, OH, OW};
  memory::dims st = {sh, sw}, dil = {dh - 1, dw - 1}, padl = {pt, pl}, padr = {pb, pr};
  memory::desc src_md(src_d, dt::f32, tag::nhwc), src_bf(src_d, dt::bf16, tag::nhwc);
  memory::desc dst_md(dst_d, dt::f32, tag::nhwc), dst_bf(dst_d, dt::bf16, tag::nhwc);
  memory::desc w_user(w_d, dt::f32, tag::hwio), w_any(w_d, dt::bf16, tag::any), w_any_f32(w_d, dt::f32, tag::any);
  const memory::desc bias_md = bias ? memory::desc({Co}, dt::f32, tag::x) : memory::desc();
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  auto fwd_pd = convolution_forward::primitive_desc(
      convolution_forward::desc(mode == 0 ? prop_kind::forward_inference : prop_kind::forward_training,
                                algorithm::convolution_direct, src_bf, w_any, bias_md, mode == 0 ? dst_md : dst_bf, st,
                                dil, padl, padr),
      attr, eng());
  auto stage = [&](int i, const memory::desc& user, const memory::desc& want) {
    plan->staged[i] = true;
    plan->act_md[i] = want;
    plan->act_reorder[i] = reorder(reorder::primitive_desc(eng(), user, eng(), want));
  };
  memory::desc scratch_md;
  if (mode == 0) {
    plan->prim = convolution_forward(fwd_pd);
    plan->impl = fwd_pd.impl_info_str();
    plan->w_opt = fwd_pd.weights_desc();
    scratch_md = fwd_pd.scratchpad_desc();
    plan->a_md = src_md, plan->b_md = w_user, plan->out_md = dst_md;
    stage(0, src_md, fwd_pd.src_desc());
  } else if (mode == 1) {
    auto pd = convolution_backward_data::primitive_desc(
        convolution_backward_data::desc(algorithm::convolution_direct, src_md, w_any, dst_bf, st, dil, padl, padr), attr,
        eng(), fwd_pd);
    plan->prim = convolution_backward_data(pd);
    plan->impl = pd.impl_info_str();
    plan->w_opt = pd.weights_desc();
    scratch_md = pd.scratchpad_desc();
    plan->a_md = dst_md, plan->b_md = w_user, plan->out_md = src_md;
    stage(0, dst_md, pd.diff_dst_desc());
  } else {
    auto pd = convolution_backward_weights::primitive_desc(
        convolution_backward_weights::desc(algorithm::convolution_direct, src_bf, w_any_f32, dst_bf, st, dil, padl, padr),
        attr, eng(), fwd_pd);
    plan->prim = convolution_backward_weights(pd);
    plan->impl = pd.impl_info_str();
    plan->w_opt = pd.diff_weights_desc();
    scratch_md = pd.scratchpad_desc();
    plan->a_md = src_md, plan->b_md = dst_md, plan->out_md = w_user;
    stage(0, src_md, pd.src_desc());
    stage(1, dst_md, pd.diff_dst_desc());
  }
  if (plan->impl.find("bf16") == std::string::npos) return nullptr;  // a reference or gemm fallback
  plan->reorder_w = plan->w_opt != w_user;
  if (plan->reorder_w) {
    plan->w_buf = std::make_unique<memory>(plan->w_opt, eng());
    plan->w_reorder = mode == 2 ? reorder(reorder::primitive_desc(eng(), plan->w_opt, eng(), w_user))
                                : reorder(reorder::primitive_desc(eng(), w_user, eng(), plan->w_opt));
  }
  plan->scratch = std::make_unique<memory>(scratch_md, eng());
  return plan;
}

ConvPlan* conv_plan(int mode, const int32_t* p, bool bias) {
  const bool bf16 = mode == 0 ? nth::bf16_forward() : nth::bf16_backward();
  std::string key = std::to_string(mode) + (bias ? "b" : "") + (bf16 ? "h" : "");
  for (int i = 0; i < 17; i++) key += "," + std::to_string(p[i]);
  auto it = conv_plans.find(key);
  if (it != conv_plans.end()) return it->second.get();
  const int64_t N = p[0], Ci = p[3], Co = p[4], KH = p[5], KW = p[6], OH = p[15], OW = p[16];
  std::unique_ptr<ConvPlan> plan;
  if (bf16) {
    plan = make_conv_plan_bf16(mode, p, bias);
    if (plan) {
      ConvPlan* c = plan.get();
      conv_plans.emplace(key, std::move(plan));
      return c;
    }
  }
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

// ---------------------------------------------------------------- attention (inference)

// attention(q [B,N,ck], k [B,N,ck], v [B,N,cv], out [B,N,cv], B, N, ck, cv): out = softmax(q k^T) v
// per batch item, the composition of nn/layers.ts attention() without its N x N score matrix in
// memory: query rows go 256 at a time through S = q_rows k^T (a 4 MB block at N = 4096, in cache),
// the row softmax in place, and out_rows = S v. At 256 px the SAGAN block's 4 x 4096 x 4096 scores
// were ~270 MB written and read three times. Forward only: inference takes it (no gradient).
constexpr int64_t kAttnRows = 256;
struct AttnPlan {
  matmul scores, mix;
  memory::desc q, kt, s, v, o;
  std::unique_ptr<memory> scratch_s, scratch_o;
};
std::unordered_map<std::string, std::unique_ptr<AttnPlan>> attn_plans;
std::vector<float> attn_block;

AttnPlan& attn_plan(int64_t rows, int64_t N, int64_t ck, int64_t cv) {
  const std::string key = std::to_string(rows) + "," + std::to_string(N) + "," + std::to_string(ck) + "," + std::to_string(cv);
  auto it = attn_plans.find(key);
  if (it != attn_plans.end()) return *it->second;
  auto p = std::make_unique<AttnPlan>();
  p->q = memory::desc({rows, ck}, dt::f32, memory::dims{ck, 1});
  p->kt = memory::desc({ck, N}, dt::f32, memory::dims{1, ck});  // k [N, ck] read as k^T
  p->s = memory::desc({rows, N}, dt::f32, memory::dims{N, 1});
  p->v = memory::desc({N, cv}, dt::f32, memory::dims{cv, 1});
  p->o = memory::desc({rows, cv}, dt::f32, memory::dims{cv, 1});
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  auto pd1 = matmul::primitive_desc(matmul::desc(p->q, p->kt, p->s), attr, eng());
  auto pd2 = matmul::primitive_desc(matmul::desc(p->s, p->v, p->o), attr, eng());
  p->scores = matmul(pd1), p->mix = matmul(pd2);
  p->scratch_s = std::make_unique<memory>(pd1.scratchpad_desc(), eng());
  p->scratch_o = std::make_unique<memory>(pd2.scratchpad_desc(), eng());
  AttnPlan& r = *p;
  attn_plans.emplace(key, std::move(p));
  return r;
}

Napi::Value Attention(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(shared_state());
  const int64_t B = i64(info[4]), N = i64(info[5]), ck = i64(info[6]), cv = i64(info[7]);
  check(len(info[0]) == size_t(B * N * ck) && len(info[1]) == size_t(B * N * ck) && len(info[2]) == size_t(B * N * cv) &&
            len(info[3]) == size_t(B * N * cv),
        info.Env(), "attention: buffer sizes do not match [B, N, ck] / [B, N, cv]");
  const float *q = f32(info[0]), *k = f32(info[1]), *v = f32(info[2]);
  float* out = f32(info[3]);
  if (attn_block.size() < size_t(kAttnRows * N)) attn_block.resize(size_t(kAttnRows * N));
  float* S = attn_block.data();
  for (int64_t b = 0; b < B; b++)
    for (int64_t r0 = 0; r0 < N; r0 += kAttnRows) {
      const int64_t rows = std::min(kAttnRows, N - r0);
      AttnPlan& p = attn_plan(rows, N, ck, cv);
      memory qm(p.q, eng(), const_cast<float*>(q + (b * N + r0) * ck)), km(p.kt, eng(), const_cast<float*>(k + b * N * ck)),
          sm(p.s, eng(), S), vm(p.v, eng(), const_cast<float*>(v + b * N * cv)), om(p.o, eng(), out + (b * N + r0) * cv);
      p.scores.execute(strm(), {{DNNL_ARG_SRC, qm}, {DNNL_ARG_WEIGHTS, km}, {DNNL_ARG_DST, sm}, {DNNL_ARG_SCRATCHPAD, *p.scratch_s}});
      strm().wait();
      softmax_rows(S, S, rows, N);
      p.mix.execute(strm(), {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, vm}, {DNNL_ARG_DST, om}, {DNNL_ARG_SCRATCHPAD, *p.scratch_o}});
      strm().wait();
    }
  return info.Env().Undefined();
}

Napi::Value ClearCaches(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(shared_state());
  conv_plans.clear();
  mm_plans.clear();
  attn_plans.clear();
  std::vector<float>().swap(attn_block);
  nth::winograd_clear();
  for (auto& a : conv_arena) std::vector<float>().swap(a);
  return info.Env().Undefined();
}

}  // namespace nthk
