"""The hardened batch grader against honest, malicious and broken submissions.

One CLI run grades the whole forward_pass class (~40 fixture notebooks, see ``fixtures.py``);
each test asserts the exact score of a scenario and that everyone else was graded too.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.sandbox import launcher as sandbox
from tests.grader import fixtures

pytestmark = pytest.mark.skipif(sandbox.bwrap_path() is None,
                                reason="bubblewrap (bwrap) is not installed")

ATTACKS = sorted(fixtures.attacks("/course", 1))


def test_every_student_is_graded_with_the_exact_expected_score(graded_forward):
    expected, results = graded_forward["expected"], graded_forward["results"]
    assert sorted(results) == sorted(expected)
    got = {s: r["total"] for s, r in results.items()}
    wrong = {s: (got[s], expected[s]) for s in expected if abs(got[s] - expected[s]) > 1e-9}
    assert not wrong, f"(got, expected) per student: {wrong}"
    for result in results.values():
        assert len(result["cases"]) == fixtures.CASES, "every case has a result"
        assert result["max_total"] == fixtures.FULL
        assert result["sandbox"] in (None, "bwrap")
        assert not result["errors"]


@pytest.mark.parametrize("student", ATTACKS)
def test_attack_does_not_change_the_other_functions(graded_forward, student):
    result = graded_forward["results"][student]
    others = [c for c in result["cases"] if c["function"] != "predict"]
    assert len(others) == fixtures.CASES - fixtures.PREDICT_CASES and all(c["passed"] for c in others), [c["message"] for c in others if not c["passed"]]


@pytest.mark.parametrize("student, status, words", [
    ("eq_always_true", "failed", "not plain data"),
    ("sys_exit", "error", "SystemExit"),
    ("os_exit", "crash", "exited"),
    ("segfault", "crash", "SIGSEGV"),
    ("infinite_loop_ignoring_signals", "timeout", "time limit"),
    ("memory_bomb", "error", "MemoryError"),
    ("answer_too_large", "too_large", "bytes"),
    ("kills_the_zygote", "error", "No such process"),  # pid 1 of its namespace: unkillable
    ("imports_reference_library", "policy", "course"),
    ("deleted_predict_cell", "bad_cell", "deleted"),
    ("duplicated_predict_cell", "bad_cell", "2 times"),
    ("predict_cell_made_markdown", "bad_cell", "markdown"),
    ("predict_cell_metadata_changed", "bad_cell", "metadata"),
    ("empty_file", "invalid_notebook", "empty"),
    ("invalid_json", "invalid_notebook", "JSON"),
    ("not_utf8", "invalid_notebook", "UTF-8"),
    ("not_a_notebook", "invalid_notebook", "nbformat 4"),
])
def test_failure_reason_is_recorded(graded_forward, student, status, words):
    predict = [c for c in graded_forward["results"][student]["cases"] if c["function"] == "predict"]
    assert len(predict) == 2  # predict's visible and hidden case
    for case in predict:
        assert case["status"] == status, case
        assert words in case["message"], case["message"]
        assert case["points"] == 0.0


def test_fork_bomb_is_stopped_and_scores_zero_for_predict(graded_forward):
    cases = graded_forward["results"]["fork_bomb"]["cases"]
    predict = [c for c in cases if c["function"] == "predict"]
    assert predict and all(c["points"] == 0 for c in predict)
    assert all(c["status"] in ("error", "crash", "bad_output", "timeout") for c in predict)


def test_nothing_escaped_to_the_host(graded_forward, course_root, listener):
    for path in [Path("/tmp/fnn_pwned"), course_root / "fnn_pwned", Path("/dev/shm/fnn_pwned"),
                 course_root.parent / "fnn_pwned"]:
        assert not path.exists(), path
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    assert os.stat(course_root / ".grader-secret").st_mode & 0o777 == 0o600


def test_policy_flags_are_listed_with_their_action(graded_forward):
    results = graded_forward["results"]
    flags = {f["rule"]: f for f in results["imports_reference_library"]["flags"]}
    assert flags["reference_library"]["action"] == "zero"
    seg = {f["rule"]: f for f in results["segfault"]["flags"]}
    assert seg["system_access"]["action"] == "report" and "ctypes" in seg["system_access"]["detail"]
    assert not [f for f in results["correct"]["flags"] if f["rule"] != "notebook_changed"]
    notes = " ".join(f["detail"] for f in results["deleted_test_cell"]["flags"])
    assert "test_predict" in notes and "deleted" in notes


def test_summary_names_flagged_submissions(graded_forward):
    out = graded_forward["stdout"]
    assert "Flagged submissions:" in out
    assert "imports_reference_library: [reference_library, zeroed] in predict" in out
    assert "not_utf8: [invalid_notebook, zeroed]" in out


def test_python_loop_loses_only_the_vectorization_points(graded_backprop):
    expected, results = graded_backprop["expected"], graded_backprop["results"]
    assert {s: r["total"] for s, r in results.items()} == pytest.approx(expected)
    for student in fixtures.NARROW_LOOPS:
        timing = [c for c in results[student]["cases"] if c["kind"] == "timing"]
        assert timing and all("Python loop over examples" in c["message"] for c in timing)
        right = [c for c in results[student]["cases"]
                 if c["function"] == "backprop" and c["kind"] == "value"]
        assert right and all(c["passed"] for c in right)
