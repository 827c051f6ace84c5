// Runtime ISA dispatch for hot kernels: each kernel is compiled for the x86-64 psABI levels
// v4 (AVX-512), v3 (AVX2 + FMA + F16C) and the baseline, and calls run the best level the CPU
// has. The environment variable LOWBIT_ISA=baseline|x86-64-v3|x86-64-v4 caps the level (a
// level the CPU lacks falls back to the best it has), so tests run the baseline code on any
// machine. The build passes -ffp-contract=off, so every level rounds exactly alike; only the
// speed differs. (GCC's target_clones would pick the level by itself, with no way to force one.)
//
//   LOWBIT_KERNEL(void, bf16_run, (const uint16_t* s, size_t n, float* d), (s, n, d)) { ...body... }
//
// declares a static function `bf16_run` with that body, at namespace scope;
// LOWBIT_MEMBER_KERNEL does the same for a static member of a class (or class template).
// GCC on x86-64 only; elsewhere (and under clang, used for the fuzz build) the body is
// compiled once for the baseline.
#pragma once

namespace lowbit {

enum class Isa { Baseline, V3, V4 };

// The level kernels run at: detected once, capped by LOWBIT_ISA.
Isa active_isa();
const char* isa_name(Isa isa);  // "baseline", "x86-64-v3", "x86-64-v4"

}  // namespace lowbit

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LOWBIT_KERNEL_VARIANTS_(ret, name, params, args)                                                   \
  [[gnu::target("arch=x86-64-v4"), gnu::flatten]] static ret name##_v4 params { return name##_body args; } \
  [[gnu::target("arch=x86-64-v3"), gnu::flatten]] static ret name##_v3 params { return name##_body args; } \
  [[gnu::flatten]] static ret name##_v1 params { return name##_body args; }                                \
  static ret name params {                                                                                 \
    switch (::lowbit::active_isa()) {                                                                      \
      case ::lowbit::Isa::V4: return name##_v4 args;                                                       \
      case ::lowbit::Isa::V3: return name##_v3 args;                                                       \
      default: return name##_v1 args;                                                                      \
    }                                                                                                      \
  }                                                                                                        \
  [[gnu::always_inline]] static inline ret name##_body params
#define LOWBIT_KERNEL(ret, name, params, args)               \
  [[gnu::always_inline]] static inline ret name##_body params; \
  LOWBIT_KERNEL_VARIANTS_(ret, name, params, args)
#define LOWBIT_MEMBER_KERNEL(ret, name, params, args) LOWBIT_KERNEL_VARIANTS_(ret, name, params, args)
#else
#define LOWBIT_KERNEL(ret, name, params, args) static ret name params
#define LOWBIT_MEMBER_KERNEL(ret, name, params, args) static ret name params
#endif
