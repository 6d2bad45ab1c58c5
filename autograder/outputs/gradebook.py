"""Put the batch grader's scores into nbgrader's gradebook so formgrader shows them.

One writer process at a time writes here (``fnn-grade grade`` starts it, see :class:`Writer`),
after the results are on disk. "One at a time" holds across runs too: a writer holds an
exclusive lock on ``<course_root>/.gradebook-writer.lock`` while it writes (see
:func:`writer_lock`), because the writer of a run stopped with Ctrl-C finishes in the background
and would otherwise race the next run's writer to create the same rows.

``nbgrader.api`` is imported lazily (see :func:`import_api`); before importing it the optional
``rfc3987_syntax`` module is hidden from ``jsonschema`` (it is used only to validate IRI
formats, which nbgrader never does, and importing it costs about a second).

For each student: the student and the submission are created or updated (with the timestamp of
``submitted/<student>/<assignment>/timestamp.txt``; new rows are committed in batches, not one
by one as ``Gradebook.add_student``/``add_submission`` do, so a first grading writes about as
fast as a re-grade); every autograded test cell gets
``auto_score`` = the cell's max score times the fraction of its cases' points earned, and
``needs_manual_grade = False``; written answers keep needing a manual grade. A clean copy of the
source notebook carrying the student's answers (never executed) goes to
``autograded/<student>/<assignment>/`` with the same ``timestamp.txt``, which formgrader needs
to open the submission and which nbgrader's feedback uses. Files there are replaced, never
overwritten in place: ``nbgrader autograde`` leaves them read-only (mode 444), which stops an
instructor who is not root from writing into them.

Formgrader renders that copy as HTML without sanitising nbgrader cells, and puts the student id
into its pages unescaped. Hence the copy shows each written answer as a literal text block (see
:func:`inert_markdown`), carries no lone surrogate, and only student ids that need no escaping
(:func:`autograder.outputs.safe.is_plain_id`) are written to the gradebook.
"""
from __future__ import annotations

import contextlib
import fcntl
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Iterable

from autograder.engine import notebook_io
from autograder.engine.config import result_path
from autograder.outputs.safe import clean_unicode, inert, is_plain_id


def import_api():
    """``(nbgrader.api, nbgrader.utils)``, imported as cheaply as possible.

    ``nbgrader/__init__.py`` imports nbgrader's Jupyter server extensions (about 1 s of CPU)
    that the gradebook never uses. When nbgrader is not imported yet, the package is therefore
    registered from its import spec without running ``__init__.py`` (only ``__version__`` is
    set), and ``nbgrader.api`` and its own imports load normally beneath it.

    Call it before other threads start importing (the batch grader imports it in a process of
    its own, see :class:`Writer`): nbgrader imports setuptools, whose ``distutils`` import hook
    can deadlock against imports in other threads.
    """
    if "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # makes `import rfc3987_syntax` fail fast
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    if "nbgrader" not in sys.modules:
        spec = importlib.util.find_spec("nbgrader")
        if spec is not None and spec.submodule_search_locations:
            package = importlib.util.module_from_spec(spec)
            sys.modules["nbgrader"] = package
            package.__version__ = importlib.import_module("nbgrader._version").__version__
    from nbgrader import api, utils
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's own, harmless
    return api, utils


LOCK_FILE = ".gradebook-writer.lock"
LOCK_WAIT = 3600.0
"""Seconds a writer waits for another writer of the same course before it gives up (a writer
holds the lock from its start to the end of its run's grading)."""


