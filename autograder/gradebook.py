"""Put the batch grader's scores into nbgrader's gradebook so formgrader shows them.

Only the single parent process writes here, after the results are on disk. ``nbgrader.api`` is
imported lazily (it costs ~2 s); before importing it the optional ``rfc3987_syntax`` module is
hidden from ``jsonschema`` (it is used only to validate IRI formats, which nbgrader never does,
and importing it costs about a second).

For each student: the student and the submission are created or updated (with the timestamp of
``submitted/<student>/<assignment>/timestamp.txt``); every autograded test cell gets
``auto_score`` = the cell's max score times the fraction of its cases' points earned, and
``needs_manual_grade = False``; written answers keep needing a manual grade. A clean copy of the
source notebook carrying the student's answers (never executed) goes to
``autograded/<student>/<assignment>/`` with the same ``timestamp.txt``, which formgrader needs
to open the submission and which nbgrader's feedback uses.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import threading
import warnings
from pathlib import Path
from typing import Iterable

from autograder import notebook_io


def _import_api():
    if "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # makes `import rfc3987_syntax` fail fast
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    from nbgrader import api, utils
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's own, harmless
    return api, utils


def _ensure_assignment(gb, layout: notebook_io.Layout) -> str:
    """Create the assignment, notebook and cell rows if ``generate_assignment`` never ran."""
    api, _ = _import_api()
    notebook = Path(layout.notebook).stem
    try:
        gb.find_notebook(notebook, layout.assignment)
        return notebook
    except api.MissingEntry:
        pass
    gb.update_or_create_assignment(layout.assignment)
    gb.update_or_create_notebook(notebook, layout.assignment)
    for cell in layout.raw["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if not gid:
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if meta.get("grade"):
            gb.update_or_create_grade_cell(gid, notebook, layout.assignment,
                                           max_score=float(meta.get("points", 0)),
                                           cell_type=cell["cell_type"])
        if meta.get("solution"):
            gb.update_or_create_solution_cell(gid, notebook, layout.assignment)
        gb.update_or_create_source_cell(gid, notebook, layout.assignment,
                                        cell_type=cell["cell_type"],
                                        locked=bool(meta.get("locked")), source=source,
                                        checksum=meta.get("checksum"))
    return notebook


def _timestamp(course_root: Path, assignment: str, student: str, utils):
    path = course_root / "submitted" / student / assignment / "timestamp.txt"
    try:
        return utils.parse_utc(path.read_text().strip()), path
    except (OSError, ValueError, OverflowError):
        return None, None


def cell_scores(result: dict, layout: notebook_io.Layout) -> dict[str, float]:
    """``{test grade_id: auto_score}``: each cell's max score times the fraction earned."""
    earned, possible = {}, {}
    for case in result["cases"]:
        gid = case["grade_id"]
        earned[gid] = earned.get(gid, 0.0) + case["points"]
        possible[gid] = possible.get(gid, 0.0) + case["max_points"]
    scores = {}
    for gid, max_score in layout.tests.items():
        if possible.get(gid):
            scores[gid] = round(max_score * earned[gid] / possible[gid], 6)
        else:
            scores[gid] = 0.0
    return scores


def autograded_notebook(result: dict, layout: notebook_io.Layout) -> dict:
    """The source notebook with the student's answers and a results output in each test cell.

    Only solution cells and written answers come from the student; hidden-test lines are
    removed from test cells so that nbgrader's feedback built from this copy cannot show them.
    """
    nb = json.loads(json.dumps(layout.raw))  # a deep copy, faster than copy.deepcopy
    answers = dict(result.get("written") or {})
    code = result.get("solutions") or {}
    by_cell: dict[str, list[dict]] = {}
    for case in result["cases"]:
        by_cell.setdefault(case["grade_id"], []).append(case)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if gid in code:
            cell["source"] = code[gid]
        elif gid in answers:
            cell["source"] = answers[gid]
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        if gid in layout.tests:
            cell["source"] = _strip_hidden("".join(cell["source"]) if isinstance(
                cell["source"], list) else cell["source"])
            lines = [f"{'PASS' if c['passed'] else 'FAIL'} {c['name']}"
                     + ("" if c["passed"] or c["hidden"] else f": {c['message']}")
                     for c in by_cell.get(gid, [])]
            cell["outputs"] = [{"output_type": "stream", "name": "stdout",
                                "text": "\n".join(lines) + "\n"}]
    return nb


def _strip_hidden(source: str) -> str:
    out, hidden = [], False
    for line in source.split("\n"):
        if line.strip() == "### BEGIN HIDDEN TESTS":
            hidden = True
        elif line.strip() == "### END HIDDEN TESTS":
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def write_gradebook(course_root, assignment: str, results: Iterable[dict]) -> int:
    """Store ``results`` in ``<course_root>/gradebook.db``; returns the number of students.

    ``results`` may be any iterable, e.g. one fed while grading goes on (:class:`Writer`).
    """
    api, utils = _import_api()
    course_root = Path(course_root)
    layout = notebook_io.load_layout(course_root, assignment)
    with api.Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gb:
        notebook = _ensure_assignment(gb, layout)
        count = 0
        for result in results:
            count += 1
            student = result["student"]
            gb.update_or_create_student(student)
            timestamp, stamp_path = _timestamp(course_root, assignment, student, utils)
            kwargs = {"timestamp": timestamp} if timestamp else {}
            gb.update_or_create_submission(assignment, student, **kwargs)
            for gid, score in cell_scores(result, layout).items():
                grade = gb.find_grade(gid, notebook, assignment, student)
                grade.auto_score = score
                grade.needs_manual_grade = False
            gb.db.commit()
            _write_autograded(course_root, assignment, student, result, layout, stamp_path)
    return count


class Writer:
    """Writes results to the gradebook from a background thread of the (single) parent while
    the sandboxes grade: the ~1 s import of nbgrader and the database work overlap grading.

    Usage: ``w = Writer(root, assignment); w.put(result) ...; count = w.close()``.
    """

    def __init__(self, course_root, assignment: str):
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._count = 0
        self._thread = threading.Thread(target=self._run, args=(course_root, assignment),
                                        name="gradebook-writer", daemon=True)
        self._thread.start()

    def _items(self):
        while (item := self._queue.get()) is not None:
            yield item

    def _run(self, course_root, assignment) -> None:
        try:
            self._count = write_gradebook(course_root, assignment, self._items())
        except BaseException as exc:  # reported by close()
            self._error = exc
            for _ in self._items():  # drain, so that close() never blocks
                pass

    def put(self, result: dict) -> None:
        """Queue one result for the gradebook."""
        self._queue.put(result)

    def close(self) -> int:
        """Wait for every queued result to be written; re-raise a failure of the writer."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._count


def _write_autograded(course_root, assignment, student, result, layout, stamp_path) -> None:
    folder = course_root / "autograded" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nb = autograded_notebook(result, layout)
    tmp = folder / f".{layout.notebook}.tmp"
    tmp.write_text(json.dumps(nb), encoding="utf-8")  # no indent: the C encoder, 10x faster
    os.replace(tmp, folder / layout.notebook)
    if stamp_path is not None:
        shutil.copy2(stamp_path, folder / "timestamp.txt")
