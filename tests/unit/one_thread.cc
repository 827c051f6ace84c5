// Unit tests run with one OpenMP thread unless OMP_NUM_THREADS says otherwise: ctest runs them
// side by side (-j), and OpenMP teams sharing cores spin at every barrier (a tiny AWQ search
// took 109 s instead of 0.7 s on a busy machine). Threaded paths run in the e2e and compat
// tiers, where the CLI uses every core.
#include <omp.h>

#include <cstdlib>

namespace {

const bool kOneThread = [] {
  if (!std::getenv("OMP_NUM_THREADS")) omp_set_num_threads(1);
  return true;
}();

}  // namespace
