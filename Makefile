# Two commands do all the set-up on a fresh machine:
#   make run    venv, package with the pinned CPU torch, default models on first use, then a run on seeds/
#   make test   the same plus the dev tools, then lint, types and the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
TO     ?= ar,fr
TINY    = models/tiny

.PHONY: install dev run test lint docs docs-serve pytest tiny run-tiny clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch is installed first and pinned, so nothing pulls a multi-GB CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev

run: install
	$(BIN)/summarize run seeds/ --to $(TO)

lint: dev
	$(BIN)/ruff check summarize tests bench
	$(BIN)/ruff format --check summarize tests bench
	$(BIN)/mypy

# The documentation site (docs/, mkdocs-material; the API reference from the docstrings).
docs: dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The site on http://127.0.0.1:8000, rebuilt as pages change (no end-of-life banner).
docs-serve: dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

pytest: dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint docs pytest

# Tiny random-weight models for trying the pipeline without downloads (gibberish output).
$(TINY)/tiny-bart/config.json: | dev
	$(BIN)/python tests/tiny_models.py $(TINY)

tiny: $(TINY)/tiny-bart/config.json

run-tiny: tiny
	$(BIN)/summarize run seeds/ --to $(TO) -o outputs/tiny --summarizer $(TINY)/tiny-bart \
	  --translator en-ar=$(TINY)/tiny-marian-en-ar --translator en-fr=$(TINY)/tiny-marian-en-fr \
	  --translator fr-en=$(TINY)/tiny-marian-fr-en --translator ar-en=$(TINY)/tiny-marian-ar-en \
	  --translator '*=$(TINY)/tiny-m2m100'

clean:
	rm -rf outputs $(TINY) .pytest_cache .mypy_cache .ruff_cache
