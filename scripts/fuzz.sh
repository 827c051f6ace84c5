#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (+ASan/UBSan) and runs each from the seed
# corpus in fuzz/corpus: `fuzz.sh 300` for 300 s each (exploration), `fuzz.sh --runs N`
# for N deterministic executions each (seed 1; what `make test` runs). Failing inputs
# are saved in build-fuzz/; turn each into a unit test named after what it broke.
set -euo pipefail
# Undefined behaviour (e.g. a float-to-int overflow) stops the run like a crash does.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${1:-}" = "--runs" ]; then limit="-runs=${2:?} -seed=1"; what="${2} runs"
else limit="-max_total_time=${1:-30}"; what="${1:-30}s"; fi
cmake -S "$root" -B "$root/build-fuzz" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLOWBIT_FUZZ=ON -DLOWBIT_BUILD_TESTS=OFF -DLOWBIT_BUILD_BENCH=OFF >/dev/null
cmake --build "$root/build-fuzz" -j "$(nproc)" --target fuzz_safetensors fuzz_recipe fuzz_config fuzz_tokenizer fuzz_logprobs fuzz_chat_template fuzz_gguf
for t in safetensors recipe config tokenizer logprobs chat_template gguf; do
  work="$root/build-fuzz/corpus-$t"
  mkdir -p "$work"
  echo "fuzz_$t: $what"
  (cd "$root/build-fuzz" && ./fuzz_$t $limit -max_len=4096 -print_final_stats=1 \
     "$work" "$root/fuzz/corpus/$t" 2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss|==|SUMMARY)' || true)
  found=$(find "$root/build-fuzz" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \) | head -1)
  if [ -n "$found" ]; then echo "fuzz_$t: failing input saved as $found" >&2; exit 1; fi
done
echo "fuzz: no crashes"
