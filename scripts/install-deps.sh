#!/usr/bin/env bash
# Installs the Debian packages lowbit builds and tests with, only those missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libpcre2-dev
      libgtest-dev libgmock-dev libopenblas-openmp-dev libutf8proc-dev libssl-dev python3 python3-venv clang libclang-rt-14-dev libomp-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}"
