#!/usr/bin/env bash
# lowbit against llm-compressor 0.14.0.1 on the same job, side by side on this machine:
# SmolLM2-135M-Instruct BF16 -> W4A16 (int4 symmetric, group 64, lm_head kept) by round-to-nearest,
# GPTQ and AWQ (lowbit also with the imatrix_mse observer), calibrated on the very same tokens
# (N windows of L tokens of PTB valid, written as an input_ids JSONL file both tools read), both
# on the CPU with the same threads. Each run's wall time and peak RSS (/usr/bin/time), then every
# checkpoint evaluated by `lowbit eval` against the BF16 model on the first C chunks of 512 tokens
# of WikiText-2 test: PPL, dPPL, mean KLD, same top token. The README's side-by-side table.
#
#   bench/gptq_awq_vs_llm_compressor.sh [--samples 128] [--seq-len 512] [--chunks 16] [--threads 2]
#       [--methods rtn,gptq,awq] [--tools lowbit,llmc] [--awq-search-tokens 16384,0]
# --awq-search-tokens: one lowbit AWQ row per value (0: every token scores the candidates, as
# llm-compressor does; default: lowbit's default only).
# llm-compressor's AWQ needs a GPU driver for pin_memory(); the driver (llm_compressor_run.py) makes
# that call a no-op so that it runs on a CPU at all. Logs: $TMPDIR/lowbit-bench-llmc/*.log.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
samples=128 seq=512 chunks=16 threads=2 methods=rtn,gptq,awq tools=lowbit,llmc awq_tokens=""
data="$root/../shared/data"
while [ $# -gt 0 ]; do
  case "$1" in
    --samples) samples="$2"; shift 2 ;;
    --seq-len) seq="$2"; shift 2 ;;
    --chunks) chunks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --tools) tools="$2"; shift 2 ;;
    --awq-search-tokens) awq_tokens="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
build="${LOWBIT_BUILD:-$root/build}"
lowbit="$build/lowbit"
venv="$("$root/scripts/compat-venv.sh")"
smol="$("$venv/bin/python" "$root/tests/fixtures/smollm2.py" | tail -1)"
awq_tokens="${awq_tokens//,/ }"
case ",$tools," in *,llmc,*) llmc="$("$root/bench/llm-compressor-venv.sh")" ;; *) llmc="" ;; esac
work="${TMPDIR:-/tmp}/lowbit-bench-llmc"
mkdir -p "$work"
export OMP_NUM_THREADS="$threads"
text="$data/wikitext-2-raw-test.txt"

# The calibration tokens: the first N windows of L tokens of PTB valid, by the model's own tokenizer.
"$venv/bin/python" - "$smol" "$data/ptb-valid.txt" "$samples" "$seq" "$work/ids.jsonl" <<'PY'
import json, sys
from transformers import AutoTokenizer
model, text, n, L, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ids = AutoTokenizer.from_pretrained(model)(open(text).read())["input_ids"]
wins = [ids[i:i + L] for i in range(0, len(ids) - L + 1, L)][:n]
if len(wins) < n:
    sys.exit(f"{text} has only {len(wins)} windows of {L} tokens")
with open(out, "w") as f:
    for w in wins:
        f.write(json.dumps({"input_ids": w}) + "\n")
PY

field() { "$venv/bin/python" -c "import json,sys; j=json.load(open(sys.argv[1])); print(' '.join(str(j.get(k, '')) for k in sys.argv[2:]))" "$@"; }
"$lowbit" eval "$smol" --text "$text" --chunks "$chunks" --threads "$threads" --save-logits "$work/base.lp" \
  --json "$work/bf16.json" >/dev/null 2>&1
read -r base_ppl _ < <(field "$work/bf16.json" ppl ppl_stderr)
echo "SmolLM2-135M-Instruct BF16 -> W4A16 g64, lm_head kept; calibration $samples x $seq tokens of PTB valid;"
echo "$threads threads on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs));" \
     "evaluated on $chunks x 512 tokens of WikiText-2 test (BF16 PPL $(printf %.2f "$base_ppl"))"
printf '%-16s %-22s %9s %9s %16s %7s %9s %9s\n' tool method "wall s" "peak MB" PPL dPPL "mean KLD" "same top"

# row TOOL METHOD NAME CMD...: times CMD (which writes $work/NAME), evaluates it, prints a row.
row() {
  local tool="$1" method="$2" name="$3"
  shift 3
  rm -rf "${work:?}/$name"
  /usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" >"$work/$name.log" 2>&1 || {
    printf '%-16s %-22s failed: see %s\n' "$tool" "$method" "$work/$name.log"; tail -3 "$work/$name.log"; return 0; }
  read -r wall rss <"$work/$name.time"
  "$lowbit" eval "$work/$name" --text "$text" --chunks "$chunks" --threads "$threads" --base-logits "$work/base.lp" \
    --json "$work/$name.json" >>"$work/$name.log" 2>&1
  read -r ppl se kld top < <(field "$work/$name.json" ppl ppl_stderr mean_kld top1_agreement)
  printf '%-16s %-22s %9.1f %9.0f %8.2f +/- %4.2f %+7.2f %9.4f %8.1f%%\n' "$tool" "$method" "$wall" "$((rss / 1024))" \
    "$ppl" "$se" "$(awk -v a="$ppl" -v b="$base_ppl" 'BEGIN { print a - b }')" "$kld" \
    "$(awk -v t="$top" 'BEGIN { print t * 100 }')"
}

calib="--calib $work/ids.jsonl --samples $samples --seq-len $seq"
common=(--scheme W4A16 --group-size 64 --ignore lm_head --threads "$threads" --progress off --no-report)
for m in ${methods//,/ }; do
  if [ -n "$llmc" ]; then
    row "llm-compressor" "$m" "llmc-$m" "$llmc/bin/python" "$root/bench/llm_compressor_run.py" "$smol" "$work/ids.jsonl" \
      "$work/llmc-$m" --method "$m" --group 64 --threads "$threads"
  fi
  case ",$tools," in *,lowbit,*) ;; *) continue ;; esac
  # shellcheck disable=SC2086
  case "$m" in
    rtn) row lowbit rtn lowbit-rtn "$lowbit" quantize "$smol" -o "$work/lowbit-rtn" "${common[@]}"
         row lowbit "rtn + imatrix_mse" lowbit-rtn-imx "$lowbit" quantize "$smol" -o "$work/lowbit-rtn-imx" \
           "${common[@]}" --observer imatrix_mse $calib ;;
    awq*) for n in ${awq_tokens:-default}; do
         extra=() label="$m" name="lowbit-$m"
         [ "$n" = default ] || { extra=(--awq-search-tokens "$n"); label="$m (search $n tok)"; name="lowbit-$m-s$n"; }
         row lowbit "$label" "$name" "$lowbit" quantize "$smol" -o "$work/$name" "${common[@]}" --method "$m" \
           "${extra[@]}" $calib
         row lowbit "$label + imatrix_mse" "$name-imx" "$lowbit" quantize "$smol" -o "$work/$name-imx" \
           "${common[@]}" --method "$m" "${extra[@]}" --observer imatrix_mse $calib
       done ;;
    *) row lowbit "$m" "lowbit-$m" "$lowbit" quantize "$smol" -o "$work/lowbit-$m" "${common[@]}" --method "$m" $calib
       row lowbit "$m + imatrix_mse" "lowbit-$m-imx" "$lowbit" quantize "$smol" -o "$work/lowbit-$m-imx" "${common[@]}" \
         --method "$m" --observer imatrix_mse $calib ;;
  esac
done
