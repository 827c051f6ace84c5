# lowbit: `make demo` and `make test` work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)
DEMO_DIR ?= /tmp/lowbit-demo
FUZZ_RUNS ?= 30000

.PHONY: all deps build test unit compat fuzz demo bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

compat: build
	@venv=$$(scripts/compat-venv.sh) && \
	  LOWBIT_BUILD=$(abspath $(BUILD)) "$$venv/bin/python" -m pytest -q tests/compat

fuzz: deps
	scripts/fuzz.sh --runs $(FUZZ_RUNS)

test: unit fuzz compat

demo: build
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	$(BUILD)/make-tiny-model $(DEMO_DIR)/tiny-llama --arch llama --hidden 512 --intermediate 1408 \
	  --layers 4 --heads 8 --kv-heads 4 --vocab 2048 --shards 2
	$(BUILD)/lowbit quantize $(DEMO_DIR)/tiny-llama -o $(DEMO_DIR)/tiny-llama-W4A16 --scheme W4A16 --ignore lm_head
	$(BUILD)/lowbit inspect $(DEMO_DIR)/tiny-llama-W4A16

bench: build
	$(BUILD)/bench_quantize --gb 1.2

clean:
	rm -rf $(BUILD) build-fuzz
