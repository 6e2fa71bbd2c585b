# Two commands do everything on a fresh machine:
#   make demo   set-up + generate the demo data + the main job
#   make test   set-up + the whole test suite
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo_data
RUN_DIR ?= runs/demo
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast browser clean bench

setup: $(STAMP)

# PyTorch goes in first, pinned to the CPU build that lies on this machine's disk, so that
# nothing later can pull the multi-GB CUDA build; the project is then installed with its dev extras.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian's Chromium for the end-to-end browser tests (Playwright's own browser download cannot work here)
# and poppler-utils (pdftoppm, pdftotext) for the clinical-PDF tests.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: could not install chromium; browser tests will be skipped"; }
	@command -v pdftoppm >/dev/null 2>&1 || { \
	  echo "installing Debian poppler-utils for the PDF tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null) \
	  || echo "WARNING: could not install poppler-utils; PDF tests will be skipped"; }

demo: setup
	$(BIN)/protoecg demo --data $(DEMO_DIR) --run $(RUN_DIR)

test: setup browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser" $(PYTEST_ARGS)

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) runs .pytest_cache
