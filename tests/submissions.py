"""Build nbgrader course copies and student submission notebooks for tests.

Shared by the assignment tests and the batch-grader tests. Everything works on in-memory
``nbformat`` notebooks; nothing touches the repository's own course folders.

Typical use::

    from tests import submissions as subs

    root = subs.make_course_copy(tmp_path)                  # nbgrader_config.py + assignments/
    released = subs.release_notebook(root, "forward_pass")   # runs `nbgrader generate_assignment`
    good = subs.with_solutions(released, subs.solution_code("forward_pass"))
    wrong = subs.with_solutions(released, {"relu": "def relu(z):\\n    return z\\n"})
    subs.write_submission(root, "alice", "forward_pass", good)
    subs.write_submission(root, "bob", "forward_pass", subs.delete_cells(good, ["test_relu"]))

Notebook helpers never modify their argument: each returns a new notebook.
"""
from __future__ import annotations

import copy
import csv
import datetime as _dt
import json
import os
import warnings
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Mapping

import nbformat
import numpy as np

REPO = Path(__file__).resolve().parents[1]
"""Repository root (the instructor's nbgrader course root)."""

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"


def _nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    """nbgrader ``grade_id`` of a cell, or None for ordinary cells."""
    return _nbgrader_meta(cell).get("grade_id")


def nbgrader_bin(name: str = "nbgrader") -> str:
    """Path of a console script of the running interpreter's environment."""
    return str(Path(sys.executable).with_name(name))


# --------------------------------------------------------------------------- course copies
def make_course_copy(dest: Path, assignments: Iterable[str] | None = None) -> Path:
    """Copy the course root's ``nbgrader_config.py`` and ``assignments/`` into ``dest``.

    Parameters
    ----------
    dest : directory to create (or reuse); becomes the nbgrader course root.
    assignments : names to copy (default: every assignment folder).

    Returns
    -------
    Path of the course root ``dest``.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "nbgrader_config.py", dest / "nbgrader_config.py")
    (dest / "assignments").mkdir(exist_ok=True)  # there even when no assignment is copied
    src = REPO / "assignments"
    names = list(assignments) if assignments is not None else [
        p.name for p in src.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    ]
    for name in names:
        shutil.copytree(src / name, dest / "assignments" / name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return dest


def run_nbgrader(course_root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``nbgrader <args>`` with ``course_root`` as working directory; raise on failure.

    The environment's ``bin`` goes first on PATH (nbgrader's database migrations need alembic).
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([nbgrader_bin(), *args], cwd=course_root, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout}\n{proc.stderr}")
    return proc


def grader_env() -> dict:
    """The environment for running ``fnn-grade``: this one without ``FNN_*`` settings, with
    the environment's ``bin`` first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNN_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def grade_both_ways(course_root: Path, assignment: str) -> dict:
    """Grade every submission of ``assignment`` with ``fnn-grade grade --jobs 2``, then with
    ``nbgrader autograde`` (and ``nbgrader export``).

    Returns ``{"fnn": {student: stored result}, "nbgrader": {student: (score, max_score)}}``.
    """
    root = Path(course_root)
    grade = subprocess.run([sys.executable, "-m", "autograder", "--course-root", str(root),
                            "grade", assignment, "--jobs", "2"], capture_output=True, text=True,
                           timeout=600, env=grader_env(), cwd=root)
    if grade.returncode != 0:
        raise RuntimeError(f"fnn-grade grade {assignment} failed:\n{grade.stderr[-3000:]}")
    fnn = {p.stem: json.loads(p.read_text())
           for p in (root / "grading" / assignment).glob("*.json")}
    run_nbgrader(root, "autograde", assignment, "--force")
    run_nbgrader(root, "export", "--to", "grades.csv")
    with open(root / "grades.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle)
                if r["assignment"] == assignment and r["timestamp"]]
    nbgrader = {r["student_id"]: (float(r["score"]), float(r["max_score"])) for r in rows}
    return {"fnn": fnn, "nbgrader": nbgrader}


# --------------------------------------------------------------------------- in-process checks
def solution_namespace(assignment: str, code: Mapping[str, str] | None = None) -> dict:
    """The source notebook's solution cells (or ``code``, ``{grade_id: source}``) run in one
    namespace, as a kernel would run them."""
    namespace = {"np": np}
    for gid, source in (code if code is not None else solution_code(assignment)).items():
        exec(compile(source, f"<{assignment}: {gid}>", "exec"), namespace)
    return namespace


def scores_over_seeds(spec, functions: Mapping[str, object], seeds: Iterable[int]) -> set[float]:
    """Every total that ``functions`` (``{name: callable}``) score on ``spec``'s cases, one
    total per seed. A fixture whose score depends on the seed shows as more than one total:
    the grader draws its inputs from a secret seed, so that would be a test that flakes."""
    from autograder.checks import run_case

    totals = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in seeds:
            rng = np.random.default_rng(seed)
            totals.add(sum(case.score(run_case(case, functions[case.function], rng)[0])
                           for case in spec.cases))
    return totals


def check_failure(assignment: str, function: str, fn, **kwargs) -> str:
    """The message of the in-notebook check ``check(assignment, function, fn, ...)``, which
    must fail (NumPy warnings of wrong answers that overflow on purpose are silenced)."""
    from autograder.checks import check

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            check(assignment, function, fn, **kwargs)
        except AssertionError as failed:
            return str(failed)
    raise AssertionError(f"check({assignment!r}, {function!r}) passed a wrong answer")


# --------------------------------------------------------------------------- notebooks
def source_path(assignment: str, root: Path = REPO) -> Path:
    """Path of the instructor's source notebook ``assignments/<name>/<name>.ipynb``."""
    return Path(root) / "assignments" / assignment / f"{assignment}.ipynb"


