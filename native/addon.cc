// neural-talking-heads native kernels: an N-API addon over oneDNN (Debian libdnnl 2.x) plus OpenMP
// loops for the kernels oneDNN has no primitive for. Every function works in place on caller-owned
// typed arrays (the TF.js tensors' own storage: no copies between JS and native memory).
//
// Layouts follow TF.js: activations NHWC, conv filters HWIO, matrices row-major.
// Each kernel has a TypeScript reference twin (the cpu backend) that the tests compare against.
//
// One file per kernel family: onednn.cc, elementwise.cc, reduce.cc, movement.cc, fused.cc (common.h
// has what they share); this file has the settings and the module's exports.
#include "common.h"
#include "isa.h"

namespace nthk {
namespace {

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
// isa(name?): the instruction set our multi-build kernels use ("avx512", "avx2", "baseline"); with a
// name, switches to it (capped at the CPU's best; an unknown name throws). Returns the one in use.
Napi::Value IsaOp(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsString()) {
    const std::string name = info[0].As<Napi::String>();
    if (!nth::set_isa(name.c_str()))
      throw Napi::Error::New(info.Env(), "isa: \"" + name + "\" is not one of baseline, avx2, avx512");
  }
  return Napi::String::New(info.Env(), nth::isa_name(nth::active_isa()));
}
// bf16(on?): whether forward convolutions run in bfloat16 (native/isa.h); with an argument, sets it
// (asking for it on a CPU without AVX-512 BF16 throws). Returns the setting in use.
Napi::Value Bf16(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsBoolean() && !nth::set_bf16_forward(info[0].As<Napi::Boolean>()))
    throw Napi::Error::New(info.Env(), "bf16: this CPU has no AVX-512 BF16");
  return Napi::Boolean::New(info.Env(), nth::bf16_forward());
}
// bf16Training(on?): all three convolution passes in bfloat16 (training with --precision bf16).
Napi::Value Bf16Training(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsBoolean() && !nth::set_bf16_training(info[0].As<Napi::Boolean>()))
    throw Napi::Error::New(info.Env(), "bf16Training: this CPU has no AVX-512 BF16");
  return Napi::Boolean::New(info.Env(), nth::bf16_backward());
}
Napi::Value CpuBf16(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), nth::cpu_has_bf16()); }
Napi::Value CpuIsa(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), nth::isa_name(nth::cpu_isa()));
}
Napi::Value Version(const Napi::CallbackInfo& info) {
  auto v = dnnl::version();
  return Napi::String::New(info.Env(), std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("conv", Napi::Function::New(env, Conv));
  exports.Set("matmul", Napi::Function::New(env, MatMul));
  exports.Set("unary", Napi::Function::New(env, UnaryOp));
  exports.Set("binary", Napi::Function::New(env, BinaryOp));
  exports.Set("addN", Napi::Function::New(env, AddN));
  exports.Set("reduce", Napi::Function::New(env, ReduceOp));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("concat", Napi::Function::New(env, Concat));
  exports.Set("slice", Napi::Function::New(env, Slice));
  exports.Set("split", Napi::Function::New(env, Split));
  exports.Set("depthwiseConv", Napi::Function::New(env, DepthwiseConv));
  exports.Set("batchNorm", Napi::Function::New(env, BatchNorm));
  exports.Set("avgPool", Napi::Function::New(env, AvgPool));
  exports.Set("maxPool", Napi::Function::New(env, MaxPool));
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
  exports.Set("isa", Napi::Function::New(env, IsaOp));
  exports.Set("cpuIsa", Napi::Function::New(env, CpuIsa));
  exports.Set("bf16", Napi::Function::New(env, Bf16));
  exports.Set("cpuBf16", Napi::Function::New(env, CpuBf16));
  exports.Set("bf16Training", Napi::Function::New(env, Bf16Training));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("clearCaches", Napi::Function::New(env, ClearCaches));
  return exports;
}

}  // namespace nthk

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return nthk::Init(env, exports); }

NODE_API_MODULE(nth_native, InitModule)
