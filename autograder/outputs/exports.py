"""Export stored results: a CSV for the class and Gradescope ``results.json`` files.

Every string that a student controls (student id, flags naming the notebook's cells, messages of
exceptions raised by student code) goes through :mod:`autograder.outputs.safe`: CSV cells are
inert and never start a spreadsheet formula; Gradescope fields are inert plain text. Files are
written through a temporary file and a rename, so a failed export leaves the previous file whole.

Gradescope's autograder format (one ``results.json`` per submission) is built by
:func:`gradescope_results`; its visibility rule is described there.

One truth for scores: given the course root, an export reads nbgrader's gradebook
(:func:`final_scores`), so a written answer graded by hand in Formgrader, a score changed there
and a late penalty count exactly as in the gradebook and in ``nbgrader export``: the score is
the submission's score less its late penalty, and the maximum is the assignment's whole maximum
(autograded tests and written answers). A student whose result is not in the gradebook (written
with ``--no-gradebook``, or an id the gradebook refuses) gets the autograded points, the whole
maximum, and every written answer listed as not graded yet.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from autograder.outputs.feedback import public_message
from autograder.outputs.safe import atomic_write, csv_cell, inert

PUBLICATION = "after_published"
"""Gradescope visibility of everything that depends on a hidden case's outcome."""


def flag_summary(result: dict) -> str:
    """One line listing a result's flags (policy, notebook problems), or ``""``; inert text."""
    return "; ".join(inert(f["detail"]) + (" [zeroed]" if f["action"] == "zero" else "")
                     for f in result.get("flags", []))


def grade_cells(course_root, assignment: str) -> dict[str, dict]:
    """``{grade_id: {"max": points, "manual": bool}}`` of every graded cell of the source
    notebook, in notebook order (``manual``: a written answer or a cell graded by hand)."""
    from autograder.engine import notebook_io

    layout = notebook_io.load_layout(course_root, assignment)
    cells = {}
    for cell in layout.raw.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id"):
            cells[meta["grade_id"]] = {"max": float(meta.get("points", 0) or 0),
                                       "manual": meta["grade_id"] not in layout.tests}
    return cells


def _read_gradebook(course_root, assignment: str, cells: dict) -> dict[str, dict]:
    """Per student in ``gradebook.db``: ``{"score", "penalty", "cells": {gid: score},
    "ungraded": [gid, ...]}``; ``{}`` when there is no gradebook or no such assignment."""
    path = Path(course_root) / "gradebook.db"
    if not path.is_file():
        return {}
    from autograder.outputs.gradebook import import_api

    api, _ = import_api()
    out: dict[str, dict] = {}
    with api.Gradebook(f"sqlite:///{path}") as gb:
        try:
            gb.find_assignment(assignment)
        except api.MissingEntry:
            return {}
        subs = (gb.db.query(api.SubmittedAssignment).join(api.Assignment)
                .filter(api.Assignment.name == assignment))
        for sub in subs:
            out[sub.student_id] = {"score": float(sub.score or 0.0),
                                   "penalty": float(sub.late_submission_penalty or 0.0),
                                   "cells": {}, "ungraded": []}
        rows = (gb.db.query(api.Grade, api.GradeCell.name, api.SubmittedAssignment.student_id)
                .join(api.GradeCell, api.GradeCell.id == api.Grade.cell_id)
                .join(api.SubmittedNotebook, api.SubmittedNotebook.id == api.Grade.notebook_id)
                .join(api.SubmittedAssignment,
                      api.SubmittedAssignment.id == api.SubmittedNotebook.assignment_id)
                .join(api.Assignment,
                      api.Assignment.id == api.SubmittedAssignment.assignment_id)
                .filter(api.Assignment.name == assignment))
        for grade, cell, student in rows:
            entry = out.setdefault(student, {"score": 0.0, "penalty": 0.0, "cells": {},
                                             "ungraded": []})
            entry["cells"][cell] = float(grade.score or 0.0)
            if grade.needs_manual_grade and grade.manual_score is None and cell in cells:
                entry["ungraded"].append(cell)
    return out


