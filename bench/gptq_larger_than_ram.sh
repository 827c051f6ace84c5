#!/usr/bin/env bash
# GPTQ on a model larger than this machine's RAM: a generated Llama-shaped BF16 model (hidden 2048,
# intermediate 2048, 16 heads, 4 KV heads: 46 MB a layer, so many layers reach the size cheaply) of
# --gb GB in 6 shards, quantized W4A16 g128 by GPTQ on a few samples. The weights stream from the
# memory map one layer at a time (pages released after each layer), so peak RSS stays near one
# layer plus the Hessians, whatever the model's size. Prints the model size against MemTotal, the
# run's wall time and peak RSS. Needs --gb x 1.3 GB of free disk under $TMPDIR.
#
#   bench/gptq_larger_than_ram.sh [--gb 28 | --layers N] [--samples 1] [--seq-len 64] [--threads 2] [--keep]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
gb=28 layers=0 samples=1 seq=64 threads=2 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --gb) gb="$2"; shift 2 ;;
    --layers) layers="$2"; shift 2 ;;
    --samples) samples="$2"; shift 2 ;;
    --seq-len) seq="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
build="${LOWBIT_BUILD:-$root/build}"
work="${TMPDIR:-/tmp}/lowbit-bench-big"
mkdir -p "$work"
[ "$layers" -gt 0 ] || layers=$(( gb * 1000 / 46 ))
if [ "$(cat "$work/model.layers" 2>/dev/null)" != "$layers" ]; then
  rm -rf "$work/model"
  "$build/make-tiny-model" "$work/model" --arch llama --hidden 2048 --intermediate 2048 --layers "$layers" \
    --heads 16 --kv-heads 4 --vocab 512 --tokenizer --shards 6 >/dev/null
  echo "$layers" > "$work/model.layers"
fi
model_mb=$(du -sm "$work/model" | cut -f1)
ram_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 ))
rm -rf "$work/out"
export OMP_NUM_THREADS="$threads" OMP_WAIT_POLICY=PASSIVE
/usr/bin/time -f '%e %M' -o "$work/time" "$build/lowbit" quantize "$work/model" -o "$work/out" --scheme W4A16 \
  --ignore lm_head --method gptq --calib "$root/../shared/data/wikitext-2-raw-test.txt" --samples "$samples" \
  --seq-len "$seq" --threads "$threads" --progress off --no-report >"$work/log" 2>&1 || { tail -5 "$work/log"; exit 1; }
read -r wall rss <"$work/time"
echo "model: $layers layers, $model_mb MB BF16 on disk; RAM (MemTotal) $ram_mb MB"
echo "GPTQ W4A16 g128 on $samples x $seq tokens, $threads threads: wall $wall s, peak RSS $((rss / 1024)) MB," \
     "output $(du -sm "$work/out" | cut -f1) MB"
grep -o 'stages over.*' "$work/log" || true
[ "$keep" = 1 ] || rm -rf "$work/out"
