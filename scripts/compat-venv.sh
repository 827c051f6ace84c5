#!/usr/bin/env bash
# Creates (once), updates (when tests/compat/requirements.lock changes) and prints the
# path of the Python environment for the real-client tests, cached under ~/.cache/lowbit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lock="$root/tests/compat/requirements.lock"
hash="$(sha256sum "$lock" | cut -c1-16)"
venv="${LOWBIT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lowbit/venv}"
# One installer at a time (`make test` starts one in the background while it builds).
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/python" ]; then
  echo "compat-venv: creating $venv (torch, transformers, compressed-tensors, gguf; first run downloads ~3 GB)" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
fi
if [ "$(cat "$venv/.lock-hash" 2>/dev/null)" != "$hash" ]; then
  echo "compat-venv: installing $lock into $venv" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$lock" >&2
  echo "$hash" > "$venv/.lock-hash"
fi
# llm-compressor's own GPTQ solver, the reference of tests/compat/test_gptq_reference.py. Its
# package pins older transformers / compressed-tensors than ours, so only its files are unpacked
# (no dependencies) into a folder of their own; the test loads the solver modules directly.
ref="$venv/reference/llmcompressor-0.14.0.1"
if [ ! -f "$ref/llmcompressor/modifiers/gptq/gptq_quantize.py" ]; then
  echo "compat-venv: unpacking llmcompressor==0.14.0.1 (its GPTQ solver, for reference)" >&2
  rm -rf "$ref"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --target "$ref" llmcompressor==0.14.0.1 >&2
fi
echo "$venv"
