# Two entry points for a fresh machine (Python 3.11, CPU only):
#   make demo   -- create .venv, install, run `kg demo`
#   make test   -- create .venv, install, run the test suite
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/kg: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU build of PyTorch first (lies on disk here); any other spec pulls a CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(BIN)/kg

demo: $(BIN)/kg
	$(BIN)/kg demo

test: $(BIN)/kg
	$(BIN)/python -m pytest -q

lint: $(BIN)/kg
	$(BIN)/ruff check .

bench: $(BIN)/kg
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/extract.py
	$(BIN)/python benchmarks/kge.py
	$(BIN)/python benchmarks/recommend.py

clean:
	rm -rf $(VENV) kg-data .pytest_cache
