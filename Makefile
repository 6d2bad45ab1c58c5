# fnn-course: two commands for a fresh machine.
#   make lab    set everything up, then start JupyterLab on the course
#   make test   set everything up, then run every test
# Debian's Python is preferred so the grading sandbox (another user) can read the interpreter.
PYTHON ?= $(shell test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps lab student check test test-fast bench

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/install_system_deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# JupyterLab serves the git-ignored workspace/ (your own copies), so the tracked notebooks never
# change. Assignments come through a local nbgrader exchange (.exchange/, git-ignored): open
# Nbgrader > Assignments, Fetch one (it lands in workspace/<assignment>/, which nothing
# overwrites), work there, Submit.  A fresh copy of one lecture: make reset-lecture NB=03_forward_pass
lab: setup
	@bash scripts/lab.sh

.PHONY: reset-lecture
reset-lecture:
	@bash scripts/lab.sh reset "$(NB)"

# Generate the student version of every assignment (release/) and release it to the local
# exchange; an assignment whose source did not change since its last release is skipped.
student: setup
	@bash scripts/lab.sh release

# Self-study: grade your fetched copy of an assignment, hidden tests included.
#   make check NB=workspace/forward_pass/forward_pass.ipynb
check: setup
	@test -n "$(NB)" || { echo "usage: make check NB=workspace/<assignment>/<assignment>.ipynb (your fetched copy)"; exit 2; }
	$(BIN)/fnn-grade check "$(NB)"

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not browser and not slow" $(PYTEST_ARGS)

bench: setup
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/python bench/train_step.py
	$(BIN)/python bench/grading.py
