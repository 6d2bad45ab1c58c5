"""Where assignments come from: each one is a folder of the course root.

An assignment is a self-contained unit, ``<course root>/assignments/<name>/``:

* ``<name>.ipynb``: the nbgrader source notebook (solutions, visible and hidden tests);
* ``cases.py``: the module that defines its graded cases as ``SPEC``, an
  :class:`autograder.cases.spec.AssignmentSpec` (kept out of the student release by
  ``nbgrader_config.py``).

The batch grader, the in-notebook checks and ``make check`` all find an assignment here, so an
instructor adds one by adding its folder; nothing in the package changes.

The course root is, in order: the ``course_root`` argument, the ``FNN_COURSE_ROOT`` environment
variable, for :func:`get_spec` the nearest folder above the working directory that holds
``nbgrader_config.py`` and ``assignments/<name>/cases.py`` (``nbgrader autograde`` runs a notebook
inside its course), or the folder that holds this package (a clone of the course installed in
editable mode, which is how ``make lab`` and ``make test`` install it).
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
from pathlib import Path

from autograder.cases.spec import AssignmentSpec

CASES_FILE = "cases.py"
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
"""An assignment name: a folder name that is also a Python identifier (at most 64 characters)."""
_LOCK = threading.Lock()
_LOADED: dict[Path, AssignmentSpec] = {}


def default_course_root() -> Path:
    """The course root used when none is given (see the module docstring)."""
    env = os.environ.get("FNN_COURSE_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[3]


def _root(course_root) -> Path:
    return Path(course_root).resolve() if course_root is not None else default_course_root()


def list_assignments(course_root=None) -> tuple[str, ...]:
    """Names of the graded assignments of a course root, sorted: folders
    ``assignments/<name>/`` that hold ``<name>.ipynb`` and ``cases.py``."""
    folder = _root(course_root) / "assignments"
    if not folder.is_dir():
        return ()
    names = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if not (NAME_PATTERN.fullmatch(name) and (path / f"{name}.ipynb").is_file()):
            continue
        if (path / CASES_FILE).is_file():
            names.append(name)
    return tuple(names)


def _enclosing_course(name: str) -> Path | None:
    """The nearest folder at or above the working directory with ``nbgrader_config.py`` and
    ``assignments/<name>/cases.py``, or None."""
    try:
        here = Path.cwd().resolve()
    except OSError:
        return None
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file() and \
                (folder / "assignments" / name / CASES_FILE).is_file():
            return folder
    return None


def get_spec(name: str, course_root=None) -> AssignmentSpec:
    """The :class:`AssignmentSpec` of assignment ``name`` in ``course_root``.

    Raises
    ------
    ValueError
        If ``name`` is not an assignment of the course root (the message lists those that are).
    """
    if type(name) is not str or not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"name must be an assignment name (letters, digits, _), got {name!r}")
    if course_root is None and not os.environ.get("FNN_COURSE_ROOT"):
        course_root = _enclosing_course(name)
    root = _root(course_root)
    path = root / "assignments" / name / CASES_FILE
    if path.is_file():
        return _load_file(name, path.resolve())
    known = list_assignments(root)
    raise ValueError(f"name must be one of the assignments of {root} ({', '.join(known) or 'none'}),"
                     f" got {name!r}")


def _load_file(name: str, path: Path) -> AssignmentSpec:
    """Import ``path`` once per process as module ``fnn_assignment_<name>`` and return its SPEC."""
    with _LOCK:
        if path in _LOADED:
            return _LOADED[path]
        module_name = f"fnn_assignment_{name}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
        result = getattr(module, "SPEC", None)
        if not isinstance(result, AssignmentSpec):
            raise ValueError(f"{path} must define SPEC, an AssignmentSpec; got "
                             f"{type(result).__name__}")
        if result.name != name:
            raise ValueError(f"{path} defines SPEC.name {result.name!r}; expected {name!r} "
                             "(the folder's name)")
        _LOADED[path] = result
        return result


TEMPLATE = Path(__file__).resolve().parents[1] / "template"
"""The assignment template: ``template.ipynb`` and ``cases.py``, with ``__ASSIGNMENT__`` where
the new assignment's name goes."""


def new_assignment(name: str, course_root=None) -> Path:
    """Create ``assignments/<name>/`` from the template and return the folder.

    The folder holds ``<name>.ipynb`` (an nbgrader source notebook with one graded function, its
    visible and hidden tests and a written answer) and ``cases.py`` (its graded cases). Edit
    both; ``fnn-grade grade <name>`` and the in-notebook checks find the assignment at once.

    Raises
    ------
    ValueError
        If ``name`` is not a valid assignment name or the folder already exists.
    """
    root = _root(course_root)
    if type(name) is not str or not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"name must start with a letter and hold only letters, digits and _ "
                         f"(at most 64 characters), got {name!r}")
    if not (root / "assignments").is_dir():
        raise ValueError(f"course_root must hold an assignments/ folder, got {root}")
    folder = root / "assignments" / name
    if folder.exists():
        raise ValueError(f"{folder} already exists: choose another name")
    folder.mkdir()
    for source, target in (("template.ipynb", f"{name}.ipynb"), ("cases.py", CASES_FILE)):
        text = (TEMPLATE / source).read_text(encoding="utf-8")
        (folder / target).write_text(text.replace("__ASSIGNMENT__", name), encoding="utf-8")
    return folder
