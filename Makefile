# lowbit: `make demo` and `make test` work on a fresh Debian 12 machine; `make check` is the
# fast tier for development (build + unit + end-to-end tests). CONTRIBUTING.md explains the tiers.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
DEMO_DIR ?= /tmp/lowbit-demo
FUZZ_RUNS ?= 30000
PREFIX ?= /usr/local

.PHONY: all deps build check unit e2e sanitize compat fuzz test demo bench install clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Development tier: unit tests (also under the baseline ISA) and the CLI end to end.
check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L 'unit|e2e'

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

e2e: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L e2e

# The unit tests built with AddressSanitizer + UndefinedBehaviorSanitizer (clang -O1), in the
# same build folder as the fuzz targets (scripts/sanitizer-build.sh): one build serves both tiers.
sanitize: deps
	@ASAN_BUILD=$(ASAN_BUILD) scripts/sanitizer-build.sh lowbit_unit_tests
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -L unit

compat: build
	@venv=$$(scripts/compat-venv.sh) && \
	  LOWBIT_BUILD=$(abspath $(BUILD)) "$$venv/bin/python" -m pytest -q --durations=15 tests/compat

fuzz: deps
	ASAN_BUILD=$(ASAN_BUILD) scripts/fuzz.sh --runs $(FUZZ_RUNS)

# The compat tier's downloads (~3 GB) and llama.cpp's build (niced: it takes only the CPU the
# other tiers leave idle, e.g. while the fuzzers run on one core) start in the background at
# once; the compat tier waits for them (the scripts hold a lock) and reports their errors.
test: deps
	@(scripts/compat-venv.sh && nice -n 19 scripts/llama-cpp.sh) >/dev/null 2>&1 &
	@$(MAKE) --no-print-directory check sanitize fuzz compat

# The product's main job on a real model: SmolLM2-135M-Instruct (fetched once into the test
# cache) -> W4A16 by round-to-nearest and by GPTQ on chat conversations -> both evaluated against
# the original in one table -> a few greedy tokens from the GPTQ checkpoint.
SHARED ?= $(CURDIR)/../shared/data
demo: build
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@venv="$$(scripts/compat-venv.sh)" && smol="$$($$venv/bin/python tests/fixtures/smollm2.py | tail -1)" && \
	set -x && \
	$(BUILD)/lowbit quantize "$$smol" -o $(DEMO_DIR)/smollm2-W4A16 --scheme W4A16 --group-size 64 --ignore lm_head \
	  --method rtn,gptq --calib $(SHARED)/chat-calib.jsonl --samples 64 --seq-len 256 --progress lines \
	  --eval $(SHARED)/wikitext-2-raw-test.txt --eval-chunks 8 && \
	$(BUILD)/lowbit generate $(DEMO_DIR)/smollm2-W4A16/gptq --prompt "The capital of France is" -n 24

bench: build
	$(BUILD)/bench_quantize --gb 1.2

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
