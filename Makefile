# The few commands a person types. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

## run: set up, create the database, load demo prices, start web server + worker on :8000
run: $(STAMP)
	$(BIN)/smsgw init
	$(BIN)/smsgw import prices data/wfp_food_prices_ken.csv --country KE
	$(BIN)/smsgw import standards prices/data/standards.toml
	$(BIN)/smsgw run

## test: set up and run the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

## bench: the benchmarks under bench/ (figures go to docs/benchmarks.md)
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var build *.egg-info
