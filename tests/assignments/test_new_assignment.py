"""An instructor adds an assignment with no change to the package: the template makes its folder,
and the batch grader, the in-notebook checks and stock nbgrader grade it from there."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.cases.tasks import get_spec, list_assignments, new_assignment
from tests import submissions as subs

NAME = "softplus_drill"
pytestmark = pytest.mark.slow


def _fnn_grade(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNN_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run([sys.executable, "-m", "autograder", "--course-root", str(root), *args],
                          capture_output=True, text=True, timeout=600, env=env, cwd=root)


def _package_files() -> dict[str, bytes]:
    base = Path(__file__).resolve().parents[2] / "autograder"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*.py"))}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = subs.make_course_copy(tmp_path_factory.mktemp("course") / "c", ["forward_pass"])
    before = _package_files()
    folder = new_assignment(NAME, root)
    assert folder == root / "assignments" / NAME
    assert _package_files() == before, "adding an assignment must not touch the package"
    return root


def test_the_new_assignment_is_found_from_the_course_root(course):
    assert list_assignments(course) == ("forward_pass", NAME)
    spec = get_spec(NAME, course)
    assert spec.name == NAME and spec.max_score == 2.0 and spec.written == {"written_softplus": 1.0}
    with pytest.raises(ValueError, match="already exists"):
        new_assignment(NAME, course)
    with pytest.raises(ValueError, match="must start with a letter"):
        new_assignment("../escape", course)


def test_source_scores_full_marks_and_release_scores_zero_under_both_graders(course):
    done = subs.run_nbgrader(course, "generate_assignment", NAME, "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    release = course / "release" / NAME
    assert sorted(p.name for p in release.iterdir()) == [f"{NAME}.ipynb"], "case code leaked"
    released = subs.release_notebook(course, NAME)
    subs.write_submission(course, "source", NAME, subs.source_notebook(NAME, course))
    subs.write_submission(course, "untouched", NAME, released)
    subs.write_submission(course, "naive", NAME, subs.with_solutions(
        released, {"softplus": "def softplus(z):\n    return np.log(1 + np.exp(z))\n"}))
    graded = _fnn_grade(course, "grade", NAME)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    totals = {p.stem: json.loads(p.read_text())["total"]
              for p in (course / "grading" / NAME).glob("*.json")}
    assert totals == {"source": 2.0, "untouched": 0.0, "naive": 1.0}
    naive = json.loads((course / "grading" / NAME / "naive.json").read_text())
    hidden = next(c for c in naive["cases"] if c["hidden"])
    assert "overflows for large z" in hidden["message"]

    stock = subs.make_course_copy(course.parent / "stock", [])
    new_assignment(NAME, stock)
    assert subs.run_nbgrader(stock, "generate_assignment", NAME).returncode == 0
    subs.write_submission(stock, "source", NAME, subs.source_notebook(NAME, stock))
    subs.write_submission(stock, "untouched", NAME, subs.release_notebook(stock, NAME))
    done = subs.run_nbgrader(stock, "autograde", NAME)
    assert done.returncode == 0, done.stdout + done.stderr
    exported = subs.run_nbgrader(stock, "export", "--to", str(stock / "grades.csv"))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    rows = (stock / "grades.csv").read_text().splitlines()
    scores = {line.split(",")[3]: float(line.split(",")[-2]) for line in rows[1:]}  # "score"
    assert scores == {"source": 2.0, "untouched": 0.0}
