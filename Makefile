# The front door: `make`, `make test`, `make demo`. Every target first installs
# whatever Debian packages are missing (scripts/install-deps.sh is idempotent).

PYTHON := /usr/bin/python3
BUILD := build
ASAN_BUILD := build-asan
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS := 20

.PHONY: all deps build asan fuzz-build fuzz fuzz-smoke test test-unit test-integration demo demo-v2v format bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@ninja -C $(BUILD)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=ON >/dev/null
	@ninja -C $(ASAN_BUILD)

# libFuzzer targets for the image parsers (fuzz/, clang-14): `make fuzz` runs
# each for FUZZ_SECONDS; `make fuzz-smoke` a few seconds each with a fixed
# seed. Not part of `make test` yet: building them with clang takes ~3 minutes
# on two cores, which the CI budget for `make test` cannot spare.
fuzz-build: deps
	@cmake -S fuzz -B $(FUZZ_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
	@ninja -C $(FUZZ_BUILD)

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	FUZZ_SEED=1 fuzz/run.sh $(FUZZ_BUILD) 3

# Unit tests under both builds, then the integration tests (real KVM guests)
# against the release build and the quick ones again against the sanitizer build.
test: build asan
	$(BUILD)/src/ferry_unit_tests --gtest_brief=1
	$(ASAN_BUILD)/src/ferry_unit_tests --gtest_brief=1
	FERRY_BUILD=$(BUILD) $(PYTHON) -m pytest -q tests/integration
	FERRY_BUILD=$(ASAN_BUILD) FERRY_GUEST=$(BUILD)/guest/ferry-guest.elf \
	  $(PYTHON) -m pytest -q -m sanitizer tests/integration

demo: build
	@scripts/demo.sh

# V2V without KVM: a Xen guest (LVM root) into ferry, out as an OVA, and back.
demo-v2v: build
	@$(PYTHON) scripts/demo_v2v.py

bench: build
	@echo "benchmarks: see bench/README.md"

format:
	@find src guest tests -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
