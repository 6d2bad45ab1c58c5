"""Cases of the ``__ASSIGNMENT__`` assignment (made from the course's assignment template).

An assignment is its folder ``assignments/__ASSIGNMENT__/``: the nbgrader source notebook
``__ASSIGNMENT__.ipynb`` and this module, which defines :data:`SPEC`. The batch grader
(``fnn-grade grade __ASSIGNMENT__``), the in-notebook checks (``check("__ASSIGNMENT__", ...)``) and
``make check`` find it there; nbgrader keeps this file out of the student release.

Edit freely: add a graded function as a solution code cell whose nbgrader ``grade_id`` is the
function's name, a test cell ``test_<function>`` that calls ``check``, and its cases below. Every
case draws its inputs from the ``rng`` it gets, so answers typed in as literals fail; hidden cases
run with fresh secret inputs at grading time. A case written to catch a mistake must catch it on
every draw, or equal mistakes get unequal scores: the hidden case below always has one logit
above 720, so a softplus written as log(1 + exp(z)) overflows whatever the seed.

========================  ==================  =======
function                  test cell           points
========================  ==================  =======
softplus(z)               test_softplus       2
========================  ==================  =======

plus the written answer ``written_softplus`` (1 point, graded by hand).
"""
from __future__ import annotations

import numpy as np

from autograder.cases.compare import check_array
from autograder.cases.helpers import distinct_sizes
from autograder.cases.spec import AssignmentSpec, Case

NAME = "__ASSIGNMENT__"


def _logits(extreme: bool):
    """Random logits of a random (B, K) shape; with ``extreme``, some of size several hundred."""
    def make(rng):
        B, K = distinct_sizes(rng, 2, 2, 9)
        z = rng.standard_normal((B, K)) * 3.0
        if extreme:  # entries of both signs with |z| of several hundred, one of them positive
            some = z.flat[:: max(1, z.size // 3)]
            z.flat[:: max(1, z.size // 3)] = (rng.uniform(720.0, 1000.0, some.size)
                                              * rng.choice([-1.0, 1.0], some.size))
            z.flat[0] = rng.uniform(720.0, 1000.0)
        return {"z": z}
    return make


def _reference(z):
    return np.logaddexp(0.0, z)


def _compare(actual, expected, inputs):
    z = inputs["z"]
    return check_array(actual, expected, name="softplus(z)", batch_size=z.shape[0],
                       nonfinite_hint="log(1 + exp(z)) overflows for large z: use "
                                      "max(z, 0) + log(1 + exp(-|z|))",
                       hints=[(lambda: np.log(1.0 + np.exp(-np.clip(z, -700, 700))),
                               "sign: softplus(z) = log(1 + exp(z))")])


SPEC = AssignmentSpec(
    name=NAME,
    notebook=f"{NAME}.ipynb",
    functions=("softplus",),
    cases=(
        Case("softplus on a random batch", "softplus", _logits(False), _reference, _compare,
             1.0, "test_softplus"),
        Case("softplus with logits of several hundred", "softplus", _logits(True), _reference,
             _compare, 1.0, "test_softplus", hidden=True),
    ),
    written={"written_softplus": 1.0},
)
