"""Inside the Gradescope container: grade ``submission/*.ipynb`` and write ``results.json``.

Run by the package's ``run_autograder`` (see :mod:`autograder.deploy.gradescope`)::

    python -P -m autograder.deploy.gradescope_run [--root /autograder] [--prepare] [--no-bwrap]

The root folder (default ``/autograder``, or ``$AUTOGRADER_ROOT``) holds ``source/`` (the
unpacked package, with ``course_root/`` inside), ``submission/``, ``submission_metadata.json``
and ``results/``. ``--prepare`` (called by ``setup.sh``) only locks the files and checks the
sandbox.

Grading is :func:`autograder.engine.runner.grade_submission` with the hardened sandbox: bubblewrap
when the container allows it (checked by starting one), otherwise rlimits and an unprivileged
uid. Before grading, :func:`lock` removes the "other" permission bits of the grader's files
(the package's folder, and the installed ``course``/``autograder`` packages when they live under
the root) so the student's process, which runs as an unprivileged uid, cannot read the secret,
the source notebook or the task specs, even without bubblewrap. Only the sandbox's own code stays
readable.

``results.json`` follows Gradescope's format (:func:`autograder.outputs.exports.gradescope_results`)
and obeys one rule: **nothing a student can see before the instructor publishes the grades
depends on a hidden case's outcome.** Gradescope shows each test by its own ``visibility`` and
the overall score and output by the top-level ``visibility``. Hence:

- hidden cases are tests with ``visibility = "after_published"`` (name, score, status, output);
- the top-level score counts hidden points, so for an assignment with hidden cases the
  top-level ``visibility`` is ``"after_published"``; visible cases stay ``"visible"`` (they are
  the same for every outcome of the hidden ones);
- no ``execution_time`` is written (a hidden case stopped at the time limit would lengthen
  it); the time is printed to the log instead;
- everything printed goes to the autograder's stdout, which students do not see
  (``stdout_visibility = "hidden"``), and student-controlled names in it are inert.

``tests/distributed/test_gradescope_hidden.py`` checks the rule field by field: the part of
``results.json`` visible before publication is identical whether the hidden cases pass, fail or
crash.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
import time
import traceback
import warnings
from pathlib import Path

ROOT_ENV = "AUTOGRADER_ROOT"
DEFAULT_ROOT = "/autograder"


def default_root() -> Path:
    """``$AUTOGRADER_ROOT`` or ``/autograder``."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def layout(root: Path | str) -> dict[str, Path]:
    """The paths the autograder uses under ``root``."""
    root = Path(root)
    source = root / "source"
    return {"root": root, "source": source, "course_root": source / "course_root",
            "package": source / "package.json", "submission": root / "submission",
            "metadata": root / "submission_metadata.json",
            "results": root / "results" / "results.json"}


# --------------------------------------------------------------------------- file permissions
def _drop_other(path: Path) -> None:
    mode = stat.S_IMODE(path.lstat().st_mode)
    if mode & 0o007:
        os.chmod(path, mode & ~0o007)


def _lock_tree(top: Path) -> None:
    if top.is_symlink() or not top.exists():
        return
    _drop_other(top)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                _drop_other(path)


def lock(root: Path | str) -> list[Path]:
    """``chmod o=`` the grader's files under ``root``; returns the folders locked.

    Locks ``source/`` and, when they are installed under ``root`` (the package's venv), the
    ``course`` and ``autograder`` packages. The code that runs inside the sandbox
    (:data:`autograder.sandbox.launcher.HARNESS`, a module or a package folder) stays readable
    and the folders above it traversable (``o=x``, not listable), because the unprivileged
    sandbox process starts from it. Nothing outside ``root`` is changed.
    """
    from autograder.deploy import gradescope
    from autograder.sandbox import launcher as sandbox

    paths = layout(root)
    root = paths["root"].resolve()
    done = []
    if paths["source"].is_dir():
        _lock_tree(paths["source"])
        done.append(paths["source"])
    for package in gradescope.PACKAGES:
        folder = gradescope.package_dir(package)
        if root in folder.parents:
            _lock_tree(folder)
            done.append(folder)
    harness = sandbox.HARNESS.resolve()
    if root in harness.parents:
        _unlock_tree(harness)
        for folder in harness.parents:
            if folder == root or root not in folder.parents:
                break
            os.chmod(folder, stat.S_IMODE(folder.stat().st_mode) | 0o001)
    return done


def _unlock_tree(top: Path) -> None:
    """Make the sandbox's own code (a file, or a package folder) readable by everyone again:
    files ``o+r``, folders ``o+rx``."""
    paths = [top] + ([p for p in top.rglob("*") if not p.is_symlink()] if top.is_dir() else [])
    for path in paths:
        extra = 0o005 if path.is_dir() else 0o004
        os.chmod(path, stat.S_IMODE(path.stat().st_mode) | extra)


