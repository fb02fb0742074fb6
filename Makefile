# The two commands a newcomer types: `make demo` (train on the bundled digits) and `make test`.
# Each creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

# The C kernels are built at install: a changed .c/.h reinstalls.
$(STAMP): pyproject.toml $(wildcard gpukeras/backend/_cpu_*.c gpukeras/backend/_cpu_*.h)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m gpukeras.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check gpukeras tests

clean:
	rm -rf $(VENV) build dist *.egg-info
