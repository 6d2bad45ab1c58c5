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
or :class:`CallableArg`. Keys that start with :data:`PRIVATE_PREFIX` are for the trusted side
only (e.g. the held-out data of a training task): they reach ``reference`` and ``compare`` but
never the student's function."""

PRIVATE_PREFIX = "_"


def public_inputs(inputs: Inputs) -> Inputs:
    """The keyword arguments the student's function is called with (private keys removed)."""
    return {k: v for k, v in inputs.items() if not k.startswith(PRIVATE_PREFIX)}


@dataclass(frozen=True)
class CallableArg:
    """A function argument, sent as data: the name of a function in ``autograder.cases.testfuncs``
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
    compare : ``(actual, expected, inputs) -> (credit, message)``; never trusts ``actual``.
        ``credit`` is a bool (pass/fail) or, for ``kind="accuracy"``, a float in [0, 1]: the
        fraction of ``points`` earned. Use :meth:`Case.score` to turn it into points.
    points : points this case is worth.
    hidden : hidden cases run only at grading time; students never see their code.
    kind : what ``actual`` is when ``compare`` is called:

        * ``"value"``: the student's return value for ``inputs``.
        * ``"timing"``: a dict ``{"student_s": float, "baseline_s": float, "output": value}``:
          best-of-n seconds of the student's function and of the numpy-only
          ``autograder.cases.testfuncs.<baseline>`` on copies of the same ``inputs``, called
          alternately in the same process with BLAS on one thread and measured in process CPU
          time (``time.process_time``, robust to a loaded machine), and the student's return
          value (checked before the ratio is judged). See ``checks.time_against_baseline``.
        * ``"accuracy"``: the student's return value (trained parameters); ``expected`` is the
          held-out data from ``reference`` (computed only in the trusted parent) and ``compare``
          measures the accuracy on it.
    grade_id : nbgrader grade_id of the test cell this case counts toward.
    baseline : for ``kind="timing"``, the name of the baseline function in
        ``autograder.cases.testfuncs`` (same signature as the student's function).
    per_student : ``make_inputs`` takes a second argument, the student's variant (a dict from
        :attr:`AssignmentSpec.variant_of`), e.g. the network shape that student was given.
    count_calls : names of other student functions whose calls are counted while ``function``
        runs (e.g. ``("backprop", "sgd_step")`` for a training task). ``compare`` then receives
        ``{"output": value, "calls": {name: count}}`` instead of the bare value.
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
    baseline: str | None = None
    per_student: bool = False
    count_calls: tuple[str, ...] = ()

    def inputs_for(self, rng: np.random.Generator, variant: dict | None = None) -> Inputs:
        """Fresh inputs: ``make_inputs(rng)``, or ``make_inputs(rng, variant)`` for a
        per-student case."""
        if self.per_student:
            if variant is None:
                raise ValueError(f"case {self.name!r} needs the student's variant; got None")
            return self.make_inputs(rng, variant)
        return self.make_inputs(rng)

    def score(self, credit: bool | float) -> float:
        """Points earned for a ``credit`` returned by ``compare`` (bool or fraction in [0, 1])."""
        fraction = float(credit)
        if not 0.0 <= fraction <= 1.0:  # also rejects NaN
            fraction = 0.0
        return self.points * fraction


@dataclass(frozen=True)
class AssignmentSpec:
    """Everything the graders need to know about one assignment.

    Attributes
    ----------
    name : assignment name (folder under ``assignments/``).
    notebook : notebook file name, e.g. ``"forward_pass.ipynb"``.
    functions : graded student functions; each is the grade_id of its solution cell.
    cases : every autograded test, visible and hidden.
    written : ``{grade_id: points}`` of the manually graded written answers (markdown cells).
    variant_of : ``student_id -> dict``: the variant of the assignment a student works on (e.g.
        layer sizes and activations), derived from the id alone so that the student's notebook
        shows it (see :func:`autograder.cases.helpers.variant_rng`); None = one variant for all.
    """

    name: str
    notebook: str
    functions: tuple[str, ...]
    cases: tuple[Case, ...]
    written: dict[str, float] = field(default_factory=dict)
    variant_of: Callable[[str], dict] | None = None

    @property
    def max_score(self) -> float:
        """Points of all autograded cases (written answers are graded by hand, not counted)."""
        return float(sum(case.points for case in self.cases))

    def cases_for(self, *, function: str | None = None, grade_id: str | None = None,
                  hidden: bool | None = None) -> tuple[Case, ...]:
        """Cases filtered by student function, test-cell grade_id and/or hidden flag."""
        return tuple(
            c for c in self.cases
            if (function is None or c.function == function)
            and (grade_id is None or c.grade_id == grade_id)
            and (hidden is None or c.hidden == hidden)
        )

    def points_by_grade_id(self) -> dict[str, float]:
        """``{test cell grade_id: points}``, the points table of the notebook's test cells."""
        table: dict[str, float] = {}
        for case in self.cases:
            table[case.grade_id] = table.get(case.grade_id, 0.0) + case.points
        return table
