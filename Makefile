# The few commands a person types. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The console's browser tests drive Debian's Chromium through Playwright (whose own browser
# download cannot work offline). `make test` installs it once, as root or with sudo: about
# a minute and 170 MB. Defined here, before the rules that name it as a prerequisite.
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test bench lint clean lock

# Every distribution installed comes from requirements.lock, pinned and checked against its
# sha256 (--require-hashes). The project itself goes in afterwards with --no-deps, since an
# editable install cannot be hash-checked. Two downloads are not hash-checked, and we accept
# both: the pip upgrade just below (the lock then pins pip itself, with hashes, because
# sqlite-utils depends on it), and the setuptools that pip fetches into its isolated build
# environment to build the project (pyproject.toml's [build-system]; build isolation stays on).
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

## run: set up, create the database, load demo prices, start web server + worker on :8000
run: $(STAMP)
	$(BIN)/smsgw init
	@# Exit 1 is expected here: WFP's file has 7 rows far outside their series' range, which
	@# wait for review (`smsgw prices review`); 2 (nothing imported) still stops the demo.
	$(BIN)/smsgw import prices data/wfp_food_prices_ken.csv --country KE || test $$? -eq 1
	$(BIN)/smsgw import standards prices/data/standards.toml
	$(BIN)/smsgw run

## test: set up and run the whole test suite (the console's browser tests need Chromium)
test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "Chromium is needed at $(CHROMIUM) for the browser tests: install it with your package manager"; exit 1; }
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium \
	  || { $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium; }

## bench: the benchmarks under bench/ (figures go to docs/benchmarks.md)
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var build *.egg-info

## lock: regenerate requirements.lock after changing the dependencies in pyproject.toml
# pip-tools runs from a throwaway venv under /tmp (never .venv) and resolves with $(PYTHON),
# which should be 3.11, the oldest Python we support: the pins are those 3.11 needs, and the
# hashes cover every file of each pinned release, so the lock installs on newer Pythons too.
# Pins still allowed by pyproject.toml are kept; `make lock LOCK_FLAGS=--upgrade` moves every
# pin to the newest release the bounds allow. Index and find-links settings from this
# machine's pip configuration are left out of the file.
LOCK_FLAGS ?=
lock:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@set -e; tmp=$$(mktemp -d /tmp/smsgw-lock.XXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/pip" install --quiet --upgrade pip 'pip-tools>=7.4,<8'; \
	CUSTOM_COMPILE_COMMAND='make lock' "$$tmp/venv/bin/pip-compile" --quiet $(LOCK_FLAGS) \
	    --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	    --extra test --output-file requirements.lock pyproject.toml