# --------------------------------------------------------------------------- sandbox check
def bwrap_usable() -> tuple[bool, str]:
    """Start one bubblewrap sandbox with a trivial test; ``(works, why not)``."""
    from autograder.sandbox import launcher as sandbox

    if sandbox.bwrap_path() is None:
        return False, "bwrap is not installed"
    limits = sandbox.Limits(use_bwrap=True, timeout=20.0, warm=False)  # one submission
    case = {"id": "probe", "function": "probe", "kind": "value", "inputs": {}}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = sandbox.run_cases(["import numpy as np\n"],
                                        ["def probe():\n    return np.arange(3)\n"],
                                        [case], limits)["probe"]
    except RuntimeError as exc:  # e.g. the interpreter is not under /usr
        return False, str(exc)
    if outcome["status"] == "ok" and list(outcome["value"]) == [0, 1, 2]:
        return True, ""
    why = "; ".join(str(w.message) for w in caught) or outcome["message"] or outcome["status"]
    return False, why[:500]


# --------------------------------------------------------------------------- the submission
def find_notebook(folder: Path, expected: str) -> tuple[Path | None, str]:
    """The submitted notebook, by the rule the local grader uses too
    (:func:`autograder.engine.notebook_io.choose_notebook`): ``expected`` anywhere under
    ``folder``, else the only notebook.

    Returns ``(path or None, note)``; the note says what was chosen or why nothing was.
    """
    from autograder.engine.notebook_io import choose_notebook

    return choose_notebook(folder, expected)


def student_id(metadata: Path) -> str:
    """``gs-<user id>`` from Gradescope's submission metadata, or ``gradescope``."""
    try:
        users = json.loads(metadata.read_text(encoding="utf-8")).get("users") or []
        uid = str(users[0].get("id") or users[0].get("email") or "")
    except (OSError, ValueError, AttributeError, IndexError, TypeError):
        uid = ""
    uid = re.sub(r"[^A-Za-z0-9_.@-]", "_", uid)[:64]
    return f"gs-{uid}" if uid else "gradescope"


def grade(root: Path | str, use_bwrap: bool | None = None) -> dict:
    """Grade the submission under ``root``; returns the Gradescope results dict."""
    from autograder.engine import config as config_mod
    from autograder.engine import runner
    from autograder.outputs.exports import gradescope_results
    from autograder.outputs.safe import inert

    paths = layout(root)
    meta = json.loads(paths["package"].read_text(encoding="utf-8"))
    assignment = meta["assignment"]
    course_root = paths["course_root"]
    os.environ["FNN_COURSE_ROOT"] = str(course_root.resolve())  # where the assignment's cases are
    notebook, note = find_notebook(paths["submission"], f"{assignment}.ipynb")
    options = config_mod.load_config(course_root)
    if use_bwrap is None:
        use_bwrap, why = bwrap_usable()
        if not use_bwrap:
            print(f"bubblewrap unusable here ({why}): rlimits and an unprivileged uid only")
    options["use_bwrap"] = use_bwrap
    options["warm_sandboxes"] = False  # one submission per container: nothing to reuse
    student = student_id(paths["metadata"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = runner.grade_submission(course_root, assignment, student, notebook, options)
    out = gradescope_results(result)
    if note:
        out["output"] = f"{inert(note)}\n{out['output']}"
    print(f"student {student}, notebook {inert(notebook)}, sandbox {result['sandbox']}, "
          f"score {result['total']:g} / {result['max_total']:g}")
    for error in result["errors"]:
        print(f"grader error: {inert(error)}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``run_autograder``."""
    parser = argparse.ArgumentParser(prog="gradescope_run")
    parser.add_argument("--root", default=None, help="autograder root (default $AUTOGRADER_ROOT "
                        "or /autograder)")
    parser.add_argument("--prepare", action="store_true", help="lock files, check the sandbox")
    parser.add_argument("--no-bwrap", action="store_true", help="grade without bubblewrap")
    args = parser.parse_args(argv)
    root = Path(args.root) if args.root else default_root()
    import autograder

    print(f"fnn-course grader from {list(autograder.__path__)[0]}")
    try:
        locked = lock(root)
        print("locked (chmod o=): " + ", ".join(str(p) for p in locked))
    except OSError as exc:  # not our files (not root?): grade anyway, say so in the log
        print(f"warning: could not lock the grader's files: {exc}")
    if args.prepare:
        works, why = bwrap_usable()
        print("bubblewrap sandbox: " + ("works" if works else f"unusable ({why}); submissions "
                                        "will run with rlimits and an unprivileged uid"))
        return 0
    start = time.monotonic()
    try:
        results = grade(root, use_bwrap=False if args.no_bwrap else None)
    except Exception:  # a fault of the grader: tell the staff in stdout, the student briefly
        traceback.print_exc(file=sys.stdout)
        results = {"score": 0.0, "tests": [], "visibility": "visible",
                   "stdout_visibility": "hidden", "output_format": "text",
                   "output": "The autograder failed with an internal error; please tell the "
                             "course staff. Your submission was not graded."}
    from autograder.outputs.exports import gradescope_json
    from autograder.outputs.safe import atomic_write

    path = atomic_write(layout(root)["results"], gradescope_json(results))
    # not in results.json: the time depends on the hidden cases (e.g. one at the time limit)
    print(f"wrote {path} after {time.monotonic() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
