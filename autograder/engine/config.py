"""Settings of the batch grader and the grading secret.

Defaults live in :data:`DEFAULTS`. A course overrides any of them in an optional JSON file
``fnn_grade.json`` at the course root (next to ``nbgrader_config.py``), for example::

    {
      "timeout": 10,
      "memory_mb": 1024,
      "policy": {"system_access": "zero", "ml_framework": "report"}
    }

Command-line options (``--timeout``, ``--memory``, ``--jobs``) override the file.

Policy actions (see :mod:`autograder.engine.policy` for the rules): ``"zero"`` gives 0 points to every
test of the flagged function and records why; ``"report"`` only lists the flag in the summary,
the CSV and the feedback.

The secret that derives every student's test inputs is kept in ``.grader-secret`` at the course
root (git-ignored, mode 600, created on first use). Keep it to re-grade reproducibly; students
never see it, so they cannot predict the inputs of their tests.
"""
from __future__ import annotations

import copy
import json
import os
import secrets
from pathlib import Path

CONFIG_FILE = "fnn_grade.json"
SECRET_FILE = ".grader-secret"

DEFAULTS: dict = {
    "timeout": 10.0,            # wall-clock seconds per test
    "accuracy_timeout": 120.0,  # seconds for a test that trains a model
    "memory_mb": 1024,          # address space of each test process
    "nproc": 32,                # processes of the sandbox user
    "max_output_mb": 64,        # largest answer of one test
    "timing_repeats": 3,        # alternating baseline/student runs of a timing test
    "jobs": 2,                  # sandboxes in parallel
    "use_bwrap": None,          # None: use bubblewrap when installed
    "warm_sandboxes": True,     # a warm template per worker forks each fresh sandbox
    "max_notebook_mb": 100,     # larger files are refused (a memory cap: outputs count here,
                                # but the code limit is policy.MAX_CODE_BYTES, outputs aside)
    "policy": {
        "reference_library": "zero",  # import of course / autograder
        "ml_framework": "report",     # torch, jax, tensorflow
        "scipy_special": "report",    # scipy.special (ready-made softmax, expit, ...)
        "system_access": "report",    # subprocess, socket, ctypes
        "unavailable_module": "report",  # a module the sandbox does not have (the import fails)
    },
}


def load_config(course_root: Path | str, overrides: dict | None = None) -> dict:
    """Settings for ``course_root``: defaults, then ``fnn_grade.json``, then ``overrides``.

    Raises
    ------
    ValueError
        If ``fnn_grade.json`` is not a JSON object, names an unknown setting or an unknown
        policy action.
    """
    config = copy.deepcopy(DEFAULTS)
    path = Path(course_root) / CONFIG_FILE
    layers = []
    if path.exists():
        try:
            layers.append(json.loads(path.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
    layers.append({k: v for k, v in (overrides or {}).items() if v is not None})
    for layer in layers:
        if not isinstance(layer, dict):
            raise ValueError(f"{path} must hold a JSON object, got {type(layer).__name__}")
        for key, value in layer.items():
            if key not in DEFAULTS:
                raise ValueError(f"unknown grader setting {key!r}; "
                                 f"expected one of {sorted(DEFAULTS)}")
            if key == "policy":
                for rule, action in dict(value).items():
                    if rule not in DEFAULTS["policy"] or action not in ("zero", "report"):
                        raise ValueError(f"policy must map one of {sorted(DEFAULTS['policy'])} to "
                                         f"'zero' or 'report', got {rule!r}: {action!r}")
                    config["policy"][rule] = action
            else:
                config[key] = value
    return config


def result_path(course_root: Path | str, assignment: str, student: str) -> Path:
    """``<course_root>/grading/<assignment>/<student>.json``: one student's stored result."""
    return Path(course_root) / "grading" / assignment / f"{student}.json"


def load_secret(course_root: Path | str) -> bytes:
    """The course's grading secret, created (32 random bytes, mode 600) on first use."""
    path = Path(course_root) / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    for _ in range(50):  # another process may be writing it right now
        text = path.read_text().strip()
        if len(text) == 64:
            return bytes.fromhex(text)
        import time

        time.sleep(0.01)
    raise ValueError(f"{path} must hold 64 hex digits; delete it to create a new secret")
