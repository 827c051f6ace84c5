#!/usr/bin/env bash
# GPTQ at 7B scale, on paper from a measurement: a generated model with Llama-3-8B's layer shape
# (hidden 4096, intermediate 14336, 32 heads, 8 KV heads; random BF16 weights, a byte-level
# tokenizer) and L layers is quantized W4A16 g128 by GPTQ on S samples of 2048 tokens; the log's
# stage line gives each stage's seconds and GFLOP/s. The forwards and X^T X grow with the tokens
# (at a fixed sequence length, attention too), GPTQ's solver does not; so a 32-layer model at
# 512 x 2048 takes  32/L x (512/S x (forward + X^T X + propagation) + GPTQ)  here, and on a
# C-core server that many times less if each core runs as fast as one here (the projection's
# assumption: same per-core GEMM rate; AVX512-BF16 or AMX would multiply it). Also prints the
# run's peak RSS next to the memory the pipeline needs for the full job (docs/calibration.md).
#
#   bench/gptq_7b_projection.sh [--layers 2] [--samples 4] [--threads 2] [--server-cores 32]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
layers=2 samples=4 threads=2 server=32
while [ $# -gt 0 ]; do
  case "$1" in
    --layers) layers="$2"; shift 2 ;;
    --samples) samples="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --server-cores) server="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
build="${LOWBIT_BUILD:-$root/build}"
work="${TMPDIR:-/tmp}/lowbit-bench-7b"
rm -rf "$work" && mkdir -p "$work"
text="$root/../shared/data/wikitext-2-raw-test.txt"
[ -f "$text" ] || { echo "missing $text" >&2; exit 2; }

"$build/make-tiny-model" "$work/model" --arch llama --hidden 4096 --intermediate 14336 --layers "$layers" \
  --heads 32 --kv-heads 8 --vocab 512 --tokenizer >/dev/null
export OMP_NUM_THREADS="$threads" OMP_WAIT_POLICY=PASSIVE
/usr/bin/time -f '%e %M' -o "$work/time" "$build/lowbit" quantize "$work/model" -o "$work/out" --scheme W4A16 \
  --group-size 128 --ignore lm_head --method gptq --calib "$text" --samples "$samples" --seq-len 2048 \
  --threads "$threads" --progress off --no-report >"$work/log" 2>&1 || { tail -5 "$work/log"; exit 1; }
read -r wall rss <"$work/time"
stages="$(grep -o 'stages over.*' "$work/log")"
echo "generated Llama-3-8B-shaped model, $layers layers; GPTQ W4A16 g128 on $samples x 2048 tokens;" \
     "$threads threads on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo "wall $wall s, peak RSS $((rss / 1024)) MB"
echo "$stages"
python3 - "$stages" "$layers" "$samples" "$threads" "$server" <<'PY'
import re, sys
line, L, S, threads, server = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
st = {name.strip(): float(sec) for name, sec in re.findall(r"([A-Za-z^ ]+?) ([0-9.]+) s \(", line.split(":", 1)[1])}
per_token = sum(v for k, v in st.items() if k != "GPTQ") / L / (S * 2048)
solver = st.get("GPTQ", 0.0) / L
layers, tokens = 32, 512 * 2048
here = layers * (per_token * tokens + solver)
print(f"per layer: {per_token * 1e6:.1f} us/token in the forwards and X^T X, {solver:.1f} s in GPTQ's solver")
print(f"projected, 32 layers x 512 x 2048 tokens: {here / 3600:.1f} h on this machine ({threads} threads)")
for c in (server,):
    print(f"  on a {c}-core server at this machine's per-core rate: {here * threads / c / 60:.0f} min")
hidden = tokens * 4096 * 2 / 2**30
print(f"memory for that job (docs/calibration.md): hidden states {hidden:.1f} GiB + one layer (0.4 GiB BF16) "
      f"+ Hessians (~1.0 GiB) + GPTQ work space (~2.4 GiB for down_proj)")
PY
