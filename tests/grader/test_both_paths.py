"""Both grading paths on one course: ``fnn-grade grade`` after stock ``nbgrader autograde`` and
the other way round, run by an instructor who is not root.

nbgrader leaves its autograded copy and ``timestamp.txt`` read-only (mode 444); the batch
grader must replace them (as root, permissions never stop it, so the test runs as another
uid on a course copy owned by that uid, also from a checkout under a private folder).
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
REPO = subs.REPO
INSTRUCTOR = 4321
"""An unprivileged uid (no account needed) that owns the course copy."""


def _private_ancestor(path: Path) -> Path | None:
    """The topmost folder above ``path`` that other users cannot enter (mode 700: a home
    folder, a ``mktemp -d`` folder), or None when every folder on the way is open."""
    for folder in reversed(path.parents):
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return folder
    return None


def _instructor_command(cmd: list[str], course: Path | None = None) -> tuple[list[str], dict]:
    """``cmd`` run as the :data:`INSTRUCTOR` uid (with the folder ``course`` writable), and the
    ``subprocess.run`` options for it.

    In a world-readable checkout the uid switch is enough. Under a private folder (where the
    CI clones) no other uid can reach the checkout's virtual environment, as no other user
    could reach a colleague's home folder; the instructor would have a checkout of their own.
    The test gives them one: in a mount namespace (bubblewrap, as root) a fresh tmpfs replaces
    the private folder, the checkout is bound read-only at its own path, the folders leading to
    it are opened (mode 755, in the namespace only), and ``setpriv`` then drops to the
    instructor's uid.
    """
    private = _private_ancestor(REPO)
    if private is None:
        return cmd, {"user": INSTRUCTOR, "group": INSTRUCTOR, "extra_groups": []}
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip(f"the checkout lies under the private folder {private} and bubblewrap "
                    "is not installed to give another uid a view of it")
    shown = [("--ro-bind", REPO), ("--ro-bind", Path(sys.prefix).resolve())]
    if course is not None:
        shown.append(("--bind", course))
    shown = [(how, path) for how, path in shown if path == private or private in path.parents]
    prefix = [bwrap, "--dev-bind", "/", "/", "--tmpfs", str(private)]
    opened: set[Path] = set()
    bound = [path for _, path in shown]
    for how, path in shown:
        prefix += [how, str(path), str(path)]
        opened.update(folder for folder in path.parents  # the tmpfs's own folders
                      if (folder == private or private in folder.parents)
                      and not any(folder == b or b in folder.parents for b in bound))
    for folder in sorted(opened, key=lambda p: len(p.parts)):
        prefix += ["--chmod", "0755", str(folder)]
    prefix += ["--", "setpriv", f"--reuid={INSTRUCTOR}", f"--regid={INSTRUCTOR}",
               "--clear-groups"]
    return prefix + cmd, {}


@pytest.fixture()
def instructor_course():
    if os.geteuid() != 0:
        pytest.skip("switching to another uid needs root")  # the CI runs as root
    cmd, options = _instructor_command([sys.executable, "-c", "import nbgrader"])
    started = subprocess.run(cmd, capture_output=True, text=True, **options)
    assert started.returncode == 0, \
        f"the instructor's uid cannot run the checkout: {started.stderr}"
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
    command, options = _instructor_command(list(cmd), root.parent)
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          timeout=600, **options)


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
