"""Fixture class and task wrappers of the cluster tests (importable by Dask workers)."""
from __future__ import annotations

import os
import signal
import threading
import warnings
from pathlib import Path

from tests import submissions as subs

ASSIGNMENT = "forward_pass"

WRONG = {
    "relu": "def relu(z):\n    return np.abs(z)\n",
    "sigmoid": "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(z))\n",
    "affine_forward": "def affine_forward(x, W, b):\n    return x @ W + b\n",
    "count_parameters": "def count_parameters(N, K, J):\n    return N * K + K * J + J\n",
    "predict": "def predict(y_hat, threshold=0.5):\n    return (y_hat > threshold).astype(int)\n",
}
"""One typical mistake per function (each costs that function's points)."""


def write_class(course_root: Path, n: int = 30) -> dict[str, str]:
    """Write ``n`` forward_pass submissions (``s00``, ``s01``, ...); returns student -> kind.

    Every third student submits the reference solution; the others make one or two of the
    mistakes in :data:`WRONG`, so the class has a spread of scores.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = subs.source_notebook(ASSIGNMENT, course_root)
    names = sorted(WRONG)
    kinds = {}
    for i in range(n):
        student = f"s{i:02d}"
        if i % 3 == 0:
            nb, kind = source, "correct"
        else:
            wrong = {names[i % len(names)]: WRONG[names[i % len(names)]]}
            if i % 3 == 2:
                other = names[(i + 2) % len(names)]
                wrong[other] = WRONG[other]
            nb, kind = subs.with_solutions(source, wrong), "+".join(sorted(wrong))
        subs.write_submission(course_root, student, ASSIGNMENT, nb)
        kinds[student] = kind
    return kinds


def comparable(result: dict) -> dict:
    """The parts of a result that must not depend on where it was graded."""
    return {"total": result["total"], "max_total": result["max_total"],
            "flags": result["flags"], "errors": result["errors"],
            "fingerprint": result["fingerprint"], "sandbox": result["sandbox"],
            "cases": [(c["name"], c["points"], c["status"], c["message"])
                      for c in result["cases"]]}


def die_once(marker: str, func, **kwargs) -> dict:
    """Grade, but the first task to create ``marker`` SIGKILLs its own worker mid-grading."""
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return func(**kwargs)
    os.write(fd, f"{os.getpid()} {kwargs['student']}\n".encode())
    os.close(fd)
    threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGKILL)).start()
    return func(**kwargs)


def grade_elsewhere(other_root: str, func, **kwargs) -> dict:
    """Grade from another copy of the course folder (a worker whose copy is out of sync)."""
    return func(**dict(kwargs, course_root=other_root))


def poison(target: str, func, **kwargs) -> dict:
    """Grade, but the task of student ``target`` SIGKILLs its worker every time it runs."""
    if kwargs["student"] == target:
        os.kill(os.getpid(), signal.SIGKILL)
    return func(**kwargs)
