# polybrief — the two commands a new machine needs: `make demo` and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
TINY    ?= .tiny-models

.PHONY: install demo demo-tiny test pytest lint typecheck proto proto-check bench soak fuzz clean

$(STAMP): client/pyproject.toml service/pyproject.toml requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch pinned: this exact version is the CPU build; anything looser may pull CUDA (GBs).
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ./client -e ./service -r requirements-dev.txt
	touch $@

install: $(STAMP)

## Start the server on the default catalogue, brief the example article into en, fr, ru, stop.
demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh

## The same demo on tiny random-weight models of every family (no downloads needed).
demo-tiny: $(STAMP)
	$(BIN)/polybrief-server models make-tiny $(TINY)
	PATH="$(abspath $(BIN)):$$PATH" POLYBRIEF_CATALOG=$(abspath $(TINY))/catalog.toml bash scripts/demo.sh

## Lint, type-check, check generated stubs, run the test suite.
test: $(STAMP) lint typecheck proto-check pytest

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

## Benchmark (minutes, not part of `make test`): writes bench/results/cpu-<cores>core.{md,png}.
bench: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python bench/run.py

## Soak run (minutes, not part of `make test`): mixed load on a real server process,
## prints RSS and p99 per interval and their drift; fails on RSS growth or INTERNAL/UNKNOWN.
SOAK_MINUTES ?= 3
soak: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES)

## Open-ended fuzzing of request validation and the text pipeline (tests run it bounded).
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	mkdir -p .fuzz-corpus
	$(BIN)/python fuzz/fuzz_requests.py .fuzz-corpus fuzz/corpus -max_total_time=$(FUZZ_SECONDS)

## Regenerate the Python stubs from proto/.
proto: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/gen_proto.sh

proto-check: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/check_proto.sh

clean:
	rm -rf $(VENV) $(TINY) .fuzz-corpus .pytest_cache .mypy_cache .ruff_cache
