#!/usr/bin/env bash
# Quality of every weight format on SmolLM2-135M-Instruct (round-to-nearest; for W4A16 also the mse
# and imatrix_mse observers, GPTQ and AWQ, calibrated on the chat set's text, 64 x 512 tokens; lm_head kept):
# size on disk, PPL, mean KLD to the BF16 model and same-top-token %, on the first N chunks of
# 512 tokens of a text (WikiText-2 test by default). The README's quality table comes from it.
#
#   bench/quality_smollm2.sh [--chunks 16] [--text FILE]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
chunks=16 text="$root/../shared/data/wikitext-2-raw-test.txt" chat="$root/../shared/data/chat-calib.jsonl"
while [ $# -gt 0 ]; do
  case "$1" in
    --chunks) chunks="$2"; shift 2 ;;
    --text) text="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -f "$text" ] || { echo "no text at $text (WikiText-2: wikitext-2-raw-v1, wiki.test.raw)" >&2; exit 2; }
build="${LOWBIT_BUILD:-$root/build}"
venv="$("$root/scripts/compat-venv.sh")"
smol="$("$venv/bin/python" "$root/tests/fixtures/smollm2.py" | tail -1)"
work="${TMPDIR:-/tmp}/lowbit-bench-quality"
rm -rf "$work" && mkdir -p "$work"
lowbit="$build/lowbit"
field() { "$venv/bin/python" -c "import json,sys; j=json.load(open(sys.argv[1])); print(' '.join(str(j.get(k, '')) for k in sys.argv[2:]))" "$@"; }
"$lowbit" eval "$smol" --text "$text" --chunks "$chunks" --save-logits "$work/base.lp" --json "$work/bf16.json" >/dev/null 2>&1
printf '%-22s %8s %16s %10s %9s\n' checkpoint MB PPL "mean KLD" "same top"
read -r ppl se < <(field "$work/bf16.json" ppl ppl_stderr)
printf '%-22s %8.0f %8.2f +/- %5.2f\n' BF16 "$(du -sb "$smol" | cut -f1)e-6" "$ppl" "$se"
"$venv/bin/python" -c "import json,sys
with open(sys.argv[2], 'w') as out:
    for line in open(sys.argv[1]):
        for m in json.loads(line)['messages']: out.write(m['content'] + '\n\n')" "$chat" "$work/chat.txt"
gptq="--method gptq --calib $work/chat.txt --samples 64 --seq-len 512"
awq="--method awq --calib $work/chat.txt --samples 64 --seq-len 512"
imx="--observer imatrix_mse --calib $work/chat.txt --samples 64 --seq-len 512"
for s in "W8A16 --group-size 64" FP8_DYNAMIC NVFP4A16 MXFP4A16 "W4A16 --group-size 64" "W4A16 --group-size 64 --observer mse" \
         "W4A16 --group-size 64 $gptq" "W4A16 --group-size 64 $imx" "W4A16 --group-size 64 --method gptq $imx" \
         "W4A16 --group-size 64 $awq" "W4A16 --group-size 64 --method awq $imx"; do
  name="$(echo "${s%% --calib*}" | tr ' ' '_')"; name="${name//--/}"
  # shellcheck disable=SC2086
  "$lowbit" quantize "$smol" -o "$work/$name" --scheme $s --ignore lm_head --no-report --progress off >/dev/null
  "$lowbit" eval "$work/$name" --text "$text" --chunks "$chunks" --base-logits "$work/base.lp" --json "$work/$name.json" \
    >/dev/null 2>&1
  read -r ppl se kld top < <(field "$work/$name.json" ppl ppl_stderr mean_kld top1_agreement)
  label="${s%% --calib*}"; label="${label/ --group-size /, g}"; label="${label/ --method /, }"
  label="${label/ --observer /, }"
  printf '%-22s %8.0f %8.2f +/- %5.2f %10.4f %8.1f%%\n' "$label" "$(du -sb "$work/$name" | cut -f1)e-6" \
    "$ppl" "$se" "$kld" "$(awk -v t="$top" 'BEGIN { print t * 100 }')"
done
