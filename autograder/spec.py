"""Declarative description of what is graded: one :class:`Case` per graded test.

A case knows how to build its inputs, how the reference library answers, and how to judge an
answer. It never runs student code itself: the in-notebook checks call the student's function
in-process, while the batch grader ships the inputs to a sandbox and judges the plain arrays that
come back. Both use the same ``compare``, so a student sees the same message in either place.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Inputs = dict[str, Any]
"""Keyword arguments of the student function: ndarray, int, float, dict[str, ndarray]
or :class:`CallableArg`."""


@dataclass(frozen=True)
class CallableArg:
    """A function argument, sent as data: the name of a function in ``autograder.testfuncs``
    plus the arrays that parametrise it (the sandbox rebuilds it from the same registry)."""

    name: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """One graded test of one student function.

    Attributes
    ----------
    name : short label shown to students, e.g. ``"relu on a random (7, 5) batch"``.
    function : name of the student function that is called.
    make_inputs : ``rng -> Inputs``; fresh random inputs for each seed.
    reference : ``(**inputs) -> expected``; computed with the ``course`` library.
    compare : ``(actual, expected, inputs) -> (passed, message)``; never trusts ``actual``.
    points : points this case is worth.
    hidden : hidden cases run only at grading time; students never see their code.
    kind : ``"value"`` (compare outputs), ``"timing"`` (ratio to a vectorized baseline) or
        ``"accuracy"`` (score a trained model on held-out data).
    grade_id : nbgrader grade_id of the test cell this case counts toward.
    """

    name: str
    function: str
    make_inputs: Callable[[np.random.Generator], Inputs]
    reference: Callable[..., Any]
    compare: Callable[[Any, Any, Inputs], tuple[bool, str]]
    points: float
    grade_id: str
    hidden: bool = False
    kind: str = "value"


@dataclass(frozen=True)
class AssignmentSpec:
    """Everything the graders need to know about one assignment."""

    name: str
    notebook: str
    functions: tuple[str, ...]
    cases: tuple[Case, ...]

    @property
    def max_score(self) -> float:
        return float(sum(case.points for case in self.cases))
