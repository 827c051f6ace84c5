#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ASan/UBSan) and runs each from the seed
# corpus in fuzz/corpus: `fuzz.sh 300` for 300 s each (exploration), `fuzz.sh --runs N`
# for N deterministic executions each (seed 1; what `make test` runs). Failing inputs
# are saved in the sanitizer build folder (build-asan/); turn each into a unit test named after what it broke.
set -euo pipefail
# Undefined behaviour (e.g. a float-to-int overflow) stops the run like a crash does.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--runs" ]; then limit="-runs=${2:?} -seed=1"; what="${2} runs"
else limit="-max_total_time=${1:-30}"; what="${1:-30}s"; fi
build="${ASAN_BUILD:-build-asan}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
targets=()
for f in "$root"/fuzz/fuzz_*.cc; do targets+=("$(basename "$f" .cc)"); done
"$root/scripts/sanitizer-build.sh" "${targets[@]}"
for target in "${targets[@]}"; do
  t="${target#fuzz_}"
  work="$build/corpus-$t"
  mkdir -p "$work"
  echo "fuzz_$t: $what"
  (cd "$build" && ./fuzz_$t $limit -max_len=4096 -print_final_stats=1 \
     "$work" "$root/fuzz/corpus/$t" 2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss|==|SUMMARY)' || true)
  found=$(find "$build" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \) | head -1)
  if [ -n "$found" ]; then echo "fuzz_$t: failing input saved as $found" >&2; exit 1; fi
done
echo "fuzz: no crashes"
