// Hot loops are compiled once per ISA (AVX-512, AVX2, baseline x86-64) and the best
// one is picked at load time, so one portable binary runs fast everywhere. GCC
// only: clang (used for the fuzz build) does not clone templates, so it gets the baseline.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
// arch=haswell brings AVX2 with F16C and FMA (fast FP16 conversions); skylake-avx512 adds AVX-512.
#define LOWBIT_TARGET_CLONES __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#else
#define LOWBIT_TARGET_CLONES
#endif