@contextlib.contextmanager
def writer_lock(course_root, wait: float = LOCK_WAIT):
    """Hold the course's gradebook-writer lock (``fcntl.flock`` on :data:`LOCK_FILE`), waiting
    up to ``wait`` seconds for a writer that holds it; raise TimeoutError naming that writer's
    pid if it does not finish by then. The lock goes with the process: a writer that is killed
    releases it."""
    path = Path(course_root) / LOCK_FILE
    with open(path, "a+", encoding="utf-8") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise TimeoutError(f"another fnn-grade run (writer pid {holder}) has been "
                                       f"writing {Path(course_root) / 'gradebook.db'} for over "
                                       f"{wait:.0f} s; wait for it to finish, or stop it") from None
                time.sleep(0.05)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensure_assignment(gb, layout: notebook_io.Layout) -> str:
    """Create the assignment, notebook and cell rows if ``generate_assignment`` never ran."""
    api, _ = import_api()
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
    Written answers become literal text blocks (:func:`inert_markdown`), messages are inert and
    lone surrogates are replaced, so the copy renders as plain text in Formgrader.
    """
    nb = json.loads(json.dumps(layout.raw))  # a deep copy, faster than copy.deepcopy
    answers = {gid: inert_markdown(text) for gid, text in (result.get("written") or {}).items()}
    code = {gid: clean_unicode(text) for gid, text in (result.get("solutions") or {}).items()}
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
            lines = [f"{'PASS' if c['passed'] else 'FAIL'} {inert(c['name'])}"
                     + ("" if c["passed"] or c["hidden"] else f": {inert(c['message'])}")
                     for c in by_cell.get(gid, [])]
            cell["outputs"] = [{"output_type": "stream", "name": "stdout",
                                "text": "\n".join(lines) + "\n"}]
    return nb


def inert_markdown(text) -> str:
    """Markdown that shows ``text`` verbatim: a fenced code block longer than any run of
    backticks in it, so no HTML, link, image or formula in ``text`` is rendered (MathJax does
    not typeset code blocks). Lone surrogates become U+FFFD."""
    text = clean_unicode(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


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


COMMIT_EVERY = 25
"""Results written per database transaction (the results themselves are already on disk)."""


def write_gradebook(course_root, assignment: str, results: Iterable[dict],
                    on_written=None) -> int:
    """Store ``results`` in ``<course_root>/gradebook.db``; returns the number of students.

    ``results`` may be any iterable, e.g. one fed while grading goes on (:class:`Writer`).
    ``on_written(count)`` is called after each result is stored (committed or not).
    Students, submissions and grades already in the gradebook are read in three queries up
    front; only new students and submissions are created one by one. Holds
    :func:`writer_lock` throughout, so writers of the same course take turns.
    """
    api, utils = import_api()
    course_root = Path(course_root)
    layout = notebook_io.load_layout(course_root, assignment)
    with writer_lock(course_root), api.Gradebook(f"sqlite:///{course_root / 'gradebook.db'}") as gb:
        # One writer, one session: objects stay valid across commits instead of being expired
        # and reloaded (which made each commit cost time proportional to the rows seen so far).
        gb.db().expire_on_commit = False
        notebook = _ensure_assignment(gb, layout)
        assignment_row = gb.find_assignment(assignment)
        students = {row.id: row for row in gb.db.query(api.Student)}
        submissions = {sub.student_id: sub for sub in gb.db.query(api.SubmittedAssignment)
                       .join(api.Assignment).filter(api.Assignment.name == assignment)}
        grades = _grades_by_student(gb, api, assignment, notebook)
        count = 0
        for result in results:
            count += 1
            student = result["student"]
            if student not in students:
                students[student] = api.Student(id=student)
                gb.db.add(students[student])
            timestamp, stamp_path = _timestamp(course_root, assignment, student, utils)
            submission = submissions.get(student)
            if submission is None:
                submission, grades[student] = _new_submission(api, assignment_row,
                                                              students[student], notebook,
                                                              timestamp)
                submissions[student] = submission
                gb.db.add(submission)
            elif timestamp:
                submission.timestamp = timestamp
            for gid, score in cell_scores(result, layout).items():
                grade = grades.get(student, {}).get(gid)
                if grade is None:
                    grade = gb.find_grade(gid, notebook, assignment, student)
                grade.auto_score = score
                grade.needs_manual_grade = False
            if count % COMMIT_EVERY == 0:
                gb.db.commit()
            _write_autograded(course_root, assignment, student, result, layout, stamp_path)
            if on_written is not None:
                on_written(count)
        gb.db.commit()
    return count


def _new_submission(api, assignment_row, student_row, notebook: str, timestamp):
    """A new submission with the rows ``Gradebook.add_submission`` creates (a notebook per
    notebook of the assignment, a grade per grade or task cell, a comment per solution or task
    cell), not yet committed; returns it and ``{grade cell name: Grade}`` of ``notebook``.

    ``add_submission`` commits each submission on its own, which made a first grading spend
    most of its time in the database."""
    kwargs = {"timestamp": timestamp} if timestamp else {}
    submission = api.SubmittedAssignment(assignment=assignment_row, student=student_row, **kwargs)
    grades = {}
    for nb_row in assignment_row.notebooks:
        submitted = api.SubmittedNotebook(notebook=nb_row, assignment=submission)
        for cell in nb_row.grade_cells:
            grade = api.Grade(cell_id=cell.id, notebook=submitted)
            if nb_row.name == notebook:
                grades[cell.name] = grade
        for cell in nb_row.solution_cells:
            api.Comment(cell_id=cell.id, notebook=submitted)
        for cell in nb_row.task_cells:
            api.Comment(cell_id=cell.id, notebook=submitted)
            api.Grade(cell_id=cell.id, notebook=submitted)
    return submission, grades


def _grades_by_student(gb, api, assignment: str, notebook: str,
                       submission_id: str | None = None) -> dict[str, dict]:
    """``{student: {grade cell name: Grade}}`` for the assignment's notebook (or only one
    submission), in a single query."""
    query = (gb.db.query(api.Grade, api.GradeCell.name, api.SubmittedAssignment.student_id)
             .join(api.GradeCell, api.GradeCell.id == api.Grade.cell_id)
             .join(api.SubmittedNotebook, api.SubmittedNotebook.id == api.Grade.notebook_id)
             .join(api.Notebook, api.Notebook.id == api.SubmittedNotebook.notebook_id)
             .join(api.SubmittedAssignment,
                   api.SubmittedAssignment.id == api.SubmittedNotebook.assignment_id)
             .join(api.Assignment, api.Assignment.id == api.SubmittedAssignment.assignment_id)
             .filter(api.Assignment.name == assignment, api.Notebook.name == notebook))
    if submission_id is not None:
        query = query.filter(api.SubmittedAssignment.id == submission_id)
    out: dict[str, dict] = {}
    for grade, cell, student in query:
        out.setdefault(student, {})[cell] = grade
    return out


class Writer:
    """Writes results to the gradebook from a separate process while the sandboxes grade, so
    that nbgrader's import (~0.5 s) and its database work overlap grading instead of competing
    with it for this process.

    ``put(result)`` sends only the student id: the writer reads the result that
    :func:`autograder.engine.runner.write_result` already stored. The writer has its own session, so
    an interrupt (Ctrl-C) stops grading but lets the writer store what was graded.

    The writer prints a line per result written; :meth:`close` shows them as a progress bar
    while it waits. On failure its last stderr line names the cause (:func:`error_cause`).

    Usage: ``w = Writer(root, assignment); w.put(result) ...; count = w.close()``. Student ids
    that are not plain (:func:`autograder.outputs.safe.is_plain_id`: HTML characters, control
    characters, invalid Unicode) are not sent; they are listed in ``skipped``.
    """

    queued = 0
    """Results sent to the writer so far."""
    written = 0
    """Results the writer reported as written so far."""

    def __init__(self, course_root, assignment: str):
        self.skipped: list[str] = []
        self._errors = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.outputs.gradebook", str(Path(course_root).resolve()),
             assignment],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
            start_new_session=True, text=True)
        self._progress = threading.Condition()
        self._reader = threading.Thread(target=self._read_progress, daemon=True)
        self._reader.start()

    def _read_progress(self) -> None:
        """Count the writer's progress lines (one per result written, the total last)."""
        for line in self._proc.stdout:
            if line.strip().isdigit():
                with self._progress:
                    self.written = int(line)
                    self._progress.notify_all()
        with self._progress:
            self._progress.notify_all()

    def put(self, result: dict) -> None:
        """Queue one result (already written to ``grading/``) for the gradebook."""
        if not is_plain_id(result["student"]):
            self.skipped.append(result["student"])
            return
        try:
            self._proc.stdin.write(result["student"] + "\n")
            self._proc.stdin.flush()
            self.queued += 1
        except OSError:
            pass  # the writer died: close() reports why

    def close(self, timeout: float | None = None, progress: bool = False) -> int | None:
        """Wait for every queued result to be written and return their number; raise
        RuntimeError naming the cause if the writer failed.

        ``progress`` shows a progress bar of the results still being written. With a
        ``timeout`` (seconds), return None if the writer is not done by then: it goes on in
        the background (its own session) and finishes the queued results.
        """
        from tqdm.auto import tqdm

        try:
            self._proc.stdin.close()
        except OSError:
            pass
        deadline = None if timeout is None else time.monotonic() + timeout
        show = progress and self.written < self.queued
        with tqdm(total=self.queued, initial=self.written, desc="writing gradebook",
                  unit="sub", disable=not show) as bar:
            while self._reader.is_alive():
                with self._progress:
                    self._progress.wait(0.2)
                step = min(self.written, self.queued) - bar.n
                if step > 0:
                    bar.update(step)
                if deadline is not None and time.monotonic() > deadline:
                    return None
        code = self._proc.wait()
        self._errors.seek(0)
        errors = self._errors.read().decode("utf-8", "replace").strip()
        self._errors.close()
        if code != 0:
            last = errors.splitlines()[-1] if errors else f"exit status {code}"
            raise RuntimeError(last.removeprefix("error: "))
        return self.written


