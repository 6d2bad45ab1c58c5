"""Read and analyse one submission within fixed bounds of the grader's CPU and memory.

:func:`analyse` reads the notebook (:func:`autograder.engine.notebook_io.extract`), turns IPython
syntax into Python (:func:`autograder.engine.policy.transform_magics`) and scans every cell of the
student's code (:func:`autograder.engine.policy.scan`). Parsing untrusted text is what costs the
parent: ``json.loads`` of a crafted 100 MB file or ``ast.parse`` of 1 MB of code can take
gigabytes. So the work runs in the grader's own process only for ordinary submissions (a file
up to :data:`INLINE_NOTEBOOK_BYTES` and code up to
:data:`autograder.engine.policy.INLINE_CODE_BYTES`); anything larger is analysed by a fresh Python
process limited to :data:`CHILD_MEMORY_BYTES` of address space and :data:`CHILD_CPU_S` of CPU,
which runs the same functions (trusted code, on the untrusted file) and returns plain JSON. If
that process fails, the submission gets a fatal reason; the batch goes on.

The result is a plain dict: ``fatal`` (reason or None), ``solutions``, ``answers``,
``problems``, ``notes`` (as in :class:`autograder.engine.notebook_io.Extraction`), ``program``
(the code the sandbox runs, magics transformed) and ``scans`` (one list of ``(rule, detail)``
per program entry).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from autograder.engine import notebook_io, policy

INLINE_NOTEBOOK_BYTES = 4 << 20
"""Notebook files up to this size are read in the grader's own process (the worst JSON of
this size, millions of empty lists, takes ~120 MB)."""

CHILD_MEMORY_BYTES = 3 << 30
"""Address space of the process that analyses a large submission (2 MiB of code can take
~1.9 GB to parse)."""

CHILD_CPU_S = 30
"""CPU seconds of the process that analyses a large submission."""

CHILD_WALL_S = 90.0
"""Wall-clock seconds before that process is killed."""

_ROOT = str(Path(__file__).resolve().parents[2])

_CHILD = """\
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
resource.setrlimit(resource.RLIMIT_CPU, ({cpu}, {cpu}))
sys.path.insert(0, {root!r})
from autograder.engine import analysis
args = json.loads(sys.stdin.buffer.read())
sys.stdout.write(json.dumps(analysis.analyse_here(**args)))
"""


def code_bytes(codes) -> int:
    """UTF-8 size of the student's code (lone surrogates count as 3 bytes each)."""
    return sum(len(code.encode("utf-8", "surrogatepass")) for code in codes)


def finish(extraction: notebook_io.Extraction, layout: notebook_io.Layout,
           packages: tuple[str, ...] | None = None) -> dict:
    """Transform and scan an extraction's program (its code must be within the limit)."""
    result = {"fatal": extraction.fatal, "solutions": extraction.solutions,
              "answers": extraction.answers, "problems": extraction.problems,
              "notes": extraction.notes, "program": [], "scans": []}
    if extraction.fatal:
        return result
    size = code_bytes(extraction.student_code)
    if size > policy.MAX_CODE_BYTES:
        result["fatal"] = (f"the notebook holds {size} bytes of code, more than the "
                           f"{policy.MAX_CODE_BYTES} the grader accepts")
        return result
    packages = policy.sandbox_packages() if packages is None else tuple(packages)
    for entry in extraction.program:
        entry = dict(entry)
        found = []
        if entry["kind"] != "given":
            entry["code"] = policy.transform_magics(entry["code"])
            allowed = layout.source_imports if entry["kind"] == "added" else frozenset()
            found = [list(flag) for flag in policy.scan(entry["code"], allowed, packages)]
        result["program"].append(entry)
        result["scans"].append(found)
    return result


def analyse_here(path: str, course_root: str, assignment: str, max_bytes: int,
                 packages: list[str]) -> dict:
    """:func:`analyse` without the size switch (what the limited process runs)."""
    layout = notebook_io.load_layout(course_root, assignment)
    return finish(notebook_io.extract(path, layout, max_bytes), layout, tuple(packages))


def analyse(path, layout: notebook_io.Layout, course_root, max_bytes: int) -> dict:
    """Read and analyse one submitted notebook; see the module docstring.

    Parameters
    ----------
    path : the submitted notebook.
    layout : the assignment's layout (from ``course_root``).
    course_root : the course root (the limited process reads the layout from there).
    max_bytes : the largest notebook file accepted (outputs included).
    """
    path = Path(path)
    packages = policy.sandbox_packages()
    try:
        large = not path.is_symlink() and path.stat().st_size > INLINE_NOTEBOOK_BYTES
    except OSError:
        large = False  # extract reports why the file cannot be read
    if not large:
        extraction = notebook_io.extract(path, layout, max_bytes)
        size = code_bytes(extraction.student_code)
        if extraction.fatal or size <= policy.INLINE_CODE_BYTES or size > policy.MAX_CODE_BYTES:
            return finish(extraction, layout, packages)
    args = {"path": str(path), "course_root": str(course_root), "assignment": layout.assignment,
            "max_bytes": int(max_bytes), "packages": list(packages)}
    return _in_child(args)


def _in_child(args: dict) -> dict:
    script = _CHILD.format(memory=CHILD_MEMORY_BYTES, cpu=CHILD_CPU_S, root=_ROOT)
    failed = {"fatal": None, "solutions": {}, "answers": {}, "problems": {}, "notes": [],
              "program": [], "scans": []}
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", script], input=json.dumps(args).encode(),
                              capture_output=True, timeout=CHILD_WALL_S)
    except subprocess.TimeoutExpired:
        failed["fatal"] = "the notebook took too long to read and check"
        return failed
    if proc.returncode != 0:
        failed["fatal"] = ("the notebook is too large or too complex to read and check within "
                           "the grader's limits")
        return failed
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        result = None
    if type(result) is not dict or set(result) != set(failed):
        failed["fatal"] = "the notebook could not be read and checked"
        return failed
    return result
