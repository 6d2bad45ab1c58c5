"""Small helpers shared by the task specs: random sizes and plain-NumPy references."""
from __future__ import annotations

import hashlib

import numpy as np

from course.backend import to_numpy


def distinct_sizes(rng: np.random.Generator, count: int, low: int = 2, high: int = 12) -> list[int]:
    """``count`` different integers in [low, high): every matrix in a case is non-square."""
    return [int(v) for v in rng.choice(np.arange(low, high), size=count, replace=False)]


def as_float64(x) -> np.ndarray:
    """A reference result as a plain float64 NumPy array."""
    return np.asarray(to_numpy(x), dtype=np.float64)


def one_hot_labels(rng: np.random.Generator, batch: int, classes: int) -> np.ndarray:
    """Random one-hot targets Y of shape (batch, classes), float64."""
    Y = np.zeros((batch, classes))
    Y[np.arange(batch), rng.integers(0, classes, size=batch)] = 1.0
    return Y


def random_params(rng: np.random.Generator, sizes: list[int]) -> dict[str, np.ndarray]:
    """``{"W1": (sizes[1], sizes[0]), "b1": (sizes[1],), ...}`` with He-scaled normal weights."""
    params = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{layer}"] = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
        params[f"b{layer}"] = rng.standard_normal(n_out) * 0.1
    return params


def variant_rng(assignment: str, student_id: str) -> np.random.Generator:
    """The generator of a student's variant of an assignment: seeded from
    ``SHA-256("assignment/student_id")``. It is public on purpose (the student's notebook
    computes the same variant to show it); the secret seeds of the graded inputs are separate."""
    if type(student_id) is not str or not student_id.strip():
        raise ValueError(f"student_id must be a non-empty string, got {student_id!r}")
    digest = hashlib.sha256(f"{assignment}/{student_id.strip()}".encode("utf-8", "replace")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))
