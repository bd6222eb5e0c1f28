# polybrief — the two commands a new machine needs: `make demo` and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
TINY    ?= .tiny-models
CHECKOV := build/deploy-tools/checkov/bin/checkov

.PHONY: install lock demo demo-tiny test pytest quick lint typecheck proto bench bench-quality soak fuzz clean deploy-check

# Exactly the pinned versions of requirements.lock, then the three packages (editable, no
# dependencies of their own: the lock has them all). torch: the lock pins 2.13.0, which pip
# takes as the CPU build on these machines; anything looser may pull CUDA (GBs).
$(STAMP): requirements.lock proto/pyproject.toml client/pyproject.toml service/pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e ./proto -e ./client -e ./service
	touch $@

install: $(STAMP)

## Re-resolve every dependency in a fresh virtualenv and rewrite requirements.lock.
lock:
	PY=$(PY) bash scripts/lock.sh

## Start the server on the default catalogue, brief the example article into en, fr, ru, stop
## (fetching the demo's models first when the model hub is reachable).
demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh

## The same demo on tiny random-weight models of every family (no downloads needed).
demo-tiny: $(STAMP)
	$(BIN)/polybrief-server models make-tiny $(TINY)
	PATH="$(abspath $(BIN)):$$PATH" POLYBRIEF_CATALOG=$(abspath $(TINY))/catalog.toml bash scripts/demo.sh

## Lint, type-check, regenerate the stubs, run the test suite (with the policy scan of
## deploy/kubernetes: checkov is installed first).
test: $(STAMP) lint typecheck $(CHECKOV) pytest

## checkov, the policy scanner of tests/test_deploy.py, in a virtualenv of its own (its
## ~95 dependencies stay out of the project's), exactly as deploy/kubernetes/checkov.lock.
$(CHECKOV): deploy/kubernetes/checkov.lock
	rm -rf build/deploy-tools/checkov
	$(PY) -m venv build/deploy-tools/checkov
	build/deploy-tools/checkov/bin/python -m pip install -q --disable-pip-version-check -r $<
	touch $@

## The Kubernetes manifests: render every overlay, schema-check them for each supported
## Kubernetes version, policy-scan them, assert their invariants; replay the image's steps.
deploy-check: $(STAMP) $(CHECKOV) proto
	$(BIN)/python -m pytest -q tests/test_deploy.py

## Regenerate the polybrief.v1 stubs from proto/ (also done by every install of polybrief-proto).
proto: $(STAMP)
	$(BIN)/python proto/hatch_build.py

pytest: proto
	$(BIN)/python -m pytest -q

## The fast subset: no server subprocesses, no fuzzing, no attack properties (about a minute).
quick: proto
	$(BIN)/python -m pytest -q -x --ignore=tests/test_shutdown.py --ignore=tests/test_fuzz.py --ignore=tests/test_properties.py --ignore=tests/test_admission.py --ignore=tests/test_scale_out.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: proto
	$(BIN)/mypy

## Benchmark (minutes, not part of `make test`): writes bench/results/cpu-<cores>core.{md,png}.
bench: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python bench/run.py

## What the quality guards do on the tiny models (flagged share, re-decodes, glossary kept).
bench-quality: $(STAMP)
	$(BIN)/python bench/quality.py

## Soak run (minutes, not part of `make test`): mixed load on a real server process,
## prints RSS and p99 per interval and their drift; fails on RSS growth or INTERNAL/UNKNOWN.
SOAK_MINUTES ?= 3
# e.g. SOAK_ARGS=--lean: the CTranslate2 families on CTranslate2 (no torch in the server)
SOAK_ARGS ?=
soak: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

## Open-ended fuzzing of request validation and the text pipeline (tests run it bounded).
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	mkdir -p .fuzz-corpus
	$(BIN)/python fuzz/fuzz_requests.py .fuzz-corpus fuzz/corpus -max_total_time=$(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) $(TINY) .fuzz-corpus .pytest_cache .mypy_cache .ruff_cache build/deploy-tools
	rm -f proto/src/polybrief/v1/*_pb2*.py* proto/src/polybrief/v1/polybrief.binpb
