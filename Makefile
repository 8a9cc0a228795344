# Prêt Commun: `make run` serves the demo, `make test` runs every test.
# Works on a fresh Debian machine with Python 3.11; as root it installs the missing
# system packages (python3-venv, chromium) with apt-get.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=
POSTGRES_TESTS ?= tests/services tests/views tests/api tests/browser
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# Exact versions of every dependency, tested together (refresh with `make lock`).
CONSTRAINTS := requirements/constraints.txt
PIP_INSTALL = $(PY) -m pip install -q -c $(CONSTRAINTS)

.PHONY: run test test-postgres install install-test translations messages db chromium lint typecheck clean help lock

help:
	@echo "make run            serve the application on http://$(HOST):$(PORT) (SQLite under instance/)"
	@echo "make test           run the whole test suite"
	@echo "make test-postgres  run the application tests against $(TEST_DATABASE_URL)"
	@echo "make lint           ruff check and format check"

# --- virtual environment -------------------------------------------------------------

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "Error: Python 3.11 or newer is needed ($(PYTHON) is $$($(PYTHON) -V 2>&1))." >&2; exit 1; }
	@if ! $(PYTHON) -m venv $(VENV) >/dev/null 2>&1; then \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "python3 -m venv needs ensurepip: installing python3-venv with apt-get"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv \
	      && $(PYTHON) -m venv $(VENV); \
	  else \
	    echo "Error: '$(PYTHON) -m venv' failed: the venv module (ensurepip) is missing." >&2; \
	    echo "Install it, e.g. 'sudo apt-get install python3-venv', then run make again." >&2; \
	    exit 1; \
	  fi; \
	fi
	@$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: $(PY) setup.cfg pyproject.toml $(CONSTRAINTS)
	$(PIP_INSTALL) -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_INSTALL) -e '.[test]'
	@touch $@

$(VENV)/.installed-postgres: $(VENV)/.installed-test
	$(PIP_INSTALL) -e '.[test,postgres]'
	@touch $@

# After changing a dependency in setup.cfg, or to take newer versions within its bounds:
# resolve every extra again into $(CONSTRAINTS), then run the tests and commit both files.
lock: $(PY)
	$(PY) -m pip install -q pip-tools
	$(BIN)/pip-compile -q --upgrade --strip-extras --allow-unsafe --no-emit-index-url \
	  --no-emit-find-links --extra test --extra postgres --extra celery --extra server \
	  --extra bench -o $(CONSTRAINTS) setup.cfg

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# --- translations (compiled, never committed) ----------------------------------------

CATALOGUES := $(wildcard booking/translations/*/LC_MESSAGES/messages.po)

translations: $(VENV)/.installed $(CATALOGUES:.po=.mo)

booking/translations/%/LC_MESSAGES/messages.mo: booking/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel -q compile -d booking/translations -D messages -l $*

# After changing user-facing strings: refresh both catalogues, then fill in the new French
# msgstr entries (tests/views/test_i18n.py lists any that are missing).
messages: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	  --project "Prêt Commun" -o booking/translations/messages.pot .
	$(BIN)/pybabel -q update -i booking/translations/messages.pot -d booking/translations \
	  -D messages --ignore-obsolete --width 100
	@rm -f booking/translations/messages.pot

# --- running -------------------------------------------------------------------------

db: translations
	$(FLASK) init-db
	@status=0; $(FLASK) db-empty >/dev/null || status=$$?; \
	if [ $$status = 0 ]; then \
	  $(FLASK) seed-demo --if-empty; \
	elif [ $$status = 1 ]; then \
	  echo "Keeping the existing data in the database."; \
	  $(FLASK) demo-accounts || true; \
	else exit $$status; fi

run: db
	@echo "Serving Prêt Commun on http://$(HOST):$(PORT) (Ctrl+C to stop)"
	$(FLASK) run --host $(HOST) --port $(PORT)

# --- tests ---------------------------------------------------------------------------

chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "The browser tests need Chromium: installing Debian's chromium with apt-get"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "Error: the browser tests need Chromium at $(CHROMIUM)." >&2; \
	    echo "Install it, e.g. 'sudo apt-get install chromium', or set CHROMIUM=/path/to/chromium." >&2; \
	    exit 1; \
	  fi; \
	fi

# pytest exits with 5 when it collects no test: a folder not written yet is not a failure.
define run_pytest
	@status=0; $(1) $(PY) -m pytest $(2) $(PYTEST_ARGS) || status=$$?; \
	if [ $$status = 5 ]; then echo "No tests collected in $(2)."; status=0; fi; exit $$status
endef

test: $(VENV)/.installed-test translations chromium
	$(call run_pytest,CHROMIUM=$(CHROMIUM),tests)

test-postgres: $(VENV)/.installed-postgres translations chromium
	$(call run_pytest,CHROMIUM=$(CHROMIUM) TEST_DATABASE_URL=$(TEST_DATABASE_URL),$(POSTGRES_TESTS))

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Settings in pyproject.toml ([tool.mypy]): strict on solver/ and booking/services/.
typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

clean:
	rm -rf $(VENV) test-artifacts
	find booking/translations -name '*.mo' -delete

# --- calendar feeds: Mozilla's ical.js for tests/services/test_feeds_icaljs.py ------------

js-deps:
	@if ! command -v npm >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "The calendar feed tests need Node.js and npm: installing them with apt-get"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm; \
	  else \
	    echo "Error: the calendar feed tests need Node.js and npm (e.g. 'sudo apt-get install nodejs npm')." >&2; \
	    exit 1; \
	  fi; \
	fi
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error

test test-postgres: js-deps
.PHONY: js-deps
