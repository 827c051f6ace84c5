#!/usr/bin/env bash
# Builds (once) llama.cpp's own command-line tools from the llama.cpp sources that PyPI's
# llama-cpp-python source distribution vendors, and prints the folder holding the binaries
# (llama-perplexity, llama-bench, llama-quantize, llama-imatrix) and of its HF -> GGUF converter. They are the reference our
# eval, GGUF writer and benchmarks compare to. ggml's static libraries and headers are kept in lib/ and include/ so a
# test harness can call ggml_quantize_chunk itself (tests/compat/ggml_ref.cc), and ggml's quantizer sources in src/ to read.
# Cached under ~/.cache/lowbit/llama.cpp-<version>; CPU backend only, native SIMD.
set -euo pipefail
version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/lowbit"
dest="$cache/llama.cpp-$version"
mkdir -p "$cache"
exec 9>"$dest.lock"
flock 9  # one build at a time; a second caller waits for it and finds it cached
if [ -x "$dest/bin/llama-perplexity" ] && [ -x "$dest/bin/llama-bench" ] && [ -x "$dest/bin/llama-quantize" ] &&
   [ -x "$dest/bin/llama-imatrix" ] && [ -f "$dest/lib/libggml-base.a" ] && [ -f "$dest/convert_hf_to_gguf.py" ]; then
  echo "$dest/bin"; exit 0
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$("$root/scripts/compat-venv.sh")"
work="$(mktemp -d "$cache/llama.cpp-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "llama-cpp: downloading llama-cpp-python==$version sources (vendors llama.cpp)" >&2
"$venv/bin/python" -m pip download -q --disable-pip-version-check --no-binary :all: --no-deps "llama-cpp-python==$version" -d "$work" >&2
tar xzf "$work"/llama_cpp_python-"$version".tar.gz -C "$work"
src="$work/llama_cpp_python-$version/vendor/llama.cpp"
echo "llama-cpp: building llama-perplexity, llama-bench, llama-quantize and llama-imatrix (several minutes on 2 cores)" >&2
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  -DLLAMA_OPENSSL=OFF >&2
cmake --build "$work/build" -j "$(nproc)" --target llama-perplexity llama-bench llama-quantize llama-imatrix >&2
mkdir -p "$work/out/bin" "$work/out/lib" "$work/out/include" "$work/out/src"
cp "$work/build/bin/llama-perplexity" "$work/build/bin/llama-bench" "$work/build/bin/llama-quantize" \
  "$work/build/bin/llama-imatrix" "$work/out/bin/"
find "$work/build" -name 'libggml*.a' -exec cp {} "$work/out/lib/" \;
cp "$src"/ggml/include/*.h "$work/out/include/"
cp "$src"/ggml/src/ggml-quants.c "$src"/ggml/src/ggml-quants.h "$src"/ggml/src/ggml-common.h "$src"/ggml/src/ggml-impl.h \
  "$src"/src/llama-quant.cpp "$work/out/src/" 2>/dev/null || true
# llama.cpp's own HF -> GGUF converter and the gguf-py it is written against.
cp -r "$src/convert_hf_to_gguf.py" "$src/gguf-py" "$work/out/"
[ -d "$src/conversion" ] && cp -r "$src/conversion" "$work/out/"
rm -rf "$dest" && mv "$work/out" "$dest"
echo "$dest/bin"
