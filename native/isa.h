// The instruction sets our own kernels are built for, and the one they use (docs/benchmarks.md).
// Kernels with several builds (winograd_transforms.inc) pick by `active_isa()`: the best the CPU
// has, or a lower one asked for with NTH_ISA=baseline|avx2|avx512 at load or set_isa() later
// (tests compare the builds; benchmarks measure them side by side). oneDNN picks its own.
#pragma once

#include <cstdlib>
#include <cstring>

namespace nth {

enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

inline const char* isa_name(Isa i) { return i == Isa::avx512 ? "avx512" : i == Isa::avx2 ? "avx2" : "baseline"; }

// The best set this CPU runs (AVX-512 F for the 16-lane builds; AVX2 for the 8-lane one).
inline Isa cpu_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::avx512;
  if (__builtin_cpu_supports("avx2")) return Isa::avx2;
  return Isa::baseline;
}

// "baseline", "avx2", "avx512" -> the set, capped at what the CPU runs; anything else -> -1.
inline int parse_isa(const char* name) {
  const Isa cpu = cpu_isa();
  for (Isa i : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (std::strcmp(name, isa_name(i)) == 0) return int(i) < int(cpu) ? int(i) : int(cpu);
  return -1;
}

inline Isa& active_isa_ref() {
  static Isa isa = [] {
    const char* e = std::getenv("NTH_ISA");
    const int p = e && *e ? parse_isa(e) : -1;
    return p >= 0 ? Isa(p) : cpu_isa();
  }();
  return isa;
}
inline Isa active_isa() { return active_isa_ref(); }

// Switches the kernels to `name` (capped at the CPU's best); returns false for an unknown name.
inline bool set_isa(const char* name) {
  const int p = parse_isa(name);
  if (p < 0) return false;
  active_isa_ref() = Isa(p);
  return true;
}

// Convolutions in bfloat16 (inputs and weights rounded to bf16, sums and outputs in f32: oneDNN's
// AVX-512 BF16 kernels, ~2x the f32 multiply rate): off unless asked for, and only where the CPU
// has AVX-512 BF16. Inference asks for the forward pass (src/engine/precision.ts); training with
// --precision bf16 for all three passes (the weights stay f32: rounded per call). Winograd
// convolutions stay f32 either way.
inline bool cpu_has_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
}
inline bool& bf16_forward_ref() {
  static bool on = false;
  return on;
}
inline bool& bf16_backward_ref() {
  static bool on = false;
  return on;
}
inline bool bf16_forward() { return bf16_forward_ref() || bf16_backward_ref(); }
inline bool bf16_backward() { return bf16_backward_ref(); }
// Returns false (and changes nothing) when bf16 is asked for on a CPU without it.
inline bool set_bf16_forward(bool on) {
  if (on && !cpu_has_bf16()) return false;
  bf16_forward_ref() = on;
  return true;
}
// All three passes (training); returns false on a CPU without AVX-512 BF16.
inline bool set_bf16_training(bool on) {
  if (on && !cpu_has_bf16()) return false;
  bf16_backward_ref() = on;
  return true;
}

}  // namespace nth
