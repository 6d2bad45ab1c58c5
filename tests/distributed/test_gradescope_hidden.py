"""Gradescope shows no hidden outcome before the grades are published, in any field.

The rule (see :mod:`autograder.deploy.gradescope_run`): what a student sees before publication is
every test whose ``visibility`` is ``"visible"``, plus the top-level fields when the top-level
``visibility`` is ``"visible"``. That view must be identical whether the hidden cases pass, fail,
crash or time out.
"""
from __future__ import annotations

import copy

import pytest

from autograder.cases.tasks import get_spec
from autograder.outputs import exports
from tests import submissions as subs
from tests.distributed.test_gradescope import (ASSIGNMENT, needs_bwrap, package,  # noqa: F401
                                               root, run_autograder)

TOP_LEVEL_FIELDS = {"score", "tests", "visibility", "stdout_visibility", "output",
                    "output_format", "test_output_format", "test_name_format"}
"""Every top-level field results.json may carry (a new one must be checked here first)."""

TEST_FIELDS = {"name", "number", "score", "max_score", "status", "visibility", "output",
               "output_format"}

VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}


def before_publication(results: dict) -> dict:
    """What Gradescope shows a student before publication (and before the due date)."""
    view = {"tests": [t for t in results["tests"] if t.get("visibility", "visible") == "visible"]}
    if results.get("visibility", "visible") == "visible":
        view.update({k: v for k, v in results.items() if k != "tests"})
    return view


def result_with(hidden_outcome: str) -> dict:
    """A stored forward_pass result: visible cases pass, hidden cases end in ``hidden_outcome``."""
    cases = []
    for case in get_spec(ASSIGNMENT).cases:
        passed = not case.hidden or hidden_outcome == "passed"
        status = "passed" if passed else hidden_outcome
        message = {"passed": "", "failed": "max error 0.75 at index (2, 1)",
                   "timeout": "stopped after 10 s", "crash": "killed by SIGSEGV",
                   "error": "IndexError: index 3 is out of bounds"}[status]
        cases.append({"name": case.name, "grade_id": case.grade_id, "function": case.function,
                      "kind": case.kind, "hidden": bool(case.hidden),
                      "points": float(case.points) if passed else 0.0,
                      "max_points": float(case.points), "passed": passed, "status": status,
                      "message": message})
    return {"assignment": ASSIGNMENT, "student": "s", "cases": cases,
            "total": sum(c["points"] for c in cases),
            "max_total": get_spec(ASSIGNMENT).max_score, "flags": [], "errors": []}


@pytest.mark.parametrize("outcome", ["failed", "timeout", "crash", "error"])
def test_view_before_publication_does_not_depend_on_hidden_outcomes(outcome):
    passing = exports.gradescope_results(result_with("passed"))
    other = exports.gradescope_results(result_with(outcome))
    assert passing["score"] != other["score"]  # the grade does differ ...
    assert before_publication(passing) == before_publication(other)  # ... the view does not
    view = before_publication(other)
    assert set(view) == {"tests"}  # no overall score or output before publication
    assert len(view["tests"]) == sum(not c.hidden for c in get_spec(ASSIGNMENT).cases)


def test_every_field_obeys_the_rule():
    results = exports.gradescope_results(result_with("failed"))
    assert set(results) <= TOP_LEVEL_FIELDS, set(results) - TOP_LEVEL_FIELDS
    assert results["visibility"] == "after_published"  # the score counts hidden points
    assert results["stdout_visibility"] == "hidden"
    spec = get_spec(ASSIGNMENT)
    assert len(results["tests"]) == len(spec.cases)
    for test, case in zip(results["tests"], spec.cases):
        assert set(test) <= TEST_FIELDS, set(test) - TEST_FIELDS
        assert test["visibility"] in VISIBILITIES
        assert test["visibility"] == ("after_published" if case.hidden else "visible")
        if case.hidden:  # shown after publication: outcome only, never values
            assert test["output"].startswith("hidden test failed")
            assert "0.75" not in test["output"]


def test_an_assignment_without_hidden_cases_shows_its_score_at_once():
    result = result_with("passed")
    result["cases"] = [c for c in result["cases"] if not c["hidden"]]
    result["total"] = sum(c["points"] for c in result["cases"])
    results = exports.gradescope_results(result)
    assert results["visibility"] == "visible"
    assert before_publication(results)["score"] == sum(c["points"] for c in result["cases"])


def test_flags_in_the_overall_output_name_no_case_outcome():
    result = result_with("failed")
    result["flags"] = [{"rule": "imports", "function": "relu", "detail": "imports course",
                        "action": "zero"}]
    passing = copy.deepcopy(result)
    for case in passing["cases"]:
        case.update(points=case["max_points"], passed=True, status="passed", message="")
    assert (exports.gradescope_results(result)["output"]
            == exports.gradescope_results(passing)["output"])


def _predict_ignoring_threshold():
    return ("def predict(y_hat, threshold=0.5):\n"
            "    return (y_hat >= 0.5).astype(np.int64)\n")


def _relu_for_matrices_only():
    return ("def relu(z):\n"
            "    if z.ndim != 2:\n"
            "        raise IndexError('only matrices')\n"
            "    return np.maximum(z, 0.0)\n")


@needs_bwrap
def test_run_autograder_hides_hidden_failures_until_publication(root):  # noqa: F811
    src = subs.source_notebook(ASSIGNMENT)
    honest, _ = run_autograder(root, src)
    sloppy, output = run_autograder(root, subs.with_solutions(src, {
        "predict": _predict_ignoring_threshold(), "relu": _relu_for_matrices_only()}))
    spec = get_spec(ASSIGNMENT)
    lost = sum(c.points for c in spec.cases if c.hidden and c.function in ("predict", "relu"))
    assert honest["score"] == spec.max_score
    assert sloppy["score"] == spec.max_score - lost  # exact: only the hidden cases failed
    assert set(sloppy) <= TOP_LEVEL_FIELDS
    assert before_publication(sloppy) == before_publication(honest)
    hidden = [t for t in sloppy["tests"] if t["visibility"] == "after_published"]
    assert [t["status"] for t in hidden].count("failed") == 2
    assert f"score {spec.max_score - lost:g} / {spec.max_score:g}" in output  # the staff's log
