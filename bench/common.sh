# Sourced by the side-by-side benchmarks: sets build (lowbit's build folder), venv (the test
# Python), smol (the SmolLM2-135M BF16 folder), bin (llama.cpp's tools) and work (a scratch
# folder named $1), and defines to_gguf SRC DST (llama.cpp's own HF -> BF16 GGUF converter).
build="${LOWBIT_BUILD:-$root/build}"
venv="$("$root/scripts/compat-venv.sh")"
smol="$("$venv/bin/python" "$root/tests/fixtures/smollm2.py" | tail -1)"
bin="$("$root/scripts/llama-cpp.sh")"
work="${TMPDIR:-/tmp}/$1"
mkdir -p "$work"
to_gguf() {
  PYTHONPATH="$bin/../gguf-py" "$venv/bin/python" "$bin/../convert_hf_to_gguf.py" "$1" --outtype bf16 \
    --outfile "$2" >/dev/null 2>&1
}
