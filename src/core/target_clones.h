// Hot loops are compiled once per ISA (AVX-512, AVX2, baseline x86-64) and the best
// one is picked at load time, so one portable binary runs fast everywhere. GCC
// only: clang (used for the fuzz build) does not clone templates, so it gets the baseline.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
// The x86-64 psABI levels, dispatched on CPU features: v3 = AVX2 + FMA + F16C (fast FP16
// conversions), v4 adds AVX-512. (Not arch=haswell / arch=skylake-avx512: GCC dispatches
// those on the exact CPU model, so every other CPU, AMD's included, got the baseline.)
// The build passes -ffp-contract=off, so every clone rounds exactly like the baseline.
#define LOWBIT_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LOWBIT_TARGET_CLONES
#endif
