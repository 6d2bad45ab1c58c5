"""Read notebooks as plain JSON (never executing anything) and extract the graded cells.

The instructor's source notebook ``assignments/<name>/<name>.ipynb`` defines the layout: which
nbgrader ``grade_id`` is a solution code cell (one graded function each), a written answer
(markdown solution cell) or a test cell. From a student's notebook only the solution cells and
written answers are taken, by ``grade_id``; every other cell comes from the source.

The submission's notebook is chosen by :func:`choose_notebook`, the rule of both grading
paths (local and Gradescope): the released name, else the only notebook there is. A submission
that cannot be read at all (no notebook, several and none with the released name, a symbolic
link, empty, not UTF-8, not JSON, not a v4 notebook, too large) gets a *fatal* reason: all its
tests score 0. A
solution cell that is missing, duplicated, turned into another cell type or whose nbgrader
metadata was changed gets a *problem*: the tests of that one function score 0. Changes to other
cells (deleted, duplicated or edited test cells) are only noted, since the tests come from the
source.

Besides the solution cells, the sandbox runs the rest of the notebook's code the way
``nbgrader autograde`` does, in the student's notebook order (:attr:`Extraction.program`):

* a code cell the student added, or a given unlocked cell the student edited (no nbgrader
  ``grade_id``), runs in full as the student's code (it is policy-scanned like a solution);
* a given cell (a locked source cell, or an unlocked one left as released) is replayed from
  the source, but only its imports and its function and class definitions: its names exist,
  while its demonstration code (which calls the student's functions) does not run in every
  test process;
* test cells never run there (the grader runs the tests itself).

Limits: the file itself may hold up to ``max_notebook_mb`` (outputs included; a memory safety
cap, not a grading rule); the student's *code* (solution and added cells) may hold up to
:data:`autograder.engine.policy.MAX_CODE_BYTES`, whatever the outputs weigh. Every function
here takes untrusted input and never raises on it: whatever is wrong ends up as ``fatal``,
``problems`` or ``notes``."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from autograder.engine import policy

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
    given : ``{grade_id: replay code}`` of the locked given code cells (the imports and
        definitions of each, see :func:`definitions_of`).
    given_texts : ``{source text: replay code}`` of the given code cells without a grade_id,
        to recognise them unchanged in a submission.
    source_imports : modules imported by the source's given and test cells: a student's copy
        of such an import (in an edited given cell) is not flagged.
    """

    assignment: str
    notebook: str
    solutions: list[str]
    written: list[str]
    tests: dict[str, float]
    setup: list[str]
    known: list[str]
    raw: dict = field(repr=False, default_factory=dict)
    given: dict[str, str] = field(repr=False, default_factory=dict)
    given_texts: dict[str, str] = field(repr=False, default_factory=dict)
    source_imports: frozenset = frozenset()


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
    program : the code the sandbox runs, in notebook order: dicts ``{"kind", "grade_id",
        "cell", "code"}`` where ``kind`` is ``"solution"`` (``grade_id`` = the function),
        ``"added"`` (a code cell without a grade_id: the student's code, ``grade_id`` None) or
        ``"given"`` (trusted replay code from the source); ``cell`` is the cell's index.
    """

    solutions: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fatal: str | None = None
    program: list[dict] = field(default_factory=list)

    @property
    def student_code(self) -> list[str]:
        """The student's code in the program (solutions and added cells)."""
        return [p["code"] for p in self.program if p["kind"] != "given"]


def source_notebook_path(course_root: Path | str, assignment: str) -> Path:
    """``<course_root>/assignments/<assignment>/<assignment>.ipynb``."""
    return Path(course_root) / "assignments" / assignment / f"{assignment}.ipynb"


def _meta(cell: dict) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbg if isinstance(nbg, dict) else {}


def _text(cell) -> str | None:
    if not isinstance(cell, dict):
        return None
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


def definitions_of(code: str) -> str:
    """The top-level imports and function/class definitions of trusted ``code``, each in its
    own ``try: ... except Exception: pass`` ("" if there are none or the code does not parse):
    what a given cell contributes to the student's namespace, errors ignored (an import the
    sandbox lacks, such as ``autograder``, leaves the other names defined)."""
    import ast

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return ""
    kept = [ast.Try(body=[node], handlers=[ast.ExceptHandler(
                type=ast.Name("Exception", ast.Load()), name=None, body=[ast.Pass()])],
                    orelse=[], finalbody=[])
            for node in tree.body if isinstance(node, (
                ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return ast.unparse(ast.Module(body=kept, type_ignores=[])) if kept else ""


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
    given, given_texts, imports = {}, {}, set()
    for cell in raw["cells"]:
        meta, kind = _meta(cell), cell.get("cell_type")
        gid = meta.get("grade_id")
        if gid:
            other.append(gid)
        if meta.get("solution") and not meta.get("grade"):
            (solutions if kind == "code" else written).append(gid)
            continue
        if kind == "code":
            imports.update(policy.imported_modules(_text(cell) or ""))
        if meta.get("grade") and kind == "code":
            tests[gid] = float(meta.get("points", 0))
        elif meta.get("grade") and meta.get("solution"):
            written.append(gid)
        elif kind == "code":
            text = _text(cell) or ""
            if gid:
                given[gid] = definitions_of(text)
            else:
                given_texts[text] = definitions_of(text)
            if _is_safe_setup(text, bool(meta.get("locked"))):
                setup.append(text)
    return Layout(assignment, path.name, solutions, written, tests, setup, other, raw,
                  given, given_texts, frozenset(imports))


SKIPPED_FOLDERS = {"__MACOSX"}
"""Folders of a submission never searched for notebooks (besides hidden ones such as
``.ipynb_checkpoints``)."""


def choose_notebook(folder: Path | str, expected: str) -> tuple[Path | None, str]:
    """The notebook of a submission folder, by the one rule of both grading paths.

    The notebook named ``expected`` (the released name) in ``folder``, else anywhere under it;
    else, when the folder holds exactly one notebook, that one (a student who renamed it, or a
    download named ``forward_pass (1).ipynb``, is graded); else none. Hidden folders,
    ``__MACOSX`` and symbolic links are never chosen.

    Returns ``(path or None, note)``: the note says which notebook was chosen instead of
    ``expected``, or why none was; it is ``""`` when ``expected`` was found.
    """
    folder = Path(folder)
    top = folder / expected
    if top.is_file() and not top.is_symlink() and not folder.is_symlink():
        return top, ""  # the usual case, without walking the folder
    found = []
    if folder.is_dir() and not folder.is_symlink():
        for path in sorted(folder.rglob("*.ipynb")):
            parts = path.relative_to(folder).parts
            if (SKIPPED_FOLDERS & set(parts[:-1]) or any(p.startswith(".") for p in parts)
                    or path.is_symlink() or not path.is_file()):
                continue
            found.append(path)
    exact = [p for p in found if p.name == expected]
    if exact:
        return exact[0], ""
    if len(found) == 1:
        return found[0], f"graded {found[0].name} (expected the name {expected})"
    if not found:
        return None, f"no notebook submitted (expected {expected})"
    names = ", ".join(p.name for p in found[:5])
    return None, f"several notebooks submitted ({names}) and none is named {expected}"


def find_submission(course_root: Path | str, assignment: str, student: str,
                    layout: Layout) -> tuple[Path | None, str | None]:
    """Path of the student's notebook (:func:`choose_notebook` in
    ``submitted/<student>/<assignment>/``), or ``(None, reason)`` when there is none."""
    folder = Path(course_root) / "submitted" / student / assignment
    path, note = choose_notebook(folder, layout.notebook)
    if path is None:
        return None, note
    return path, None


def extract(path: Path | str, layout: Layout, max_bytes: int = 100 << 20) -> Extraction:
    """Take the solution cells and written answers out of a submitted notebook (untrusted).

    ``max_bytes`` caps the file (outputs included). Never raises on a bad file: the reason is
    in the returned ``fatal``, ``problems`` or ``notes``.
    """
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
    return extract_bytes(data, layout)


def extract_bytes(data: bytes, layout: Layout) -> Extraction:
    """:func:`extract` on the file's bytes (no size cap here: the caller caps them)."""
    out = Extraction()
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
    return extract_notebook(nb, layout)


def extract_notebook(nb, layout: Layout) -> Extraction:
    """:func:`extract` on the decoded JSON (any value: every type is checked)."""
    out = Extraction()
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
    out.program = _program(nb["cells"], layout, out)
    return out


def _program(cells: list, layout: Layout, out: Extraction) -> list[dict]:
    """The code the sandbox runs, in the order of the student's notebook (see the module
    docstring); unreadable added cells are noted and skipped."""
    program, seen, unreadable = [], set(), 0
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        gid = _meta(cell).get("grade_id")
        if isinstance(gid, str) and gid:
            if gid in seen:
                continue
            seen.add(gid)
            if gid in out.solutions:
                program.append({"kind": "solution", "grade_id": gid, "cell": index,
                                "code": out.solutions[gid]})
            elif layout.given.get(gid):
                program.append({"kind": "given", "grade_id": gid, "cell": index,
                                "code": layout.given[gid]})
            continue  # tests, unusable solutions and unknown nbgrader cells do not run
        text = _text(cell)
        if text is None:
            unreadable += 1
        elif text in layout.given_texts:
            if layout.given_texts[text]:
                program.append({"kind": "given", "grade_id": None, "cell": index,
                                "code": layout.given_texts[text]})
        elif text.strip():
            program.append({"kind": "added", "grade_id": None, "cell": index, "code": text})
    if unreadable:
        out.notes.append(f"{unreadable} code cell(s) with an unreadable source were ignored")
    return program


def _solution_problem(found: list[dict], code: bool) -> str | None:
    if not found:
        return "was deleted"
    if len(found) > 1:
        return f"appears {len(found)} times (duplicated cell)"
    cell, meta = found[0], _meta(found[0])
    if not isinstance(cell, dict):
        return "is not a cell"
    if code and cell.get("cell_type") != "code":
        kind = cell.get("cell_type")
        return f"was changed into a {str(kind)[:40] if isinstance(kind, str) else 'broken'} cell"
    if not meta.get("solution") or (code and meta.get("grade")):
        return "had its nbgrader metadata changed"
    if _text(cell) is None:
        return "has an unreadable source"
    return None
