"""The learner's workspace and the local nbgrader exchange that ``make lab`` sets up, through
nbgrader's real command line, in a temporary clone of the course (never in the repository).

``bash scripts/lab.sh prepare`` (what ``make lab`` runs before serving) generates and releases
every assignment to the clone's ``.exchange/`` and writes the workspace's nbgrader config. Then,
as a student in the workspace: ``nbgrader list``, ``fetch_assignment``, an edit, ``submit``; as
the instructor in the course root: ``collect``. A second preparation (source unchanged, then
changed) and Formgrader's Generate (``generate_assignment --force``) must leave the fetched copy
and the submissions exactly as they were.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.cases.tasks import list_assignments
from tests import submissions as subs

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
COURSE_ID = "fnn-course"
MARKER = "My own answer, written in the fetched copy."


# ----------------------------------------------------------------------------- helpers
def make_lab_clone(dest: Path, assignments=None) -> Path:
    """A course clone that ``scripts/lab.sh`` can prepare and serve: ``nbgrader_config.py``,
    ``assignments/`` (all, or the names given), ``lectures/*.ipynb``, ``scripts/lab.sh`` and
    ``.venv`` (a link to the environment running the tests). Returns the clone's root."""
    root = subs.make_course_copy(dest, assignments)
    (root / "scripts").mkdir(exist_ok=True)
    shutil.copy2(REPO / "scripts" / "lab.sh", root / "scripts" / "lab.sh")
    (root / "lectures").mkdir(exist_ok=True)
    for lecture in (REPO / "lectures").glob("*.ipynb"):
        shutil.copy2(lecture, root / "lectures" / lecture.name)
    venv = root / ".venv"
    if not venv.exists():
        venv.symlink_to(Path(sys.prefix))
    return root


def lab_env(root: Path, **extra: str) -> dict:
    """Environment for ``scripts/lab.sh`` in a clone: its workspace, and the clone as the
    course root of the in-notebook checks."""
    env = dict(os.environ)
    env.update({"WORKSPACE": str(root / "workspace"), "FNN_COURSE_ROOT": str(root)})
    env.update(extra)
    return env


def prepare(root: Path) -> str:
    """Run ``bash scripts/lab.sh prepare`` in the clone; return what it printed."""
    proc = subprocess.run(["bash", "scripts/lab.sh", "prepare"], cwd=root, env=lab_env(root),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"lab.sh prepare failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def nbgrader(cwd: Path, *args: str) -> str:
    """``nbgrader <args>`` run in ``cwd`` (the workspace: as the student; the course root: as
    the instructor); returns stdout and stderr together."""
    proc = subs.run_nbgrader(cwd, *args)
    return proc.stdout + proc.stderr


def tree_digest(folder: Path) -> dict:
    """``{relative path: sha256}`` of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def student_name() -> str:
    """The student id nbgrader's submit uses here (the OS user)."""
    from nbgrader.utils import get_username
    return get_username()


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A prepared clone with every assignment of the course: ``{"root", "workspace",
    "exchange", "log"}``."""
    root = make_lab_clone(tmp_path_factory.mktemp("lab") / "course")
    log = prepare(root)
    return {"root": root, "workspace": root / "workspace", "exchange": root / ".exchange",
            "log": log}


# ----------------------------------------------------------------------------- tests
def test_prepare_releases_every_assignment_to_the_local_exchange(course):
    root = course["root"]
    names = list_assignments(root)
    assert names, "the clone has no assignments"
    outbound = course["exchange"] / COURSE_ID / "outbound"
    for name in names:
        assert (outbound / name / f"{name}.ipynb").is_file(), f"{name} was not released:\n{course['log']}"
        released = nbformat.read(outbound / name / f"{name}.ipynb", as_version=4)
        sources = "\n".join(cell.source for cell in released.cells)
        assert "### BEGIN SOLUTION" not in sources and "### BEGIN HIDDEN TESTS" not in sources
    assert (course["exchange"] / COURSE_ID / "inbound").is_dir()
    # before any fetch, the workspace holds the lecture copies and its nbgrader config only
    assert sorted(p.name for p in course["workspace"].iterdir()) == ["lectures", "nbgrader_config.py"]


def test_student_config_points_at_the_course_exchange(course):
    from traitlets.config.loader import PyFileConfigLoader

    student = PyFileConfigLoader("nbgrader_config.py", path=str(course["workspace"])).load_config()
    instructor = PyFileConfigLoader("nbgrader_config.py", path=str(course["root"])).load_config()
    assert student.CourseDirectory.course_id == instructor.CourseDirectory.course_id == COURSE_ID
    assert Path(student.Exchange.root) == Path(instructor.Exchange.root) == course["exchange"]
    assert Path(student.Exchange.assignment_dir) == course["workspace"]
    # the repository's own exchange is git-ignored and lives in the repository
    assert "/.exchange/" in (REPO / ".gitignore").read_text().split()


def test_fetch_submit_collect_and_nothing_overwrites_the_fetched_work(course):
    root, workspace, exchange = course["root"], course["workspace"], course["exchange"]
    name = "forward_pass" if "forward_pass" in list_assignments(root) else list_assignments(root)[0]

    listed = nbgrader(workspace, "list")
    for released in list_assignments(root):
        assert f"{COURSE_ID} {released}" in listed

    nbgrader(workspace, "fetch_assignment", name)
    fetched = workspace / name / f"{name}.ipynb"
    assert fetched.is_file()
    nb = nbformat.read(fetched, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(MARKER))
    nbformat.write(nb, fetched)

    # `make check NB=workspace/<assignment>/<assignment>.ipynb` grades the fetched copy
    proc = subprocess.run([str(Path(sys.executable).with_name("fnn-grade")), "check", str(fetched)],
                          cwd=root, env=lab_env(root), capture_output=True, text=True, timeout=600)
    assert "score: 0 /" in proc.stdout, f"fnn-grade check of the fetched copy:\n{proc.stdout}\n{proc.stderr}"

    nbgrader(workspace, "submit", name)
    inbound = exchange / COURSE_ID / "inbound"
    submissions = [p for p in inbound.iterdir() if p.name.startswith(f"{student_name()}+{name}+")]
    assert len(submissions) == 1
    assert MARKER in (submissions[0] / f"{name}.ipynb").read_text()
    assert f"{COURSE_ID} {student_name()} {name}" in nbgrader(workspace, "list", "--cached")

    nbgrader(root, "collect", name)
    collected = root / "submitted" / student_name() / name / f"{name}.ipynb"
    assert collected.is_file() and MARKER in collected.read_text()

    before = {"fetched": tree_digest(workspace / name), "inbound": tree_digest(inbound),
              "submitted": tree_digest(root / "submitted")}

    def unchanged(step):
        after = {"fetched": tree_digest(workspace / name), "inbound": tree_digest(inbound),
                 "submitted": tree_digest(root / "submitted")}
        assert after == before, f"{step} changed the student's work"
        assert MARKER in fetched.read_text()

    # make lab again, source unchanged: nothing is generated or released again
    outbound = exchange / COURSE_ID / "outbound" / name / f"{name}.ipynb"
    released_before = outbound.read_bytes()
    log = prepare(root)
    assert "Releasing" not in log, log
    unchanged("a second `make lab`")

    # the instructor edits the source: make lab releases it again (--force), the fetched copy stays
    source = root / "assignments" / name / f"{name}.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("Revised instructions."))
    nbformat.write(nb, source)
    log = prepare(root)
    assert f"Releasing {name}" in log, log
    assert outbound.read_bytes() != released_before and "Revised instructions." in outbound.read_text()
    unchanged("`make lab` after the source changed")
    assert "Revised instructions." not in fetched.read_text()

    # Formgrader's Generate rewrites release/ only
    release = root / "release" / name / f"{name}.ipynb"
    stamp = release.stat().st_mtime_ns
    nbgrader(root, "generate_assignment", name, "--force")
    assert release.stat().st_mtime_ns != stamp
    unchanged("Formgrader's Generate (generate_assignment --force)")
