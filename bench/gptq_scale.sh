#!/usr/bin/env bash
# GPTQ at scale, on generated Llama-shaped BF16 models (random weights, a byte-level tokenizer;
# the time does not depend on the values):
#  1. 7B projection: a model of L layers shaped like Llama-3-8B's (hidden 4096, intermediate
#     14336, 32 heads, 8 KV heads), calibrated with S samples of 2048 tokens of PTB valid. The
#     stage line gives each stage's time and GFLOP/s; the projection scales the per-sample stages
#     (forwards, X^T X) to 512 samples and 32 layers, the GPTQ solver to 32 layers, and divides by
#     the core ratio (32 / threads: the same GFLOP/s per core, which BLAS-bound stages keep).
#  2. Larger than its memory: a model of --big-gb GB quantized by GPTQ inside a memory cgroup
#     limited to --limit-mb (cgroup v1 or v2, as root): the weights stream from the memory map,
#     one layer at a time, so it completes with peak RSS far below the model's size.
#
#   bench/gptq_scale.sh [--layers 2] [--samples 8] [--threads 2] [--big-gb 4] [--limit-mb 1536] [--skip 7b|big]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
layers=2 samples=8 threads=2 big_gb=4 limit_mb=1536 skip=""
while [ $# -gt 0 ]; do
  case "$1" in
    --layers) layers="$2"; shift 2 ;;
    --samples) samples="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --big-gb) big_gb="$2"; shift 2 ;;
    --limit-mb) limit_mb="$2"; shift 2 ;;
    --skip) skip="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
build="${LOWBIT_BUILD:-$root/build}"
work="${TMPDIR:-/tmp}/lowbit-bench-scale"
ptb="$root/../shared/data/ptb-valid.txt"
mkdir -p "$work"
export OMP_NUM_THREADS="$threads"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

if [ "$skip" != 7b ]; then
  m="$work/llama8b-${layers}l"
  [ -f "$m/config.json" ] || "$build/make-tiny-model" "$m" --arch llama --hidden 4096 --intermediate 14336 \
    --layers "$layers" --heads 32 --kv-heads 8 --vocab 512 --tokenizer --dtype bf16 >/dev/null
  rm -rf "$work/out-8b"
  /usr/bin/time -f '%e %M' -o "$work/8b.time" "$build/lowbit" quantize "$m" -o "$work/out-8b" --scheme W4A16 \
    --method gptq --calib "$ptb" --samples "$samples" --seq-len 2048 --ignore lm_head --threads "$threads" \
    --progress lines >"$work/8b.log" 2>&1
  read -r wall rss <"$work/8b.time"
  stages="$(grep -o 'stages over.*' "$work/8b.log")"
  echo "Llama-3-8B-shaped layers: $layers layers, $samples x 2048 tokens, $threads threads ($cpu)"
  echo "  wall $wall s, peak RSS $((rss / 1024)) MB"
  echo "  $stages"
  # Seconds of each stage from the stage line; per-sample stages scale with samples x layers.
  python3 - "$stages" "$layers" "$samples" "$threads" <<'PY'
import re, sys
line, layers, samples, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t = {name.strip(): float(s) for name, s in re.findall(r"([A-Za-z^ ]+?) ([\d.]+) s", line.split(":", 1)[1])}
per_sample = sum(v for k, v in t.items() if k != "GPTQ")
solver = t.get("GPTQ", 0.0)
full = per_sample * (512 / samples) * (32 / layers) + solver * (32 / layers)
for cores in (threads, 32):
    print(f"  projected Llama-3-8B (32 layers), 512 x 2048 samples, {cores} cores: "
          f"{full * threads / cores / 60:.1f} min (forwards and X^T X {per_sample * (512 / samples) * (32 / layers) * threads / cores / 60:.1f} min,"
          f" GPTQ solver {solver * (32 / layers) * threads / cores / 60:.1f} min)")
PY
fi

if [ "$skip" != big ]; then
  # Layers of hidden 2048 / intermediate 5632 (TinyLlama's): ~90 MB each in BF16.
  n=$(python3 -c "print(max(2, round($big_gb * 1e9 / (2 * (2*2048*2048 + 2*2048*512 + 3*2048*5632)))))")
  m="$work/big-${n}l"
  [ -f "$m/config.json" ] || "$build/make-tiny-model" "$m" --arch llama --hidden 2048 --intermediate 5632 \
    --layers "$n" --heads 16 --kv-heads 4 --vocab 512 --tokenizer --dtype bf16 --shards 4 >/dev/null
  size_mb=$(du -sm "$m" | cut -f1)
  cg=""
  if [ -d /sys/fs/cgroup/memory ] && mkdir -p /sys/fs/cgroup/memory/lowbit-bench 2>/dev/null; then
    cg=/sys/fs/cgroup/memory/lowbit-bench
    echo $((limit_mb * 1024 * 1024)) > "$cg/memory.limit_in_bytes"
    echo 0 > "$cg/memory.max_usage_in_bytes" 2>/dev/null || true
  elif [ -w /sys/fs/cgroup/cgroup.subtree_control ] && mkdir -p /sys/fs/cgroup/lowbit-bench 2>/dev/null; then
    cg=/sys/fs/cgroup/lowbit-bench
    echo $((limit_mb * 1024 * 1024)) > "$cg/memory.max"
  else
    echo "no writable memory cgroup: the run is not limited" >&2
  fi
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  rm -rf "$work/out-big"
  status=0
  bash -c "[ -n '$cg' ] && echo \$\$ > '$cg/cgroup.procs'; exec /usr/bin/time -f '%e %M' -o '$work/big.time' \
    '$build/lowbit' quantize '$m' -o '$work/out-big' --scheme W4A16 --method gptq --calib '$ptb' --samples 16 \
    --seq-len 512 --ignore lm_head --threads $threads --progress lines" >"$work/big.log" 2>&1 || status=$?
  read -r wall rss <"$work/big.time" || true
  peak_cg=""
  [ -f "$cg/memory.max_usage_in_bytes" ] && peak_cg="$(( $(cat "$cg/memory.max_usage_in_bytes") / 1048576 )) MB (page cache included)"
  [ -f "$cg/memory.peak" ] && peak_cg="$(( $(cat "$cg/memory.peak") / 1048576 )) MB (page cache included)"
  echo "Model of $n layers (hidden 2048, intermediate 5632), $size_mb MB BF16 on disk, GPTQ 16 x 512, $threads threads,"
  echo "  memory limit ${limit_mb} MB${cg:+ (cgroup $cg)}: exit $status, wall ${wall:-?} s, peak RSS $(( ${rss:-0} / 1024 )) MB, cgroup peak ${peak_cg:-n/a}"
  [ "$status" = 0 ] && echo "  output $(du -sm "$work/out-big" | cut -f1) MB" || tail -3 "$work/big.log"
  [ -n "$cg" ] && rmdir "$cg" 2>/dev/null || true
  rm -rf "$work/out-big"
fi
