# The two commands a new user needs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Node data and logs for `make test`/`make demo` stay inside the checkout (git-ignored).
export CASSANDRA_LLM_CACHE_TEST_DATA ?= $(CURDIR)/.cassandra/test
export CASSANDRA_LLM_CACHE_DATA ?= $(CURDIR)/.cassandra/local

.PHONY: help venv jars test lint fuzz demo bench eval-semantic clean server-stop

help:
	@echo "make demo   - start a local Cassandra 5.0 node and run the demo"
	@echo "make test   - install everything and run the whole test suite on a real node"
	@echo "make lint   - ruff check, ruff format --check, mypy --strict"
	@echo "make fuzz   - the property tests with random seeds and 10,000 examples each"
	@echo "make bench  - the side-by-side benchmark (writes docs/benchmarks.md)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

jars: venv
	$(BIN)/cassandra-llm-cache server fetch

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The pytest plugin starts the node once (unless CASSANDRA_CONTACT_POINTS names a cluster) and
# stops it at the end; the trailing `server stop` is a safety net for a run that was killed.
test: jars
	@status=0; \
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy || status=$$?; \
	if [ $$status -eq 0 ]; then $(BIN)/python -m pytest $(PYTEST_ARGS) || status=$$?; fi; \
	$(BIN)/cassandra-llm-cache server stop --dir "$(CASSANDRA_LLM_CACHE_TEST_DATA)" --quiet || true; \
	$(BIN)/cassandra-llm-cache server stop --dir "$(CASSANDRA_LLM_CACHE_TEST_DATA)-cluster" --quiet || true; \
	exit $$status

# `make test` draws the same property-test examples on every run (the `ci` hypothesis profile in
# tests/conftest.py); this explores with random seeds and a larger budget. Turn what it finds into
# an @example so the suite keeps it.
fuzz: venv
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/unit -q -p no:cacheprovider \
	  --hypothesis-show-statistics $(PYTEST_ARGS)

demo: jars
	$(BIN)/python -m cassandra_llm_cache.demo

BENCH_STAMP := $(VENV)/.bench-stamp
# The full run behind docs/benchmarks.md (60-90 min on 2 cores, scale runs included; the
# 100,000-entry semantic fill takes 13-15 min at 110-130 vector writes/s, hence its limit);
# `make bench BENCH_ARGS=--quick` is a short check.
BENCH_ARGS ?= --scale 1000000 --semantic-scale 100000 --semantic-time-limit 1800 --profile --reps 3 --heap 2G
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@touch $(BENCH_STAMP)

# The Redis peer needs Debian's redis-server: installed here when missing and we are root,
# otherwise the benchmark skips that peer and says so in the report.
bench: jars $(BENCH_STAMP)
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; \
	  else \
	    echo "redis-server not found: run 'sudo apt-get install redis-server' to include the RedisCache peer"; \
	  fi; }
	$(BIN)/cassandra-llm-cache bench $(BENCH_ARGS)

# Quora Question Pairs may not be shipped (non-commercial terms): pass your copy with
# `make eval-semantic EVAL_ARGS="--quora path/to/similiar_qqp_full.json.gz"`.
EVAL_ARGS ?=
eval-semantic: jars
	$(BIN)/cassandra-llm-cache eval-semantic $(EVAL_ARGS)

server-stop: venv
	$(BIN)/cassandra-llm-cache server stop

clean: server-stop
	rm -rf .cassandra .pytest_cache .mypy_cache .ruff_cache
