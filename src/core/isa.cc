#include "core/isa.h"

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace lowbit {

namespace {
Isa detect() {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  __builtin_cpu_init();
  Isa best = __builtin_cpu_supports("x86-64-v4")   ? Isa::V4
             : __builtin_cpu_supports("x86-64-v3") ? Isa::V3
                                                   : Isa::Baseline;
#else
  Isa best = Isa::Baseline;
#endif
  const char* env = std::getenv("LOWBIT_ISA");
  if (!env || !*env || std::string_view(env) == "auto") return best;
  const std::string_view e(env);
  Isa cap = e == "baseline" ? Isa::Baseline : e == "x86-64-v3" ? Isa::V3 : e == "x86-64-v4" ? Isa::V4 : best;
  if (e != "baseline" && e != "x86-64-v3" && e != "x86-64-v4")
    std::fprintf(stderr, "warning: LOWBIT_ISA=%s is not baseline, x86-64-v3 or x86-64-v4; using %s\n", env,
                 isa_name(best));
  return int(cap) < int(best) ? cap : best;
}
}  // namespace

Isa active_isa() {
  static const Isa isa = detect();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::V4: return "x86-64-v4";
    case Isa::V3: return "x86-64-v3";
    default: return "baseline";
  }
}

}  // namespace lowbit