def source_notebook(assignment: str, root: Path = REPO) -> nbformat.NotebookNode:
    """The instructor's source notebook (with solutions and hidden tests), freshly read."""
    return nbformat.read(source_path(assignment, root), as_version=4)


def release_notebook(course_root: Path, assignment: str) -> nbformat.NotebookNode:
    """The student version, made by the real ``nbgrader generate_assignment`` in ``course_root``.

    Runs the command only if ``release/<assignment>/<assignment>.ipynb`` does not exist yet.
    """
    path = Path(course_root) / "release" / assignment / f"{assignment}.ipynb"
    if not path.exists():
        run_nbgrader(course_root, "generate_assignment", assignment, "--force")
    return nbformat.read(path, as_version=4)


def strip_solution_markers(code: str) -> str:
    """Remove the ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines from a cell's code."""
    lines = [ln for ln in code.split("\n") if ln.strip() not in (BEGIN_SOLUTION, END_SOLUTION)]
    return "\n".join(lines)


def solution_code(assignment: str, root: Path = REPO) -> dict[str, str]:
    """Reference solution of every solution *code* cell, ``{grade_id: code}`` without markers."""
    out = {}
    for cell in source_notebook(assignment, root).cells:
        meta = _nbgrader_meta(cell)
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            out[meta["grade_id"]] = strip_solution_markers(cell.source)
    return out


def find_cell(nb, gid: str):
    """The first cell whose grade_id is ``gid``; KeyError if there is none."""
    for cell in nb.cells:
        if grade_id(cell) == gid:
            return cell
    raise KeyError(f"no cell with grade_id {gid!r}")


def with_solutions(nb, code: Mapping[str, str]) -> nbformat.NotebookNode:
    """Copy of ``nb`` whose cells with the given grade_ids get the given source.

    Use it on a released notebook to play a student: ``code`` maps a solution cell's grade_id
    (the function name) to the code the student typed. Unknown grade_ids raise KeyError.
    """
    new = copy.deepcopy(nb)
    for gid, src in code.items():
        find_cell(new, gid).source = src
    return new


def with_answers(nb, text: Mapping[str, str]) -> nbformat.NotebookNode:
    """Copy of ``nb`` with written answers (markdown solution cells) replaced; same as above."""
    return with_solutions(nb, text)


def delete_cells(nb, grade_ids: Iterable[str]) -> nbformat.NotebookNode:
    """Copy of ``nb`` without the cells carrying any of ``grade_ids``."""
    drop = set(grade_ids)
    new = copy.deepcopy(nb)
    new.cells = [c for c in new.cells if grade_id(c) not in drop]
    return new


def duplicate_cells(nb, grade_ids: Iterable[str]) -> nbformat.NotebookNode:
    """Copy of ``nb`` where each cell with one of ``grade_ids`` appears twice in a row."""
    dup = set(grade_ids)
    new = copy.deepcopy(nb)
    cells = []
    for cell in new.cells:
        cells.append(cell)
        if grade_id(cell) in dup:
            twin = copy.deepcopy(cell)
            if "id" in twin:
                twin["id"] = f"{twin['id']}-copy"[:64]
            cells.append(twin)
    new.cells = cells
    return new


def append_code_cell(nb, code: str) -> nbformat.NotebookNode:
    """Copy of ``nb`` with an ordinary (ungraded) code cell appended at the end."""
    new = copy.deepcopy(nb)
    new.cells.append(nbformat.v4.new_code_cell(code))
    return new


def write_submission(course_root: Path, student: str, assignment: str, nb,
                     filename: str | None = None,
                     timestamp: _dt.datetime | None = None) -> Path:
    """Place ``nb`` as ``submitted/<student>/<assignment>/<filename>`` with a ``timestamp.txt``.

    ``filename`` defaults to ``<assignment>.ipynb``; pass another name to simulate a renamed file.
    ``nb`` may also be ``bytes`` or ``str`` (written as is) to simulate a corrupted file.
    Returns the notebook's path.
    """
    folder = Path(course_root) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (filename or f"{assignment}.ipynb")
    if isinstance(nb, bytes):
        path.write_bytes(nb)
    elif isinstance(nb, str):
        path.write_text(nb)
    else:
        nbformat.write(nb, path)
    stamp = timestamp or _dt.datetime(2026, 1, 15, 12, 0, 0, tzinfo=_dt.timezone.utc)
    (folder / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
    return path


# A correct but short training for train_classifier, worth partial credit (its namespace needs
# np, backprop and sgd_step).
WEAK_TRAINING = """
def train_classifier(X_train, y_train, hidden_sizes, activations):
    rng = np.random.default_rng(0)
    widths = [X_train.shape[1]] + list(hidden_sizes) + [10]
    params = {}
    for l in range(1, len(widths)):
        gain = 2.0 if l < len(widths) - 1 and activations[l - 1] == "relu" else 1.0
        params[f"W{l}"] = rng.standard_normal((widths[l], widths[l - 1])) * np.sqrt(gain / widths[l - 1])
        params[f"b{l}"] = np.zeros(widths[l])
    Y = np.eye(10)[y_train]
    for epoch in range(2):
        order = rng.permutation(X_train.shape[0])
        for start in range(0, len(order), 32):
            rows = order[start:start + 32]
            grads = backprop(X_train[rows], Y[rows], params, activations, "softmax_ce")
            params = sgd_step(params, grads, 0.2)
    return params
"""
"""The backprop assignment's ``train_classifier``, trained for 2 epochs instead of 25: for
:data:`WEAK_TRAINING_STUDENT` about 83 % held out, which earns partial credit."""
WEAK_TRAINING_STUDENT = "instructor-demo"
