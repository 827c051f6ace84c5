// lowbit starts again with OMP_WAIT_POLICY=PASSIVE unless the user chose a policy: libgomp reads it
// once as it loads, and its default spinning made runs 3-17x slower on shared cores. libgomp's own
// OMP_DISPLAY_ENV=verbose shows what each start saw.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace {

// `lowbit formats` under the environment changes `env_args` (env(1) syntax), stdout and stderr.
std::string formats_with(const std::string& env_args) {
  FILE* p = popen(("env " + env_args + " OMP_DISPLAY_ENV=verbose " + LOWBIT_BINARY + " formats 2>&1").c_str(), "r");
  std::string out;
  if (!p) return out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  return out;
}

TEST(OpenMpPolicy, PassiveUnlessTheUserChose) {
  // No policy: the first start spins (GOMP_SPINCOUNT 300000), the second is PASSIVE (0).
  std::string out = formats_with("-u OMP_WAIT_POLICY -u GOMP_SPINCOUNT");
  const size_t first = out.find("GOMP_SPINCOUNT = '300000'"), second = out.find("GOMP_SPINCOUNT = '0'");
  ASSERT_NE(first, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_LT(first, second) << out;
  // The user's choice stands: one start, ACTIVE.
  out = formats_with("-u GOMP_SPINCOUNT OMP_WAIT_POLICY=ACTIVE");
  EXPECT_NE(out.find("OMP_WAIT_POLICY = 'ACTIVE'"), std::string::npos) << out;
  EXPECT_EQ(out.find("OMP_WAIT_POLICY = 'PASSIVE'"), std::string::npos) << out;
}

}  // namespace
