#!/usr/bin/env bash
# Installs the Debian packages lowbit builds and tests with, only those missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libpcre2-dev
      libgtest-dev libgmock-dev libopenblas-openmp-dev libutf8proc-dev libssl-dev python3 python3-venv clang libclang-rt-14-dev libomp-dev)
# Headless Chromium for tests/compat/test_html_report.py (`eval --report` in a real browser), without
# its recommends (Mesa, printing, notification daemon): ~122 MB download, ~414 MB installed.
lean=(chromium)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=() missing_lean=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${lean[@]}"; do installed "$p" || missing_lean+=("$p"); done
if [ ${#missing[@]} -eq 0 ] && [ ${#missing_lean[@]} -eq 0 ]; then exit 0; fi
echo "install-deps: installing ${missing[*]} ${missing_lean[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]} ${missing_lean[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then $SUDO apt-get install -y -qq "${missing[@]}"; fi
if [ ${#missing_lean[@]} -gt 0 ]; then $SUDO apt-get install -y -qq --no-install-recommends "${missing_lean[@]}"; fi
