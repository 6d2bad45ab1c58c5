"""What the batch grader leaves behind: gradebook, autograded copies, feedback, exports, resume."""
from __future__ import annotations

import csv
import html
import importlib
import io
import json
import os
import sys
from pathlib import Path

import pytest

from autograder.cases.tasks import get_spec

from autograder import cli
from autograder.sandbox import launcher as sandbox
from tests import submissions as subs
from tests.grader import fixtures
from tests.grader.conftest import copy_course, load, run_cli

pytestmark = pytest.mark.skipif(sandbox.bwrap_path() is None,
                                reason="bubblewrap (bwrap) is not installed")


def test_gradebook_holds_the_scores_and_written_answers_still_need_a_grade(graded_forward,
                                                                            course_root):
    sys.modules.setdefault("rfc3987_syntax", None)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gb:
        for student, total in graded_forward["expected"].items():
            sub = gb.find_submission("forward_pass", student)
            assert sub.score == pytest.approx(total), student
        grade = gb.find_grade("test_predict", "forward_pass", "forward_pass", "wrong_predict")
        assert grade.auto_score == 0.0 and not grade.needs_manual_grade
        grade = gb.find_grade("test_sigmoid", "forward_pass", "forward_pass", "wrong_predict")
        assert grade.auto_score == grade.max_score == 2.0
        written = gb.find_grade("written_zero_one", "forward_pass", "forward_pass",
                                "correct")
        assert written.needs_manual_grade


def test_autograded_copy_is_the_source_layout_with_the_students_answers(graded_forward,
                                                                          course_root):
    folder = course_root / "autograded" / "wrong_predict" / "forward_pass"
    assert (folder / "timestamp.txt").read_text() == (
        course_root / "submitted" / "wrong_predict" / "forward_pass" / "timestamp.txt").read_text()
    nb = json.loads((folder / "forward_pass.ipynb").read_text())
    text = json.dumps(nb)
    assert "BEGIN HIDDEN TESTS" not in text
    predict = subs.find_cell(subs.nbformat.from_dict(nb), "predict")
    assert "return y_hat" in predict["source"]
    test = subs.find_cell(subs.nbformat.from_dict(nb), "test_predict")
    assert "FAIL predict at threshold 0.5" in test["outputs"][0]["text"]


def test_feedback_names_tests_but_never_hidden_details(graded_forward, course_root):
    proc = run_cli(course_root, "feedback", "forward_pass")
    assert proc.returncode == 0, proc.stderr
    folder = course_root / "feedback" / "wrong_predict" / "forward_pass"
    page = (folder / "forward_pass.html").read_text()
    result = graded_forward["results"]["wrong_predict"]
    for case in result["cases"]:
        assert case["name"] in page
    rows = {row.split("</td><td>")[1]: row for row in page.split("<tr")[1:] if "</td><td>" in row}
    hidden = [c for c in result["cases"] if c["hidden"] and not c["passed"]]
    assert hidden
    for case in hidden:
        row = rows[html.escape(case["name"]) + " (hidden)"]
        assert "hidden test failed" in row and html.escape(case["message"]) not in row
    assert "BEGIN HIDDEN" not in page
    visible = [c for c in result["cases"] if not c["hidden"] and not c["passed"]]
    assert visible and all(html.escape(c["message"]) in page for c in visible)


def test_csv_and_gradescope_exports(graded_forward, course_root, tmp_path):
    out = tmp_path / "grades.csv"
    assert run_cli(course_root, "export", "forward_pass", "--format", "csv", "-o",
                   str(out)).returncode == 0
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert set(rows) == set(graded_forward["expected"])
    assert float(rows["wrong_predict"]["score"]) == fixtures.RUINED
    assert float(rows["wrong_predict"]["test_predict"]) == 0.0
    assert "zeroed" in rows["imports_reference_library"]["flags"]

    folder = tmp_path / "gs"
    assert run_cli(course_root, "export", "forward_pass", "--format", "gradescope", "-o",
                   str(folder)).returncode == 0
    res = json.loads((folder / "wrong_predict" / "results.json").read_text())
    written = get_spec("forward_pass").written  # one test per answer graded by hand
    assert res["score"] == fixtures.RUINED
    assert len(res["tests"]) == fixtures.CASES + len(written)
    autograded = [t for t in res["tests"] if not t["name"].startswith("written answer: ")]
    assert len(autograded) == fixtures.CASES
    for test in autograded:
        assert set(test) >= {"name", "score", "max_score", "status", "visibility", "output"}
        assert test["status"] in ("passed", "failed")
    for test in res["tests"][fixtures.CASES:]:
        assert test["output"] == "not graded yet" and test["score"] == 0.0
    hidden = [t for t in res["tests"] if t["visibility"] == "after_published"]
    assert hidden and all("expected" not in t["output"] for t in hidden)