def _feed(course_root, assignment: str, lines: Iterable[str]):
    """Stored results for the student ids in ``lines`` (skipping ids with no result)."""
    for line in lines:
        student = line.strip()
        if not student:
            continue
        try:
            yield json.loads(result_path(course_root, assignment, student).read_text("utf-8"))
        except (OSError, ValueError):
            continue


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.outputs.gradebook COURSE_ROOT ASSIGNMENT``: write the stored result of
    every student id read from stdin (one per line); print the number written."""
    course_root, assignment = (argv if argv is not None else sys.argv[1:])[:2]
    os.nice(10)  # the writer yields the CPU to grading and catches up whenever a core is idle
    _without_archive_helpers()

    def written(count: int) -> None:
        print(count, flush=True)

    try:
        count = write_gradebook(course_root, assignment, _feed(course_root, assignment, sys.stdin),
                                on_written=written)
    except Exception as exc:  # noqa: BLE001 - the parent shows the last line of stderr
        print(f"error: {error_cause(exc)}", file=sys.stderr)
        return 1
    print(count)
    return 0


def error_cause(exc: BaseException) -> str:
    """What went wrong, in words: ``"database is locked"``, ``"No space left on device:
    PATH"``... SQLAlchemy errors are reduced to the database driver's message (no SQL
    statement, no link to SQLAlchemy's help pages)."""
    orig = getattr(exc, "orig", None)  # sqlalchemy.exc.DBAPIError wraps the driver's error
    if isinstance(orig, BaseException):
        exc = orig
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _without_archive_helpers() -> None:
    """``nbgrader.utils`` imports setuptools' archive helpers (~0.1 s, for unpacking zipped
    submissions), which the gradebook never uses: this process gets placeholders instead."""
    import types

    def unavailable(*args, **kwargs):
        raise RuntimeError("archive helpers are not loaded in the gradebook writer")

    helpers = types.ModuleType("setuptools.archive_util")
    helpers.unpack_archive = helpers.unpack_tarfile = helpers.unpack_zipfile = unavailable
    sys.modules.setdefault("setuptools.archive_util", helpers)


def _write_autograded(course_root, assignment, student, result, layout, stamp_path) -> None:
    folder = course_root / "autograded" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nb = autograded_notebook(result, layout)
    tmp = folder / f".{layout.notebook}.tmp"
    tmp.write_text(json.dumps(nb), encoding="utf-8")  # no indent: the C encoder, 10x faster
    os.replace(tmp, folder / layout.notebook)
    if stamp_path is not None:  # replaced, not overwritten: nbgrader leaves it read-only
        tmp = folder / ".timestamp.txt.tmp"
        shutil.copyfile(stamp_path, tmp)
        os.replace(tmp, folder / "timestamp.txt")


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # everything is committed and reported: skip the interpreter's teardown
