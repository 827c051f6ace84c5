#!/usr/bin/env bash
# Creates (once) and prints the path of a Python environment with llm-compressor 0.14.0.1 and
# the versions it pins (older transformers / compressed-tensors / torch than the test venv's),
# for the side-by-side benchmark only (never the tests). CPU use; the first run downloads ~3 GB.
set -euo pipefail
venv="${LOWBIT_LLMC_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lowbit/llmc-venv}"
pins="llmcompressor==0.14.0.1 torch==2.14.0 transformers==5.17.0 compressed-tensors==0.19.0"
if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]; then
  echo "llm-compressor-venv: creating $venv ($pins)" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install -q --disable-pip-version-check $pins >&2
  echo "$pins" > "$venv/.pins"
fi
echo "$venv"