def final_scores(course_root, assignment: str, results: list[dict]) -> dict[str, dict]:
    """The score of each result as the gradebook and ``nbgrader export`` give it.

    Returns ``{student: {"score", "max_score", "cells": {grade_id: points},
    "maxima": {grade_id: points}, "ungraded": [grade_id, ...],
    "source": "gradebook" | "results"}}`` for every result; the cells are every graded cell of
    the source notebook (tests and written answers), in order.
    ``score`` is the gradebook's submission score less the late penalty (never below 0), as in
    ``nbgrader export``; a cell is ``ungraded`` while it needs a manual grade and has none. For
    a student missing from the gradebook the score is the autograded total and every written
    answer is ``ungraded``. ``max_score`` is the assignment's whole maximum.
    """
    cells = grade_cells(course_root, assignment)
    maximum = sum(c["max"] for c in cells.values())
    maxima = {gid: c["max"] for gid, c in cells.items()}
    book = _read_gradebook(course_root, assignment, cells)
    out = {}
    for result in results:
        student = result["student"]
        entry = book.get(student) if isinstance(student, str) else None
        if entry is not None:
            per_cell = {gid: entry["cells"].get(gid, 0.0) for gid in cells}
            out[student] = {"score": max(0.0, entry["score"] - entry["penalty"]),
                            "max_score": maximum, "cells": per_cell, "maxima": maxima,
                            "ungraded": [g for g in cells if g in entry["ungraded"]],
                            "source": "gradebook"}
            continue
        per_cell = {gid: 0.0 for gid in cells}
        for case in result["cases"]:
            if case["grade_id"] in per_cell:
                per_cell[case["grade_id"]] += float(case["points"])
        out[student] = {"score": float(result["total"]), "max_score": maximum,
                        "cells": per_cell, "maxima": maxima,
                        "ungraded": [g for g, c in cells.items() if c["manual"]],
                        "source": "results"}
    return out


def to_csv(results: list[dict], scores: dict[str, dict] | None = None) -> str:
    """CSV text: one row per student with the score, the maximum, per-cell points and flags.

    Without ``scores``: the autograded total and maximum, one column per test cell. With
    ``scores`` (:func:`final_scores`): the gradebook's score and the assignment's whole maximum,
    one column per graded cell (tests and written answers) and an ``ungraded`` column naming
    the written answers still waiting for a grade.

    Text cells go through :func:`autograder.outputs.safe.csv_cell` (inert, formulas quoted).
    """
    cells: list[str] = []
    if scores:
        for entry in scores.values():
            cells.extend(g for g in entry["cells"] if g not in cells)
    for result in results:
        for case in result["cases"]:
            if case["grade_id"] not in cells:
                cells.append(case["grade_id"])
    buf = io.StringIO()
    writer = csv.writer(buf)
    extra = ["ungraded"] if scores is not None else []
    writer.writerow([csv_cell(h) for h in ["student", "assignment", "score", "max_score", *cells,
                                           *extra, "flags"]])
    for result in sorted(results, key=lambda r: str(r["student"])):
        final = (scores or {}).get(result["student"])
        if final is not None:
            per_cell = {c: final["cells"].get(c, 0.0) for c in cells}
            score, maximum = final["score"], final["max_score"]
        else:
            per_cell = {c: 0.0 for c in cells}
            for case in result["cases"]:
                per_cell[case["grade_id"]] += float(case["points"])
            score, maximum = result["total"], result["max_total"]
        ungraded = [csv_cell(" ".join(final["ungraded"]) if final else "")] if extra else []
        writer.writerow([csv_cell(result["student"]), csv_cell(result["assignment"]),
                         f"{float(score):g}", f"{float(maximum):g}",
                         *(f"{per_cell[c]:g}" for c in cells), *ungraded,
                         csv_cell(flag_summary(result))])
    return buf.getvalue()


