"""The instructor workflow through nbgrader's real command line, in a temporary course copy.

generate_assignment -> submissions in submitted/<student>/<assignment>/ -> autograde ->
generate_feedback -> export (CSV). One module-scoped course holds every fixture submission, so
each nbgrader command runs once per assignment (autograde and feedback for the three
assignments run concurrently: distinct students, one SQLite gradebook).
"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.cases.tasks import get_spec
from tests import submissions as subs
from tests.grader.fixtures import EXAMPLE_LOOP_BACKPROP

pytestmark = pytest.mark.slow

ASSIGNMENTS = ("forward_pass", "softmax_backward", "backprop")
SPECS = {name: get_spec(name) for name in ASSIGNMENTS}
FP = SPECS["forward_pass"]
BP = SPECS["backprop"]


def _points(spec, *grade_ids: str) -> float:
    """Points of the test cells ``grade_ids`` of an assignment (from its spec)."""
    table = spec.points_by_grade_id()
    return float(sum(table[gid] for gid in grade_ids))

LOOP_TIMEOUT_S = 5  # per-cell timeout while grading softmax_backward (the infinite-loop fixture)

UNSTABLE_SIGMOID = '''
def sigmoid(z):
    return np.exp(z) / (1.0 + np.exp(z))
'''
SOFTMAX_WITHOUT_MAX_SHIFT = '''
def softmax(z):
    e = np.exp(z)
    return e / np.sum(e, axis=1, keepdims=True)
'''
INFINITE_LOOP = '''
def softmax_jacobian(y):
    while True:
        pass
'''

ANSWERS = {
    "written_zero_one": ("The step function's derivative is 0 wherever it exists, so the chain "
                         "rule passes no gradient back and gradient descent never moves."),
    "written_augmented": "One matrix product per layer; the column of ones costs a copy of x.",
    "written_bce_vs_mse": "With BCE the sigmoid's slope cancels; with MSE it makes the step tiny.",
    "written_one_vs_rest": "Close to 1, but 90% of the digits are not a 2; ten outputs, softmax.",
}
"""An answer to each written question of forward_pass (graded by hand, not by these tests)."""
assert set(ANSWERS) == set(FP.written)


def _transposed_backprop(source: str) -> str:
    old = 'grads[f"W{l}"] = dZ.T @ A[l - 1]'
    assert old in source
    return source.replace(old, 'grads[f"W{l}"] = A[l - 1].T @ dZ')


# student -> (expected auto score, how to build the notebook from (release, solutions, source))
EXPECTED = {
    "forward_pass": {
        "fp_source": (FP.max_score, lambda rel, sol, src: src),
        "fp_correct": (FP.max_score, lambda rel, sol, src: subs.with_solutions(
            rel, {**sol, **ANSWERS})),
        "fp_untouched": (0.0, lambda rel, sol, src: rel),
        "fp_deleted_test": (FP.max_score, lambda rel, sol, src: subs.delete_cells(
            subs.with_solutions(rel, sol), ["test_relu"])),
        "fp_duplicated": (FP.max_score, lambda rel, sol, src: subs.duplicate_cells(
            subs.with_solutions(rel, sol), ["relu", "test_predict"])),
        # NaN for |z| ~ 1000: the sigmoid's test cell fails, and so does its derivative's,
        # which calls it there
        "fp_nan_sigmoid": (FP.max_score - _points(FP, "test_sigmoid", "test_sigmoid_derivative"),
                           lambda rel, sol, src: subs.with_solutions(
                               rel, {**sol, "sigmoid": UNSTABLE_SIGMOID})),
        "fp_renamed": (0.0, lambda rel, sol, src: subs.with_solutions(rel, sol)),
    },
    "softmax_backward": {
        "sb_source": (14.0, lambda rel, sol, src: src),
        "sb_correct": (14.0, lambda rel, sol, src: subs.with_solutions(rel, sol)),
        "sb_untouched": (0.0, lambda rel, sol, src: rel),
        # softmax fails (2) and so does softmax_ce_grad, which calls it, on hidden logits of 1000 (2)
        "sb_no_max_shift": (10.0, lambda rel, sol, src: subs.with_solutions(
            rel, {**sol, "softmax": SOFTMAX_WITHOUT_MAX_SHIFT})),
        "sb_infinite_loop": (12.5, lambda rel, sol, src: subs.with_solutions(
            rel, {**sol, "softmax_jacobian": INFINITE_LOOP})),
    },
    "backprop": {
        "bp_source": (BP.max_score, lambda rel, sol, src: src),  # also stands for "correct"
        "bp_untouched": (0.0, lambda rel, sol, src: rel),
        # wrong shapes break backprop, its timing and the training that uses it
        "bp_transposed": (BP.max_score - _points(BP, "test_backprop", "test_backprop_vectorized",
                                                 "test_train_classifier"),
                          lambda rel, sol, src: subs.with_solutions(
                              rel, {**sol, "backprop": _transposed_backprop(sol["backprop"])})),
        # right values, vectorization points lost (the release's STUDENT_ID, instructor-demo,
        # has hidden widths 32-32: a loop is tens of times slower than the baseline there)
        "bp_loop": (BP.max_score - _points(BP, "test_backprop_vectorized"),
                    lambda rel, sol, src: subs.with_solutions(
                        rel, {**sol, "backprop": EXAMPLE_LOOP_BACKPROP})),
        # partial credit through the test cell's value (about 83% held out)
        "bp_weak_training": (None, lambda rel, sol, src: subs.with_solutions(
            rel, {**sol, "train_classifier": subs.WEAK_TRAINING})),
    },
}
RENAMED = {"fp_renamed": "forward_pass-Copy1.ipynb"}


def _nbgrader(root: Path, *args: str) -> subprocess.Popen:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.Popen([subs.nbgrader_bin(), *args], cwd=root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _run_all(root: Path, commands: dict[str, list[str]]) -> dict[str, tuple[int, str, float]]:
    """Run several nbgrader commands concurrently: {key: (returncode, output, seconds)}."""
    start = time.perf_counter()
    procs = {key: _nbgrader(root, *args) for key, args in commands.items()}
    results = {}
    for key, proc in procs.items():
        out, _ = proc.communicate(timeout=600)
        results[key] = (proc.returncode, out, time.perf_counter() - start)
    return results


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = subs.make_course_copy(tmp_path_factory.mktemp("course"))
    releases = {name: subs.release_notebook(root, name) for name in ASSIGNMENTS}
    for name in ASSIGNMENTS:
        solutions = subs.solution_code(name)
        source = subs.source_notebook(name)
        for student, (_, build) in EXPECTED[name].items():
            nb = build(releases[name], solutions, source)
            subs.write_submission(root, student, name, nb, filename=RENAMED.get(student))
    timeout = [f"--ExecutePreprocessor.timeout={LOOP_TIMEOUT_S}", f"--Execute.timeout={LOOP_TIMEOUT_S}"]
    autograde = _run_all(root, {
        name: ["autograde", name, *(timeout if name == "softmax_backward" else [])]
        for name in ASSIGNMENTS})
    submitted = root / "submitted"
    feedback = _run_all(root, {
        **{name: ["generate_feedback", name] for name in ASSIGNMENTS},
        # the Validate button of the lab extension runs the same command
        "validate_correct": ["validate", str(submitted / "fp_correct/forward_pass/forward_pass.ipynb")],
        "validate_untouched": ["validate", str(submitted / "fp_untouched/forward_pass/forward_pass.ipynb")],
    })
    export = _run_all(root, {"export": ["export", "--to", "grades.csv"]})
    with open(root / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    timing = {name: {"seconds": round(autograde[name][2], 1), "submissions": len(EXPECTED[name])}
              for name in ASSIGNMENTS}
    (root / "autograde_timing.json").write_text(json.dumps(timing))
    print("autograde wall-clock (three assignments concurrently):", timing)
    return {"root": root, "releases": releases, "autograde": autograde, "feedback": feedback,
            "export": export["export"], "rows": rows}


# ----------------------------------------------------------------------------- release
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_has_no_solutions_and_no_hidden_tests(course, name):
    released = course["releases"][name]
    text = nbformat.writes(released)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "hidden=True"):
        assert marker not in text
    source = subs.source_notebook(name)
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        released_cell = subs.find_cell(released, meta["grade_id"])
        if cell.cell_type == "markdown":
            assert released_cell.source == "YOUR ANSWER HERE"
            continue
        body = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
        for line in filter(None, (ln.strip() for ln in body.splitlines())):
            assert line not in released_cell.source, (meta["grade_id"], line)
        assert "raise NotImplementedError(\"Write this function" in released_cell.source
        assert f"def {meta['grade_id']}(" in released_cell.source  # the signature stays


# ----------------------------------------------------------------------------- scores
def test_gradebook_scores_are_exactly_as_expected(course):
    scores = {(row["assignment"], row["student_id"]): (float(row["score"]), float(row["max_score"]))
              for row in course["rows"]}
    for name, students in EXPECTED.items():
        spec = SPECS[name]
        for student, (expected, _) in students.items():
            score, max_score = scores[(name, student)]
            assert max_score == spec.max_score + sum(spec.written.values())
            if expected is None:  # depends on floating-point training: see the partial-credit test
                continue
            assert score == pytest.approx(expected, abs=1e-3), f"{name}/{student}: got {score}"


def test_every_assignment_was_autograded_and_the_class_kept_going(course):
    for name in ASSIGNMENTS:
        code, out, _ = course["autograde"][name]
        if name == "forward_pass":  # the renamed file is the one failure, reported by name
            assert code == 1
            assert re.search(r"error processing assignment 'forward_pass' for student 'fp_renamed'", out)
            assert out.count("There was an error processing assignment 'forward_pass'") == 1
        else:
            assert code == 0, out[-3000:]
        for student in EXPECTED[name]:
            if student not in RENAMED:
                assert (course["root"] / "autograded" / student / name / f"{name}.ipynb").exists()


def _autograded(course, name, student):
    return nbformat.read(course["root"] / "autograded" / student / name / f"{name}.ipynb", 4)


def _errors(nb, gid):
    cell = subs.find_cell(nb, gid)
    return [o for o in cell.outputs if o.output_type == "error"]


def test_cell_level_outcomes(course):
    deleted = _autograded(course, "forward_pass", "fp_deleted_test")
    restored = subs.find_cell(deleted, "test_relu")  # put back from the source and run
    assert "relu: 1 test passed" in "".join(o.get("text", "") for o in restored.outputs)

    looped = _autograded(course, "softmax_backward", "sb_infinite_loop")
    assert [e.ename for e in _errors(looped, "test_softmax_jacobian")] == ["CellTimeoutError"] or \
        "KeyboardInterrupt" in [e.ename for e in _errors(looped, "test_softmax_jacobian")]
    assert not _errors(looped, "test_numerical_gradient")  # later cells still ran

    slow = _autograded(course, "backprop", "bp_loop")
    (error,) = _errors(slow, "test_backprop_vectorized")
    assert "this looks like a Python loop over examples" in " ".join(error.evalue.split())
    assert not _errors(slow, "test_backprop")

    nan = _autograded(course, "forward_pass", "fp_nan_sigmoid")
    (error,) = _errors(nan, "test_sigmoid")
    flat = " ".join(error.evalue.split())  # the message is wrapped at word boundaries
    assert "contains NaN" in flat and "|z| ~ 1000" in flat


def test_partial_credit_is_the_value_of_the_test_cell(course):
    nb = _autograded(course, "backprop", "bp_weak_training")
    cell = subs.find_cell(nb, "test_train_classifier")
    (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    partial = float(result.data["text/plain"])
    full = _points(BP, "test_train_classifier")
    assert 0.25 * full < partial < 0.95 * full  # about 83% held out: about 70% of the points
    score = next(float(row["score"]) for row in course["rows"]
                 if (row["assignment"], row["student_id"]) == ("backprop", "bp_weak_training"))
    assert score == pytest.approx(BP.max_score - full + partial, abs=1e-3)


def test_untouched_release_runs_and_every_test_cell_says_what_to_do(course):
    nb = _autograded(course, "forward_pass", "fp_untouched")
    for gid in ("test_relu", "test_sigmoid", "test_network_forward", "test_predict"):
        (error,) = _errors(nb, gid)
        assert error.ename == "AssertionError"
        assert ("is not implemented yet: replace the `raise NotImplementedError(...)` line"
                in " ".join(error.evalue.split()))


def test_validate_command(course):
    code, out, _ = course["feedback"]["validate_correct"]
    assert "Success! Your notebook passes all the tests." in out
    code, out, _ = course["feedback"]["validate_untouched"]
    cells = len(FP.points_by_grade_id()) + len(FP.written)  # every test cell, every question
    assert f"VALIDATION FAILED ON {cells} CELL(S)!" in out
    assert "relu is not implemented yet" in out


# ----------------------------------------------------------------------------- feedback
def test_feedback_never_shows_hidden_test_source(course):
    for name in ASSIGNMENTS:
        assert course["feedback"][name][0] == 0, course["feedback"][name][1][-3000:]
    pages = sorted((course["root"] / "feedback").glob("*/*/*.html"))
    students = {p.parts[-3] for p in pages}
    assert students == {s for name in ASSIGNMENTS for s in EXPECTED[name] if s not in RENAMED}
    for page in pages:
        html = page.read_text()
        for leak in ("HIDDEN TESTS", "hidden=True"):
            assert leak not in html, f"{page}: {leak}"
    # a student failing only a hidden test sees the message, not the hidden call
    html = (course["root"] / "feedback" / "sb_no_max_shift" / "softmax_backward"
            / "softmax_backward.html").read_text()
    assert "softmax_ce_grad: 1 of 1 hidden test failed" in html
    assert "subtract the max" in html
    assert "checks.py" not in html and "most recent call last" not in html  # no traceback frames


def test_export_lists_every_student(course):
    assert course["export"][0] == 0
    # nbgrader lists every student for every assignment; those who submitted have a timestamp
    submitted = {(row["assignment"], row["student_id"]) for row in course["rows"] if row["timestamp"]}
    assert submitted == {(name, s) for name in ASSIGNMENTS for s in EXPECTED[name]}
    others = [row for row in course["rows"] if not row["timestamp"]]
    assert others and all(float(row["score"]) == 0.0 for row in others)
