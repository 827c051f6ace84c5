#!/usr/bin/env bash
# Side by side: `lowbit eval` and llama.cpp's llama-perplexity on SmolLM2-135M, same text,
# context (512), chunks and threads. Prints wall time, tokens/s (chunks x ctx / wall, model
# load and tokenization included for both), peak RSS and PPL, and lowbit's speed ratio.
#
#   bench/eval_vs_llama_cpp.sh [--chunks 16] [--threads $(nproc)] [--text FILE]
#
# Needs: build/lowbit, the SmolLM2 fixture (tests/fixtures/smollm2.py), llama.cpp from
# scripts/llama-cpp.sh, and WikiText-2 (default ../shared/data/wikitext-2-raw-test.txt).
# BF16 runs the same weights in both tools. lowbit W4A16 (group 64: SmolLM2's 576 columns
# are not a multiple of 128) is set beside llama.cpp's own 4-bit Q4_0 and Q4_K_M
# (quantized by llama-quantize from the same BF16 GGUF); those are different formats, so
# compare their speed, not their PPL, with ours. "lowbit Q4_K_M (GGUF)" is `lowbit eval` on the
# very Q4_K_M file llama-perplexity reads (its k-quant tiles decoded by ggml's decoder as the
# GEMM needs them): the same weights, so the two PPLs must agree within 1 %.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
chunks=16 threads="$(nproc)" text="$root/../shared/data/wikitext-2-raw-test.txt"
while [ $# -gt 0 ]; do
  case "$1" in
    --chunks) chunks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --text) text="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$text" ] || { echo "no text at $text (see README: WikiText-2)" >&2; exit 2; }
. "$root/bench/common.sh" lowbit-bench-eval
lowbit="$build/lowbit" model="$smol"
[ -f "$work/bf16.gguf" ] || to_gguf "$model" "$work/bf16.gguf"
for q in Q4_0 Q4_K_M; do
  [ -f "$work/$q.gguf" ] || "$bin/llama-quantize" "$work/bf16.gguf" "$work/$q.gguf" "$q" "$threads" >/dev/null 2>&1
done
rm -rf "$work/w4a16"
"$lowbit" quantize "$model" -o "$work/w4a16" --scheme W4A16 --group-size 64 --ignore lm_head >/dev/null 2>&1

tokens=$((chunks * 512))
# run NAME CMD...: prints one table row; sets $wall and $ppl for the ratios.
run() {
  local name="$1"; shift
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>&1
  read -r wall rss <"$work/time"
  ppl="$(grep -oE '(Final estimate: PPL = |^PPL +)[0-9.]+' "$work/out" | grep -oE '[0-9.]+$' | tail -1)"
  awk -v n="$name" -v w="$wall" -v t="$tokens" -v r="$rss" -v p="$ppl" \
    'BEGIN { printf "%-20s %8.2f s %9.1f tok/s %8.0f MB   PPL %s\n", n, w, t / w, r / 1024, p }'
}
echo "SmolLM2-135M, $chunks chunks x 512 tokens, $threads threads, $(basename "$text")"
lp() { run "$1" "$bin/llama-perplexity" -m "$2" -f "$text" -c 512 --chunks "$chunks" -t "$threads"; }
lb() { run "$1" "$lowbit" eval "$2" --text "$text" --chunks "$chunks" --threads "$threads"; }
lp "llama.cpp BF16" "$work/bf16.gguf"; ref_bf16="$wall"
lb "lowbit BF16" "$model"; ours_bf16="$wall"
lp "llama.cpp Q4_0" "$work/Q4_0.gguf"; ref_q4="$wall"
lp "llama.cpp Q4_K_M" "$work/Q4_K_M.gguf"; ref_qk="$wall"; ppl_ref_qk="$ppl"
lb "lowbit Q4_K_M (GGUF)" "$work/Q4_K_M.gguf"; ours_qk="$wall"; ppl_ours_qk="$ppl"
lb "lowbit W4A16 g64" "$work/w4a16"; ours_w4="$wall"
awk -v a="$ref_bf16" -v b="$ours_bf16" -v c="$ref_q4" -v d="$ours_w4" -v e="$ref_qk" -v f="$ours_qk" 'BEGIN {
  printf "speed ratio lowbit / llama.cpp: BF16 %.2fx, W4A16 vs Q4_0 %.2fx, Q4_K_M file %.2fx; lowbit W4A16 / BF16 %.2fx\n",
    a / b, c / d, e / f, b / d }'
awk -v a="$ppl_ref_qk" -v b="$ppl_ours_qk" 'BEGIN {
  d = 100 * (b - a) / a; printf "Q4_K_M PPL: lowbit %s, llama.cpp %s (%+.2f %%)\n", b, a, d
  if (d > 1 || d < -1) { print "error: the two tools disagree by more than 1 % on the same file" > "/dev/stderr"; exit 1 } }'
