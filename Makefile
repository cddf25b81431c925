# The two commands (README): `make run` and `make test`. Each creates .venv the first time.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= edgeinfer-out

.PHONY: run test lint sample models bench clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "edgeinfer needs $(PY) (set PY=python3 to override)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[cpu,dev]'
	touch $(STAMP)

sample: $(STAMP)
	$(BIN)/python sample_data/generate.py --quiet

run: $(STAMP) sample
	$(BIN)/edgeinfer run --out $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check edgeinfer tests benchmarks sample_data
	$(BIN)/ruff format --check edgeinfer tests benchmarks sample_data
	$(BIN)/mypy

test: $(STAMP) sample lint
	$(BIN)/python -m pytest -q

models: $(STAMP)
	$(BIN)/edgeinfer models build

bench: $(STAMP) sample
	$(BIN)/python benchmarks/run_all.py --json $(OUT)/bench.json

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
