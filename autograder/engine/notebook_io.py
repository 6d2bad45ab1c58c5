"""Read notebooks as plain JSON (never executing anything) and extract the graded cells.

The instructor's source notebook ``assignments/<name>/<name>.ipynb`` defines the layout: which
nbgrader ``grade_id`` is a solution code cell (one graded function each), a written answer
(markdown solution cell) or a test cell. From a student's notebook only the solution cells and
written answers are taken, by ``grade_id``; every other cell comes from the source.

A submission that cannot be read at all (missing or renamed file, a symbolic link, empty, not
UTF-8, not JSON, not a v4 notebook, too large) gets a *fatal* reason: all its tests score 0. A
solution cell that is missing, duplicated, turned into another cell type or whose nbgrader
metadata was changed gets a *problem*: the tests of that one function score 0. Changes to other
cells (deleted, duplicated or edited test cells) are only noted, since the tests come from the
source."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

SAFE_SETUP_MODULES = {"numpy", "math", "functools", "itertools", "collections", "typing"}
"""Modules a source setup cell may import to be replayed before the student's cells (a setup
cell is an ungraded source code cell made only of import statements)."""


@dataclass
class Layout:
    """Graded cells of a source notebook.

    Attributes
    ----------
    assignment : assignment name; notebook : notebook file name.
    solutions : grade_ids of solution code cells, in notebook order (= function names).
    written : grade_ids of written answers (markdown solution cells).
    tests : ``{grade_id: points}`` of test (grade) cells.
    setup : source code of ungraded code cells made only of imports of numerical modules, and
        of locked cells that only define functions (replayed before the student's cells).
    known : every grade_id of the source (also locked read-only cells).
    raw : the whole source notebook as a dict (to rebuild a clean copy for formgrader).
    """

    assignment: str
    notebook: str
    solutions: list[str]
    written: list[str]
    tests: dict[str, float]
    setup: list[str]
    known: list[str]
    raw: dict = field(repr=False, default_factory=dict)


@dataclass
class Extraction:
    """What could be taken from one submission.

    Attributes
    ----------
    solutions : ``{grade_id: code}`` of usable solution cells.
    answers : ``{grade_id: markdown}`` of written answers.
    problems : ``{grade_id: reason}`` for solution cells that cannot be used.
    notes : changes elsewhere in the notebook (no effect on the score).
    fatal : reason the whole notebook is unusable, or None.
    """

    solutions: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fatal: str | None = None


def source_notebook_path(course_root: Path | str, assignment: str) -> Path:
    """``<course_root>/assignments/<assignment>/<assignment>.ipynb``."""
    return Path(course_root) / "assignments" / assignment / f"{assignment}.ipynb"


def _meta(cell: dict) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def _text(cell: dict) -> str | None:
    source = cell.get("source")
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return None


def _is_safe_setup(code: str, allow_defs: bool = False) -> bool:
    """True for code made only of imports of :data:`SAFE_SETUP_MODULES` and, when
    ``allow_defs`` (a locked cell the instructor wrote and students may call, such as the
    given ``backprop_per_example``), function definitions."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    for node in tree.body:
        if allow_defs and isinstance(node, ast.FunctionDef):
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            return False
        if any(n.split(".")[0] not in SAFE_SETUP_MODULES for n in names):
            return False
    return bool(tree.body)


def load_layout(course_root: Path | str, assignment: str) -> Layout:
    """Read the layout of the source notebook of ``assignment`` (trusted input).

    Cached per file path and modification time (read once per batch, not once per student).
    """
    path = source_notebook_path(course_root, assignment).resolve()
    stat = path.stat()
    return _load_layout(str(path), stat.st_mtime_ns, stat.st_size, assignment)


@functools.lru_cache(maxsize=16)
def _load_layout(path: str, mtime_ns: int, size: int, assignment: str) -> Layout:
    path = Path(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    solutions, written, tests, setup, other = [], [], {}, [], []
    for cell in raw["cells"]:
        meta, kind = _meta(cell), cell.get("cell_type")
        gid = meta.get("grade_id")
        if gid:
            other.append(gid)
        if meta.get("solution") and not meta.get("grade"):
            (solutions if kind == "code" else written).append(gid)
        elif meta.get("grade") and kind == "code":
            tests[gid] = float(meta.get("points", 0))
        elif meta.get("grade") and meta.get("solution"):
            written.append(gid)
        elif kind == "code" and _is_safe_setup(_text(cell) or "", bool(meta.get("locked"))):
            setup.append(_text(cell) or "")
    return Layout(assignment, path.name, solutions, written, tests, setup, other, raw)


def find_submission(course_root: Path | str, assignment: str, student: str,
                    layout: Layout) -> tuple[Path | None, str | None]:
    """Path of the student's notebook, or ``(None, reason)`` when it is missing or renamed."""
    folder = Path(course_root) / "submitted" / student / assignment
    path = folder / layout.notebook
    if path.is_file():
        return path, None
    others = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    if others:
        return None, (f"{layout.notebook} is missing (found {', '.join(others)}): "
                      "a renamed notebook is not graded")
    return None, f"no notebook submitted (expected {layout.notebook})"


def extract(path: Path | str, layout: Layout, max_bytes: int = 20 << 20) -> Extraction:
    """Take the solution cells and written answers out of a submitted notebook (untrusted)."""
    out = Extraction()
    path = Path(path)
    if path.is_symlink():
        out.fatal = "the notebook is a symbolic link, not a file"
        return out
    try:
        size = path.stat().st_size
        if size > max_bytes:
            out.fatal = f"the notebook is {size} bytes, more than the {max_bytes} allowed"
            return out
        data = path.read_bytes()
    except OSError as exc:
        out.fatal = f"the notebook cannot be read: {exc.strerror or exc}"
        return out
    if not data.strip():
        out.fatal = "the notebook file is empty"
        return out
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        out.fatal = f"the notebook is not UTF-8 text (bad byte at offset {exc.start})"
        return out
    try:
        nb = json.loads(text)
    except (ValueError, RecursionError) as exc:
        out.fatal = f"the notebook is not valid JSON ({str(exc)[:120]})"
        return out
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or nb.get("nbformat") != 4:
        out.fatal = "the file is not a Jupyter notebook (nbformat 4)"
        return out
    by_id: dict[str, list[dict]] = {}
    for cell in nb["cells"]:
        gid = _meta(cell).get("grade_id")
        if isinstance(gid, str):
            by_id.setdefault(gid, []).append(cell)
    for gid in layout.solutions:
        found = by_id.get(gid, [])
        reason = _solution_problem(found, code=True)
        if reason:
            out.problems[gid] = f"solution cell {gid!r} {reason}"
        else:
            out.solutions[gid] = _text(found[0])
    for gid in layout.written:
        found = by_id.get(gid, [])
        if len(found) == 1 and _text(found[0]) is not None:
            out.answers[gid] = _text(found[0])
        else:
            out.notes.append(f"written answer {gid!r} " + (_solution_problem(found, code=False)
                                                           or "is unreadable"))
    for gid in layout.tests:
        count = len(by_id.get(gid, []))
        if count != 1:
            out.notes.append(f"test cell {gid!r} " + ("was deleted (the original is used)" if
                             count == 0 else f"appears {count} times (the original is used)"))
    known = set(layout.known)
    extra = sorted(set(by_id) - known)
    if extra:
        out.notes.append(f"unknown nbgrader cells ignored: {', '.join(extra)[:200]}")
    return out


def _solution_problem(found: list[dict], code: bool) -> str | None:
    if not found:
        return "was deleted"
    if len(found) > 1:
        return f"appears {len(found)} times (duplicated cell)"
    cell, meta = found[0], _meta(found[0])
    if code and cell.get("cell_type") != "code":
        return f"was changed into a {cell.get('cell_type')!s} cell"
    if not meta.get("solution") or (code and meta.get("grade")):
        return "had its nbgrader metadata changed"
    if _text(cell) is None:
        return "has an unreadable source"
    return None