def test_regrading_resumes_and_is_idempotent(graded_forward, course_root):
    folder = course_root / "grading" / "forward_pass"
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")}
    (folder / "wrong_predict.json").unlink()  # as if the run had stopped before this student
    proc = run_cli(course_root, "grade", "forward_pass", "--quiet", "--timeout", "4")
    assert proc.returncode == 0, proc.stderr
    after = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")}
    assert set(after) == set(before)
    changed = {n for n in after if after[n] != before[n]}
    assert changed == {"wrong_predict.json"}
    again = load(course_root, "forward_pass")["wrong_predict"]
    old = graded_forward["results"]["wrong_predict"]
    assert [(c["points"], c["message"]) for c in again["cases"]] == \
        [(c["points"], c["message"]) for c in old["cases"]]


def test_a_gradebook_that_cannot_be_written_loses_no_results(graded_forward, course_root,
                                                              tmp_path):
    root = copy_course(course_root, tmp_path / "course")
    (root / "gradebook.db").mkdir()  # SQLite cannot open a folder
    proc = run_cli(root, "grade", "forward_pass", "--student", "wrong_predict", "--force",
                   "--quiet", "--timeout", "4")
    assert proc.returncode == 1
    assert "the gradebook was not updated" in proc.stderr
    assert "run grade again" in proc.stderr
    assert load(root, "forward_pass")["wrong_predict"]["total"] == fixtures.RUINED


def test_self_check_grades_a_local_copy_with_hidden_tests(course_root, tmp_path):
    nb = subs.with_solutions(subs.source_notebook("forward_pass", course_root),
                             {"predict": "def predict(y_hat, threshold=0.5):\n    return y_hat\n"})
    path = tmp_path / "forward_pass.ipynb"
    subs.nbformat.write(nb, path)
    proc = run_cli(course_root, "check", str(path))
    assert proc.returncode == 0, proc.stderr
    assert f"score: {fixtures.RUINED:g} / {fixtures.FULL:g}" in proc.stdout
    assert "FAIL 0/0.5 predict: predict at a random threshold (hidden)" in proc.stdout


@pytest.mark.parametrize("argv, module", [
    (["grade", "forward_pass", "--scheduler", "tcp://127.0.0.1:1"], "autograder.deploy.distributed"),
    (["export-gradescope-autograder", "forward_pass", "-o", "x.zip"], "autograder.deploy.gradescope"),
])
def test_optional_backends_fail_clearly_when_absent(graded_forward, course_root, monkeypatch,
                                                    capsys, argv, module):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    assert cli.main(["--course-root", str(course_root), *argv]) == 2
    assert module in capsys.readouterr().err


def test_unknown_setting_in_course_config_is_refused(tmp_path):
    config = importlib.import_module("autograder.engine.config")
    (tmp_path / "fnn_grade.json").write_text('{"timeout": 3, "policy": {"ml_framework": "zero"}}')
    loaded = config.load_config(tmp_path)
    assert loaded["timeout"] == 3 and loaded["policy"]["ml_framework"] == "zero"
    (tmp_path / "fnn_grade.json").write_text('{"timeout_s": 3}')
    with pytest.raises(ValueError, match="timeout_s"):
        config.load_config(tmp_path)


def test_formgrader_sees_autograded_submissions_awaiting_manual_grades(graded_forward,
                                                                        course_root, monkeypatch):
    sys.modules.setdefault("rfc3987_syntax", None)
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    config = Config()
    config.CourseDirectory.root = str(course_root)
    config.CourseDirectory.source_directory = "assignments"
    api = NbGraderAPI(config=config)
    subs_by_student = {s["student"]: s for s in api.get_submissions("forward_pass")}
    for student in ("correct", "wrong_predict", "segfault"):
        sub = subs_by_student[student]
        assert sub["autograded"] and sub["needs_manual_grade"]  # written answer still to grade
        assert sub["score"] == graded_forward["expected"][student]
