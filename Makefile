# alexnet-nb: the two commands in the README are `make demo` and `make test`.
# Everything installs into a local virtual environment (.venv); nothing touches the system Python.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   ?= demo
export ALEXNET_NO_PROGRESS ?=
# The notebooks and tests call the console scripts (alexnet_preprocess, ...) by name.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help venv install install-dev demo test check-sync nbtest pytest docs readme clean

help:  ## list every target
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip "setuptools>=64,<82" wheel

venv: $(BIN)/python  ## create the virtual environment .venv

install: venv  ## install the package (editable) into .venv
	$(BIN)/pip install -q -e .

install-dev: venv  ## install the package and the dev tools (nbdev, jupyterlab, pytest)
	$(BIN)/pip install -q -e ".[dev]"

# ---- the main job, end to end, on the demo data -------------------------------------------------
demo: install  ## install, then run the whole pipeline on the embedded demo ImageNet (into demo/)
	@echo "==> 1/6 generating the demo ImageNet (ILSVRC-2012 archive layout) in $(DEMO)/raw"
	$(BIN)/alexnet_demo_data $(DEMO)/raw
	@echo "==> 2/6 preprocessing to 256x256 in $(DEMO)/data"
	$(BIN)/alexnet_preprocess $(DEMO)/raw $(DEMO)/data
	@echo "==> 3/6 the class table"
	$(BIN)/alexnet_labels $(DEMO)/raw $(DEMO)/data
	@echo "==> 4/6 mean image and RGB PCA"
	$(BIN)/alexnet_stats $(DEMO)/data
	@echo "==> 5/6 training"
	$(BIN)/alexnet_train --preset demo --data $(DEMO)/data --run-dir $(DEMO)/run
	@echo "==> 6/6 evaluation and figures"
	$(BIN)/alexnet_evaluate $(DEMO)/run/checkpoints/best.pt --out $(DEMO)/eval --device cpu --batch-size 50 --nn-pool 500
	@echo "Demo finished. Outputs: $(DEMO)/data (images, manifest.csv, classes.csv, stats.pt), $(DEMO)/run (checkpoints, log.csv, curves.png), $(DEMO)/eval (results.md, figures)"

# ---- every check CI runs -------------------------------------------------------------------------
# `make docs` is also the notebooks' test run: each notebook executes once, as nbdev_test runs it.
test: install-dev check-sync docs pytest  ## every check CI runs
	@echo "All checks passed."

# Compares the work tree before and after nbdev_export + nbdev_clean, so uncommitted notebook edits
# that are already exported pass; any file the two commands change is named.
SYNC_FILES = find nbs alexnet_nb -type f \( -name '*.ipynb' -o -name '*.py' \) -not -path '*/.ipynb_checkpoints/*' | LC_ALL=C sort | xargs sha256sum
check-sync:  ## the notebooks and the package are in sync, notebooks clean, README in sync
	@echo "==> notebooks and package in sync, notebooks clean, README in sync"
	@mkdir -p build && $(SYNC_FILES) > build/.sync-before
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	@$(SYNC_FILES) > build/.sync-after; if ! cmp -s build/.sync-before build/.sync-after; then \
	  echo "nbdev_export/nbdev_clean changed these files (edit the notebooks in nbs/, run both, then commit):"; \
	  diff build/.sync-before build/.sync-after | sed -n 's/^[<>] [0-9a-f]*  /  /p' | sort -u; exit 1; fi
	$(BIN)/python tools/make_readme.py --check

nbtest:  ## run every notebook as a test with nbdev_test (fast cells only; `make docs` runs them the same way)
	@echo "==> notebooks as tests (nbdev_test, default flags: fast cells only)"
	$(BIN)/nbdev_test

pytest:  ## the process-level tests in tests/ (CLIs, kill and resume, DDP, SLURM)
	@echo "==> process-level tests (pytest tests/)"
	$(BIN)/python -m pytest tests/ ; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; else exit $$rc; fi

# DOCS_ARGS="--flags slow" also runs the slow cells (their figures) into the site.
DOCS_ARGS ?=
docs: install-dev  ## run every notebook once as a test (as nbdev_test does) and render the site into docs/ (DOCS_ARGS="--flags slow" for the slow cells too)
	@echo "==> notebooks as tests (as nbdev_test runs them), then the site from the executed notebooks"
	$(BIN)/python tools/docs.py $(DOCS_ARGS)

readme:  ## write README.md from nbs/index.ipynb
	$(BIN)/python tools/make_readme.py

clean:  ## remove the demo outputs, the site and build files
	rm -rf $(DEMO) docs _proc build
