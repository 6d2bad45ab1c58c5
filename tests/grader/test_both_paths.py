"""Both grading paths on one course: ``fnn-grade grade`` after stock ``nbgrader autograde`` and
the other way round, run by an instructor who is not root.

nbgrader leaves its autograded copy and ``timestamp.txt`` read-only (mode 444); the batch
grader must replace them (as root, permissions never stop it, so the test runs as another
uid on a course copy owned by that uid).
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

from autograder.cases.tasks import get_spec
from autograder.outputs.gradebook import import_api
from tests import submissions as subs

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ASSIGNMENT = "forward_pass"
INSTRUCTOR = 4321
"""An unprivileged uid (no account needed) that owns the course copy."""


@pytest.fixture()
def instructor_course():
    if os.geteuid() != 0:
        pytest.skip("switching to another uid needs root")  # the CI runs as root
    try:
        reachable = subprocess.run([sys.executable, "-c", "import nbgrader"], user=INSTRUCTOR,
                                   group=INSTRUCTOR, extra_groups=[],
                                   capture_output=True).returncode == 0
    except OSError:  # the interpreter itself cannot be started by that uid
        reachable = False
    if not reachable:  # e.g. a clone under a mode-700 folder: no other user can enter
        pytest.skip("another user cannot run this checkout's virtual environment (it lies "
                    "under a private folder); run this test from a world-readable checkout")
    base = Path(tempfile.mkdtemp(prefix="fnn-both-paths-"))
    os.chmod(base, 0o755)  # the instructor must reach the course (pytest's tmp is mode 700)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root = subs.make_course_copy(base / "course", [ASSIGNMENT])
        src = subs.source_notebook(ASSIGNMENT, root)
        subs.write_submission(root, "alice", ASSIGNMENT, src)
        subs.write_submission(root, "bob", ASSIGNMENT, subs.with_solutions(
            src, {"relu": "def relu(z):\n    return z\n"}))
        for path in [base, *base.rglob("*")]:
            os.chown(path, INSTRUCTOR, INSTRUCTOR, follow_symlinks=False)
        yield root
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _as_instructor(root: Path, *cmd: str) -> subprocess.CompletedProcess:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(root.parent),
           "LANG": "C.UTF-8", **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    return subprocess.run(list(cmd), cwd=root, env=env, user=INSTRUCTOR, group=INSTRUCTOR,
                          extra_groups=[], capture_output=True, text=True, timeout=600)


def _auto_scores(root: Path) -> dict[str, float]:
    api, _ = import_api()
    with api.Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s: gb.find_submission(ASSIGNMENT, s).score for s in ("alice", "bob")}


def test_fnn_grade_after_stock_autograde_as_non_root(instructor_course):
    root = instructor_course
    nbgrader = subs.nbgrader_bin()
    for step in (("generate_assignment", ASSIGNMENT, "--force"), ("autograde", ASSIGNMENT)):
        proc = _as_instructor(root, nbgrader, *step)
        assert proc.returncode == 0, proc.stderr[-2000:]
    stamp = root / "autograded" / "alice" / ASSIGNMENT / "timestamp.txt"
    assert stat.S_IMODE(stamp.stat().st_mode) == 0o444  # what stock nbgrader leaves behind
    copy = root / "autograded" / "alice" / ASSIGNMENT
    by_nbgrader = (copy / f"{ASSIGNMENT}.ipynb").read_bytes()

    proc = _as_instructor(root, sys.executable, "-m", "autograder", "grade", ASSIGNMENT,
                          "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "gradebook was not updated" not in proc.stderr
    full = get_spec(ASSIGNMENT, root).max_score
    scores = _auto_scores(root)
    assert scores["alice"] == full
    assert 0 < scores["bob"] < full
    assert stamp.read_text() == (root / "submitted" / "alice" / ASSIGNMENT /
                                 "timestamp.txt").read_text()
    assert all(p.stat().st_uid == INSTRUCTOR for p in copy.iterdir())
    assert (copy / f"{ASSIGNMENT}.ipynb").read_bytes() != by_nbgrader  # replaced by fnn-grade's

    # and back: stock autograde again over fnn-grade's copies
    proc = _as_instructor(root, nbgrader, "autograde", ASSIGNMENT, "--force")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _auto_scores(root)["alice"] == full
