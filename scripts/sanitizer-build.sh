#!/usr/bin/env bash
# Configures (once) and builds targets of the one sanitizer build that serves `make sanitize` and
# `make fuzz`: clang, AddressSanitizer + UndefinedBehaviorSanitizer, libFuzzer's coverage hooks,
# -O1 (quick to build). `sanitizer-build.sh TARGET...`; prints nothing but the build's errors.
# The folder is $ASAN_BUILD (default build-asan, relative to the repository root).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ASAN_BUILD:-build-asan}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DLOWBIT_FUZZ=ON -DLOWBIT_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target "$@"