def gradescope_results(result: dict, final: dict | None = None) -> dict:
    """A Gradescope ``results.json`` dict for one student's result.

    ``final`` (one entry of :func:`final_scores`) adds one visible test per written answer
    (its points from the gradebook, or 0 and "not graded yet") and makes the top-level score
    the gradebook's; without it the score is the autograded total.

    Hidden outcomes stay hidden until the instructor publishes the grades, in every field:

    - each hidden case is a test with ``visibility = "after_published"``, named by its case name
      only, with an output that never holds its inputs or expected values;
    - the top-level ``score`` includes hidden points, so when the assignment has any hidden case
      the top-level ``visibility`` (which governs the overall score and output) is
      ``"after_published"`` too; visible cases keep their own ``"visible"`` setting;
    - the top-level ``output`` names only flags and notes that do not depend on any case's
      outcome; no execution time is written (a hidden case that timed out would show in it);
    - ``stdout_visibility`` is ``"hidden"``: the log names the total.

    Every name and message is inert plain text (``output_format``, ``test_output_format`` and
    ``test_name_format`` are ``"text"``), so Gradescope neither renders HTML nor interprets
    terminal escapes from student code.
    """
    tests = []
    for number, case in enumerate(result["cases"], start=1):
        tests.append({
            "name": inert(f"{case['function']}: {case['name']}"),
            "number": str(number),
            "score": float(case["points"]),
            "max_score": float(case["max_points"]),
            "status": "passed" if case["passed"] else "failed",
            "visibility": PUBLICATION if case["hidden"] else "visible",
            "output": inert(public_message(case), newlines=True),
            "output_format": "text",
        })
    score = float(result["total"])
    if final is not None:
        autograded = {case["grade_id"] for case in result["cases"]}
        cells = [g for g in final["cells"] if g not in autograded]
        maxima = final["maxima"]
        for gid in cells:
            graded = gid not in final["ungraded"]
            tests.append({
                "name": inert(f"written answer: {gid}"),
                "number": str(len(tests) + 1),
                "score": float(final["cells"][gid]) if graded else 0.0,
                "max_score": float(maxima.get(gid, 0.0)),
                "visibility": "visible",
                "output": "graded by hand" if graded else "not graded yet",
                "output_format": "text",
            })
        score = float(final["score"])
    flags = flag_summary(result)
    hidden = any(case["hidden"] for case in result["cases"])
    return {"score": score, "tests": tests,
            "visibility": PUBLICATION if hidden else "visible",
            "stdout_visibility": "hidden",
            "output": f"Flags: {flags}" if flags else "Graded in a sandbox by fnn-grade.",
            "output_format": "text", "test_output_format": "text", "test_name_format": "text"}


def gradescope_json(results: dict) -> str:
    """``results.json`` text: UTF-8-safe JSON (non-ASCII characters as ``\\u`` escapes)."""
    return json.dumps(results, indent=1, ensure_ascii=True)


def export(results: list[dict], fmt: str, out: Path | str,
           problems: list | None = None, course_root=None) -> list[Path]:
    """Write ``results`` as ``fmt`` ("csv" or "gradescope") under ``out``; returns the files.

    With ``course_root`` the scores are those of the gradebook, manual grades included, out of
    the assignment's whole maximum (:func:`final_scores`); without it, the autograded scores.

    csv: ``out`` is the CSV file, replaced atomically. gradescope: ``out`` is a folder; one
    ``<student>/results.json`` per student, each replaced atomically; a student whose file
    cannot be written is appended to ``problems`` as ``(student, reason)`` (when given; else the
    error is raised) and the others are still written.
    """
    if fmt not in ("csv", "gradescope"):
        raise ValueError(f"fmt must be 'csv' or 'gradescope', got {fmt!r}")
    out = Path(out)
    scores = None
    if course_root is not None and results:
        scores = final_scores(course_root, results[0]["assignment"], results)
    if fmt == "csv":
        return [atomic_write(out, to_csv(results, scores))]
    files = []
    for result in results:
        try:
            path = out / result["student"] / "results.json"
            final = (scores or {}).get(result["student"])
            files.append(atomic_write(path, gradescope_json(gradescope_results(result, final))))
        except (OSError, UnicodeError, ValueError) as exc:
            if problems is None:
                raise
            problems.append((result["student"], f"{type(exc).__name__}: {exc}"))
    return files
