#!/usr/bin/env bash
# The README's verdict table and report: SmolLM2-135M-Instruct BF16 against its W4A16 (RTN, group 64),
# NVFP4A16 and FP8_DYNAMIC checkpoints (lm_head kept), in one `lowbit eval A B C --base BF16` run:
# perplexity and KLD on WikiText-2 test, HellaSwag and Winogrande (llama.cpp's first N tasks),
# ARC-Challenge and MMLU 0-shot (N drawn with the fixed seed), and the custom eval
# bench/smollm2-evals.jsonl, each difference with its paired verdict; each model's HTML report in
# OUT/reports/, and a screenshot of the W4A16 page (headless Chromium).
#
#   bench/eval_schemes_smollm2.sh [--limit 100] [--tasks hellaswag,winogrande,arc-challenge,mmlu]
#                                 [--chunks 16] [--threads $(nproc)] [--out DIR]
#
# Needs: build/lowbit, the SmolLM2 fixture (tests/fixtures/smollm2.py), ../shared/data
# (wikitext-2-raw-test.txt, benchmarks/), chromium for the screenshot (scripts/install-deps.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
limit=100 tasks=hellaswag,winogrande,arc-challenge,mmlu chunks=16 threads="$(nproc)" out="${TMPDIR:-/tmp}/lowbit-bench-schemes"
while [ $# -gt 0 ]; do
  case "$1" in
    --limit) limit="$2"; shift 2 ;;
    --tasks) tasks="$2"; shift 2 ;;
    --chunks) chunks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
data="$root/../shared/data" prompts="$root/bench/smollm2-evals.jsonl"
[ -f "$data/wikitext-2-raw-test.txt" ] && [ -d "$data/benchmarks" ] || { echo "no shared data at $data" >&2; exit 2; }
build="${LOWBIT_BUILD:-$root/build}" lowbit="${LOWBIT_BUILD:-$root/build}/lowbit"
venv="$("$root/scripts/compat-venv.sh")"
smol="$("$venv/bin/python" "$root/tests/fixtures/smollm2.py" | tail -1)"
mkdir -p "$out"
for s in "W4A16 --group-size 64" NVFP4A16 FP8_DYNAMIC; do
  name="$(echo "$s" | cut -d' ' -f1)"
  [ -d "$out/$name" ] || "$lowbit" quantize "$smol" -o "$out/$name" --scheme $s --ignore lm_head --progress off >/dev/null
done
opts=(--base "$smol" --text "$data/wikitext-2-raw-test.txt" --chunks "$chunks"
      --task "$tasks" --limit "$limit" --data "$data/benchmarks"
      --prompts "$prompts" --threads "$threads")
echo "SmolLM2-135M-Instruct, $threads threads, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "\$ lowbit eval W4A16 NVFP4A16 FP8_DYNAMIC ${opts[*]}"
start=$(date +%s)
rm -rf "$out/reports"
"$lowbit" eval "$out/W4A16" "$out/NVFP4A16" "$out/FP8_DYNAMIC" "${opts[@]}" --json "$out/table.json" \
  --report "$out/reports" >"$out/table.log" 2>&1 || rc=$?
sed -n '/^base PPL/,$p' "$out/table.log"
echo "exit ${rc:-0}, $(($(date +%s) - start)) s"
if command -v chromium >/dev/null; then
  chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$out/chromium-profile" \
    --screenshot="$out/report.png" --window-size=1100,1900 "file://$out/reports/W4A16.html" >/dev/null 2>&1
  echo "reports: $out/reports/, screenshot of W4A16.html: $out/report.png"
else
  echo "reports: $out/reports/ (no chromium for the screenshot)"
fi
