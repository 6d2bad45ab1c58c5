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

# JupyterLab serves the git-ignored workspace/ (your own copies of the lectures and assignments),
# so the tracked notebooks never change.  A fresh copy of one lecture: make reset-lecture NB=03_forward_pass
lab: setup student
	@bash scripts/lab.sh

.PHONY: reset-lecture
reset-lecture:
	@bash scripts/lab.sh reset "$(NB)"

# Student copies of every assignment (solutions and hidden tests removed) under release/.
ASSIGNMENTS := forward_pass softmax_backward vectorized_gradients
student: setup
	@for a in $(ASSIGNMENTS); do \
	  test -f release/$$a/$$a.ipynb || PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/nbgrader generate_assignment $$a --log-level=WARN || exit 1; \
	done

# Self-study: grade your copy of an assignment, hidden tests included.  make check NB=release/forward_pass/forward_pass.ipynb
check: setup
	@test -n "$(NB)" || { echo "usage: make check NB=path/to/assignment.ipynb"; exit 2; }
	$(BIN)/fnn-grade check "$(NB)"

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not browser and not slow" $(PYTEST_ARGS)

bench: setup
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/python bench/train_step.py
	$(BIN)/python bench/grading.py
