"""One truth for scores: the CSV and Gradescope exports agree with nbgrader's gradebook and
``nbgrader export`` once written answers are graded by hand (and a late penalty is set).

A class of three is graded with ``fnn-grade grade`` (ada and cy: the instructor's solutions;
bea: predict raises); then, through ``nbgrader.api`` as Formgrader does: ada's first written
answer gets 1.5 points (the others stay ungraded), every written answer of bea gets its full
points (marked graded), cy's stay ungraded and cy's submission gets a late penalty of 1 point.
The expected scores are derived from the source notebook and the stored results.
"""
from __future__ import annotations

import csv
import io
import json
import sys

import pytest

from autograder.cases.tasks import get_spec
from autograder.engine import notebook_io, runner
from autograder.outputs import exports
from autograder.sandbox import launcher as sandbox
from tests import submissions as subs
from tests.grader.conftest import run_cli

pytestmark = pytest.mark.skipif(sandbox.bwrap_path() is None,
                                reason="bubblewrap (bwrap) is not installed")

ASSIGNMENT = "forward_pass"
WRONG_PREDICT = "def predict(*args, **kwargs):\n    raise ValueError('not done')\n"
STUDENTS = ("ada", "bea", "cy")


def written_points(root) -> dict[str, float]:
    """``{grade_id: points}`` of the written answers, read from the source notebook."""
    layout = notebook_io.load_layout(root, ASSIGNMENT)
    points = {}
    for cell in layout.raw["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") in layout.written and meta.get("grade"):
            points[meta["grade_id"]] = float(meta["points"])
    return points


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = subs.make_course_copy(tmp_path_factory.mktemp("truth"), [ASSIGNMENT])
    src = subs.source_notebook(ASSIGNMENT, root)
    subs.write_submission(root, "ada", ASSIGNMENT, src)
    subs.write_submission(root, "bea", ASSIGNMENT,
                          subs.with_solutions(src, {"predict": WRONG_PREDICT}))
    subs.write_submission(root, "cy", ASSIGNMENT, src)
    proc = run_cli(root, "grade", ASSIGNMENT, "--jobs", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]

    written = written_points(root)
    first = next(iter(written))
    sys.modules.setdefault("rfc3987_syntax", None)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        gb.find_grade(first, ASSIGNMENT, ASSIGNMENT, "ada").manual_score = 1.5
        for gid, points in written.items():
            grade = gb.find_grade(gid, ASSIGNMENT, ASSIGNMENT, "bea")
            grade.manual_score, grade.needs_manual_grade = points, False
        gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "cy").late_submission_penalty = 1.0
        gb.db.commit()
        book = {s: (gb.find_submission(ASSIGNMENT, s).score
                    - gb.find_submission(ASSIGNMENT, s).late_submission_penalty)
                for s in STUDENTS}
        book_max = gb.find_assignment(ASSIGNMENT).max_score

    subs.run_nbgrader(root, "export", "--to", "nbgrader_grades.csv")
    nbgrader_rows = {r["student_id"]: r for r in csv.DictReader(
        io.StringIO((root / "nbgrader_grades.csv").read_text())) if r["assignment"] == ASSIGNMENT}

    results = runner.load_results(root, ASSIGNMENT)
    out = root / "fnn_grades.csv"
    exports.export(results, "csv", out, course_root=root)
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    exports.export(results, "gradescope", root / "gs", course_root=root)
    gs = {s: json.loads((root / "gs" / s / "results.json").read_text()) for s in STUDENTS}
    totals = {r["student"]: r["total"] for r in results}
    spec = get_spec(ASSIGNMENT)
    full = spec.max_score + sum(written.values())
    expected = {"ada": totals["ada"] + 1.5, "bea": totals["bea"] + sum(written.values()),
                "cy": totals["cy"] - 1.0}
    return {"root": root, "book": book, "book_max": book_max, "nbgrader": nbgrader_rows,
            "csv": rows, "gradescope": gs, "results": results, "expected": expected,
            "full": full, "written": written, "first": first, "totals": totals, "spec": spec}


def test_the_class_is_graded_as_expected(graded):
    totals, spec = graded["totals"], graded["spec"]
    assert totals["ada"] == totals["cy"] == spec.max_score
    assert totals["bea"] < spec.max_score


def test_gradebook_and_nbgrader_export_hold_the_expected_scores(graded):
    assert graded["book"] == pytest.approx(graded["expected"])
    assert graded["book_max"] == graded["full"]
    for student, score in graded["expected"].items():
        row = graded["nbgrader"][student]
        assert float(row["score"]) == pytest.approx(score)
        assert float(row["max_score"]) == graded["full"]


def test_csv_export_agrees_with_the_gradebook(graded):
    rows, written, first = graded["csv"], graded["written"], graded["first"]
    assert set(rows) == set(STUDENTS)
    for student, score in graded["expected"].items():
        assert float(rows[student]["score"]) == pytest.approx(score), student
        assert float(rows[student]["max_score"]) == graded["full"]
        assert float(rows[student]["score"]) == pytest.approx(
            float(graded["nbgrader"][student]["score"]))
    assert float(rows["ada"][first]) == 1.5
    assert all(float(rows["bea"][gid]) == points for gid, points in written.items())
    assert float(rows["bea"]["test_predict"]) == 0.0
    assert rows["cy"]["ungraded"] == " ".join(written) and rows["bea"]["ungraded"] == ""
    assert rows["ada"]["ungraded"] == " ".join(g for g in written if g != first)


def test_gradescope_export_agrees_with_the_gradebook(graded):
    first = graded["first"]
    for student, score in graded["expected"].items():
        res = graded["gradescope"][student]
        assert res["score"] == pytest.approx(score), student
        assert sum(t["max_score"] for t in res["tests"]) == graded["full"]
        written = [t for t in res["tests"] if t["name"].startswith("written answer: ")]
        assert [t["name"] for t in written] == [f"written answer: {g}" for g in graded["written"]]
        assert all(t["visibility"] == "visible" for t in written)
    ada = next(t for t in graded["gradescope"]["ada"]["tests"]
               if t["name"] == f"written answer: {first}")
    assert ada["score"] == 1.5 and ada["output"] == "graded by hand"
    cy = next(t for t in graded["gradescope"]["cy"]["tests"]
              if t["name"] == f"written answer: {first}")
    assert cy["score"] == 0.0 and cy["output"] == "not graded yet"


def test_a_student_missing_from_the_gradebook_gets_the_whole_maximum(graded, tmp_path):
    result = dict(graded["results"][0], student="dee")
    scores = exports.final_scores(graded["root"], ASSIGNMENT, [result])
    assert scores["dee"]["source"] == "results"
    assert scores["dee"]["score"] == result["total"]
    assert scores["dee"]["max_score"] == graded["full"]
    assert scores["dee"]["ungraded"] == list(graded["written"])


def test_without_a_course_root_the_export_is_the_autograded_one(graded, tmp_path):
    exports.export(graded["results"], "csv", tmp_path / "auto.csv")
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO((tmp_path / "auto.csv")
                                                                .read_text()))}
    full = graded["spec"].max_score
    assert float(rows["ada"]["score"]) == float(rows["ada"]["max_score"]) == full
