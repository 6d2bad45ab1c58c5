"""Task specs, one module per assignment: ``autograder.cases.tasks.<assignment>.SPEC``.

Each module builds an :class:`autograder.cases.spec.AssignmentSpec` whose cases are shared by the
in-notebook checks (``autograder.checks``) and the batch grader.
"""
from __future__ import annotations

import importlib

from ..spec import AssignmentSpec

ASSIGNMENTS = ("forward_pass", "softmax_backward", "vectorized_gradients")
"""Names of the graded assignments (folders under ``assignments/``)."""


def get_spec(name: str) -> AssignmentSpec:
    """The :class:`AssignmentSpec` of assignment ``name``; ValueError for an unknown name."""
    if name not in ASSIGNMENTS:
        raise ValueError(f"name must be one of {ASSIGNMENTS}, got {name!r}")
    return importlib.import_module(f"{__name__}.{name}").SPEC
