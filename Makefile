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

help:
	@echo "make demo   install into $(VENV) and run the whole pipeline on the embedded demo ImageNet"
	@echo "make test   install the dev tools and run every check CI runs"
	@echo "make docs   render the documentation site into docs/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip "setuptools>=64,<82" wheel

venv: $(BIN)/python

install: venv
	$(BIN)/pip install -q -e .

install-dev: venv
	$(BIN)/pip install -q -e ".[dev]"

# ---- the main job, end to end, on the demo data -------------------------------------------------
demo: install
	@echo "==> 1/6 generating the demo ImageNet (ILSVRC-2012 archive layout) in $(DEMO)/raw"
	$(BIN)/alexnet_demo_data $(DEMO)/raw
	@echo "==> 2/6 preprocessing to 256x256 in $(DEMO)/data"
	$(BIN)/alexnet_preprocess $(DEMO)/raw $(DEMO)/data
	@echo "==> 3/6 the class table"
	$(BIN)/alexnet_labels $(DEMO)/raw --out $(DEMO)/data/classes.csv
	@echo "==> 4/6 mean image and RGB PCA"
	$(BIN)/alexnet_stats $(DEMO)/data --out $(DEMO)/stats.pt
	@echo "==> 5/6 training"
	$(BIN)/alexnet_train --preset demo --data $(DEMO)/data --stats $(DEMO)/stats.pt --run-dir $(DEMO)/run
	@echo "==> 6/6 evaluation and figures"
	$(BIN)/alexnet_evaluate $(DEMO)/run/checkpoints/best.pt --out $(DEMO)/eval --device cpu --batch-size 50 --nn-pool 500
	@echo "Demo finished. Outputs: $(DEMO)/data (images, manifest.csv, classes.csv), $(DEMO)/stats.pt, $(DEMO)/run (checkpoints, log.csv, curves.png), $(DEMO)/eval (results.md, figures)"

# ---- every check CI runs -------------------------------------------------------------------------
test: install-dev check-sync nbtest docs pytest
	@echo "All checks passed."

check-sync:
	@echo "==> notebooks and package in sync, notebooks clean, README in sync"
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	@git diff --exit-code --stat -- nbs alexnet_nb || (echo "nbdev_export/nbdev_clean changed files: run both and commit" && exit 1)
	@test -z "$$(git status --porcelain --untracked-files=all -- alexnet_nb nbs)" || (git status --porcelain -- alexnet_nb nbs; echo "untracked generated files: run nbdev_export and commit" && exit 1)
	$(BIN)/python tools/make_readme.py --check

nbtest:
	@echo "==> notebooks as tests (nbdev_test, default flags: fast cells only)"
	$(BIN)/nbdev_test

pytest:
	@echo "==> process-level tests (pytest tests/)"
	$(BIN)/python -m pytest tests/ ; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; else exit $$rc; fi

# DOCS_ARGS="--flags slow" also runs the slow cells (their figures) into the site.
DOCS_ARGS ?=
docs: install-dev
	$(BIN)/python tools/build_docs.py $(DOCS_ARGS)

readme:
	$(BIN)/python tools/make_readme.py

clean:
	rm -rf $(DEMO) docs _proc build
