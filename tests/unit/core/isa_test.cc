#include "core/isa.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using namespace lowbit;

TEST(Isa, LevelFollowsTheEnvironmentCap) {
  // ctest runs the unit tests twice, once with LOWBIT_ISA=baseline: this proves that run
  // really executes the baseline kernels.
  const char* env = std::getenv("LOWBIT_ISA");
  if (env && std::string(env) == "baseline") EXPECT_EQ(active_isa(), Isa::Baseline);
  const std::string name = isa_name(active_isa());
  EXPECT_TRUE(name == "baseline" || name == "x86-64-v3" || name == "x86-64-v4") << name;
}
