#!/usr/bin/env bash
# Creates (once) and prints the path of the Python environment for the real-client
# tests, pinned by tests/compat/requirements.lock and cached under ~/.cache/lowbit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lock="$root/tests/compat/requirements.lock"
hash="$(sha256sum "$lock" | cut -c1-16)"
venv="${LOWBIT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lowbit/venv-$hash}"
if [ ! -f "$venv/.complete" ]; then
  echo "compat-venv: creating $venv (torch, transformers, compressed-tensors; first run downloads ~3 GB)" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$lock" >&2
  touch "$venv/.complete"
fi
echo "$venv"
