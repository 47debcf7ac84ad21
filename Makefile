# Helix MoE — every target sets itself up first; `make setup` is idempotent and quick when done.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
TORCH_VERSION ?= 2.13.0
EXTRAS := dev,server,grammar,quant

.PHONY: setup demo default-system test test-all bench lint format clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@# torch first: an unpinned torch would pull several GB of CUDA packages.
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "torch==$(TORCH_VERSION)"
	@# uv resolves and installs the rest in seconds (pip took ~2 min of a fresh setup); pip is the fallback.
	@# torch is already there and satisfies the project's range, so uv leaves it alone.
	@if $(BIN)/pip install -q uv 2>/dev/null && $(BIN)/uv pip install -q --python $(BIN)/python -e ".[$(EXTRAS)]"; then \
		echo "installed with uv"; \
	else \
		$(BIN)/pip install -q -e ".[$(EXTRAS)]"; \
	fi
	@touch $(STAMP)

# The demo's 15-minute target counts from here, set-up included (--started-at: when make read this file).
DEMO_STARTED := $(shell date +%s)

demo: setup
	$(BIN)/helixmoe demo --started-at $(DEMO_STARTED)

# Train, evaluate and install the built-in system into src/helixmoe/default_system (atomically, < 20 MB).
# ARGS passes options through, e.g. make default-system ARGS="--time-budget 30m".
default-system: setup
	$(BIN)/helixmoe demo --ship $(ARGS)

test: setup
	$(BIN)/python -m pytest -q

test-all: setup
	$(BIN)/python -m pytest -q -m "" 

# Every benchmark prints its figures and ratios measured side by side in one run.
# bench_beams grades the built-in system (or SYSTEM) greedy vs beam search.
# SYSTEM=dir also benchmarks a trained system end to end (latency, batching, constrained decoding).
bench: setup
	$(BIN)/python benchmarks/bench_codecs.py
	$(BIN)/python benchmarks/bench_corpus.py
	$(BIN)/python benchmarks/bench_routing.py
	$(BIN)/python benchmarks/bench_constrained.py
	$(BIN)/python benchmarks/bench_tokenizer.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_qlora.py
	$(BIN)/python benchmarks/bench_moe.py kernels
	$(BIN)/python benchmarks/bench_beams.py $(if $(SYSTEM),--system $(SYSTEM))
	$(if $(SYSTEM),$(BIN)/python benchmarks/bench_system.py --system $(SYSTEM))

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
