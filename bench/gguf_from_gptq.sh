#!/usr/bin/env bash
# GPTQ's and AWQ's codes in GGUF files, next to llama-quantize's own rounding, on SmolLM2-135M.
# For each type of --types (llama-quantize's ftype names): (a) llama-quantize, (b) llama-quantize
# --imatrix (llama-imatrix on the calibration text), (c) lowbit --calib (its own imatrix: the same
# search), (d) lowbit --method gptq (GPTQ onto each tensor's GGUF type: the imatrix search's
# scales, levels re-picked with error feedback). For Q4_0 also (e) lowbit RTN / GPTQ / AWQ W4A16
# symmetric group 32 (a Q4_0 grid) carried into Q4_0 by `lowbit quantize CT_DIR --gguf-type Q4_0`
# (--methods). All share llama-quantize's mix for the type and are scored by llama-perplexity
# --kl-divergence against the BF16 GGUF on the first N chunks of 512 tokens of WikiText-2 test:
# file size, PPL, mean KLD, same top token, wall time to make it.
#
#   bench/gguf_from_gptq.sh [--types "Q4_0 Q4_K_M"] [--chunks 40] [--samples 64] [--threads $(nproc)]
#                           [--methods "rtn gptq gptq+imatrix_mse awq"]   (--methods "" skips (e))
#   (AWQ's grid search is the slow one: about 0.1 s per calibration token on 2 cores)
#
# Needs: build/lowbit, the SmolLM2 fixture, llama.cpp from scripts/llama-cpp.sh, the shared data.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
chunks=40 samples=64 threads="$(nproc)" methods="rtn gptq gptq+imatrix_mse awq" types="Q4_0"
text="$root/../shared/data/wikitext-2-raw-test.txt" chat="$root/../shared/data/chat-calib.jsonl"
while [ $# -gt 0 ]; do
  case "$1" in
    --chunks) chunks="$2"; shift 2 ;;
    --samples) samples="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --types) types="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
. "$root/bench/common.sh" lowbit-bench-gguf-gptq
lowbit="$build/lowbit"
[ -f "$work/bf16.gguf" ] || to_gguf "$smol" "$work/bf16.gguf"
"$venv/bin/python" -c "import json,sys
with open(sys.argv[2], 'w') as out:
    for line in open(sys.argv[1]):
        for m in json.loads(line)['messages']: out.write(m['content'] + '\n\n')" "$chat" "$work/chat.txt"
"$bin/llama-perplexity" -m "$work/bf16.gguf" -f "$text" -c 512 --chunks "$chunks" -t "$threads" \
  --kl-divergence-base "$work/base.kld" >/dev/null 2>&1

timed() {  # timed LABEL CMD...: runs it, keeps its wall time in $work/LABEL.time
  local label="$1"; shift
  /usr/bin/time -f '%e' -o "$work/$label.time" "$@" >"$work/$label.log" 2>&1
}
score() {  # score LABEL FILE [TIMED-LABEL]: one table row
  "$bin/llama-perplexity" -m "$2" -f "$text" -c 512 --chunks "$chunks" -t "$threads" --kl-divergence \
    --kl-divergence-base "$work/base.kld" >"$work/$1.kld.log" 2>&1
  local ppl kld top
  ppl="$(grep -oE 'Mean PPL\(Q\) *: *[0-9.]+' "$work/$1.kld.log" | grep -oE '[0-9.]+$')"
  kld="$(grep -oE 'Mean +KLD: +[0-9.]+' "$work/$1.kld.log" | grep -oE '[0-9.]+$')"
  top="$(grep -oE 'Same top p: +[0-9.]+' "$work/$1.kld.log" | grep -oE '[0-9.]+$')"
  printf '%-40s %7.2f MB %9s %10s %8s %%  %7s s\n' "$1" "$(du -b "$2" | cut -f1)e-6" "$ppl" "$kld" "$top" \
    "$(cat "$work/${3:-$1}.time" 2>/dev/null || echo -)"
}

printf '%-40s %10s %9s %10s %10s %9s\n' file size PPL "mean KLD" "same top" "made in"
timed llama-imatrix "$bin/llama-imatrix" -m "$work/bf16.gguf" -f "$work/chat.txt" -c 512 --chunks "$samples" \
  -t "$threads" -o "$work/chat.imatrix.gguf"
calib=(--calib "$work/chat.txt" --samples "$samples" --seq-len 512)
for t in $types; do
  timed "lq-$t" "$bin/llama-quantize" "$work/bf16.gguf" "$work/lq-$t.gguf" "$t" "$threads"
  score "$t llama-quantize" "$work/lq-$t.gguf" "lq-$t"
  timed "lqi-$t" "$bin/llama-quantize" --imatrix "$work/chat.imatrix.gguf" "$work/bf16.gguf" "$work/lqi-$t.gguf" \
    "$t" "$threads"
  score "$t llama-quantize --imatrix" "$work/lqi-$t.gguf" "lqi-$t"
  timed "li-$t" "$lowbit" quantize "$smol" -o "$work/li-$t.gguf" --gguf-type "$t" "${calib[@]}" --progress off \
    --overwrite
  score "$t lowbit --calib" "$work/li-$t.gguf" "li-$t"
  timed "lg-$t" "$lowbit" quantize "$smol" -o "$work/lg-$t.gguf" --gguf-type "$t" --method gptq "${calib[@]}" \
    --progress off --overwrite
  score "$t lowbit --method gptq" "$work/lg-$t.gguf" "lg-$t"
done
case " $types " in *" Q4_0 "*) ;; *) methods="" ;; esac
common=(--scheme W4A16 --group-size 32 --ignore lm_head --no-report --progress off --overwrite)
for m in $methods; do
  name="ct-$m"
  case "$m" in
    rtn) extra=() ;;
    *+imatrix_mse) extra=(--method "${m%+imatrix_mse}" --observer imatrix_mse "${calib[@]}") ;;
    *) extra=(--method "$m" "${calib[@]}") ;;
  esac
  timed "$name" "$lowbit" quantize "$smol" -o "$work/$name" "${common[@]}" "${extra[@]}"
  "$lowbit" quantize "$work/$name" -o "$work/$name.gguf" --gguf-type Q4_0 --progress off --overwrite \
    >"$work/$name.gguf.log" 2>&1
  grep -q "kept their codes" "$work/$name.gguf.log" || { echo "$name: codes not kept" >&2; cat "$work/$name.gguf.log" >&2; }
  score "lowbit W4A16 g32 $m -> Q4_0" "$work/$name.gguf" "$name"
done
