#!/usr/bin/env bash
# Side by side: multiple-choice benchmarks in `lowbit eval --task` and llama.cpp's
# llama-perplexity --hellaswag / --winogrande on SmolLM2-135M BF16 (the same weights: a BF16 GGUF
# made by llama.cpp's converter), the same first N tasks of llama.cpp's order and the same
# threads. Prints wall time, tasks/s (model load and tokenization included for both), peak RSS
# and the accuracy each prints, and lowbit's speed ratio. llama-perplexity runs with its
# defaults (-c 512, 4 parallel sequences: one HellaSwag or two Winogrande tasks per batch).
#
#   bench/mc_vs_llama_cpp.sh [--tasks 200] [--threads $(nproc)] [--data DIR]
#
# Needs: build/lowbit, the SmolLM2 fixture (tests/fixtures/smollm2.py), llama.cpp from
# scripts/llama-cpp.sh, and the benchmark files (default ../shared/data/benchmarks).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tasks=200 threads="$(nproc)" data="$root/../shared/data/benchmarks"
while [ $# -gt 0 ]; do
  case "$1" in
    --tasks) tasks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
hs="$data/hellaswag_val_full.txt" wg="$data/winogrande/winogrande-debiased-eval.csv"
[ -f "$hs" ] && [ -f "$wg" ] || { echo "no benchmark files under $data" >&2; exit 2; }
. "$root/bench/common.sh" lowbit-bench-mc
lowbit="$build/lowbit" model="$smol"
[ -f "$work/bf16.gguf" ] || to_gguf "$model" "$work/bf16.gguf"

# run NAME ACC_REGEX CMD...: prints one table row; sets $wall for the ratio.
run() {
  local name="$1" pattern="$2"; shift 2
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>&1
  read -r wall rss <"$work/time"
  local acc
  acc="$(grep -oE "$pattern" "$work/out" | tail -1 | grep -oE '[0-9]+\.[0-9]+' | head -1)"
  awk -v n="$name" -v w="$wall" -v t="$tasks" -v r="$rss" -v a="$acc" \
    'BEGIN { printf "%-28s %8.2f s %7.2f tasks/s %6.0f MB   acc %s %%\n", n, w, t / w, r / 1024, a }'
}
echo "SmolLM2-135M BF16, first $tasks tasks of llama.cpp's order, $threads threads, load $(cut -d' ' -f1-3 /proc/loadavg)"
run "llama.cpp --hellaswag" '^[0-9]+	[0-9.]+%' \
  "$bin/llama-perplexity" -m "$work/bf16.gguf" -f "$hs" --hellaswag --hellaswag-tasks "$tasks" -t "$threads"
ref_hs="$wall"
run "lowbit --task hellaswag" '^  llama\.cpp +[0-9.]+' \
  "$lowbit" eval "$model" --task hellaswag --limit "$tasks" --data "hellaswag=$hs" --threads "$threads"
ours_hs="$wall"
run "llama.cpp --winogrande" 'Final Winogrande score\([0-9]+ tasks\): [0-9.]+' \
  "$bin/llama-perplexity" -m "$work/bf16.gguf" -f "$wg" --winogrande --winogrande-tasks "$tasks" -t "$threads"
ref_wg="$wall"
run "lowbit --task winogrande" '^  llama\.cpp +[0-9.]+' \
  "$lowbit" eval "$model" --task winogrande --limit "$tasks" --data "winogrande=$wg" --threads "$threads"
ours_wg="$wall"
awk -v a="$ref_hs" -v b="$ours_hs" -v c="$ref_wg" -v d="$ours_wg" 'BEGIN {
  printf "speed ratio lowbit / llama.cpp: HellaSwag %.2fx, Winogrande %.2fx\n", a / b, c / d }'
