"""Export stored results: a CSV for the class and Gradescope ``results.json`` files.

Every string that a student controls (student id, flags naming the notebook's cells, messages of
exceptions raised by student code) goes through :mod:`autograder.outputs.safe`: CSV cells are
inert and never start a spreadsheet formula; Gradescope fields are inert plain text. Files are
written through a temporary file and a rename, so a failed export leaves the previous file whole.

Gradescope's autograder format (one ``results.json`` per submission) is built by
:func:`gradescope_results`; its visibility rule is described there.
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


def to_csv(results: list[dict]) -> str:
    """CSV text: one row per student with the total, the maximum, per-test-cell points, flags.

    Text cells go through :func:`autograder.outputs.safe.csv_cell` (inert, formulas quoted).
    """
    cells: list[str] = []
    for result in results:
        for case in result["cases"]:
            if case["grade_id"] not in cells:
                cells.append(case["grade_id"])
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([csv_cell(h) for h in ["student", "assignment", "score", "max_score", *cells,
                                           "flags"]])
    for result in sorted(results, key=lambda r: str(r["student"])):
        per_cell = {c: 0.0 for c in cells}
        for case in result["cases"]:
            per_cell[case["grade_id"]] += float(case["points"])
        writer.writerow([csv_cell(result["student"]), csv_cell(result["assignment"]),
                         f"{float(result['total']):g}", f"{float(result['max_total']):g}",
                         *(f"{per_cell[c]:g}" for c in cells), csv_cell(flag_summary(result))])
    return buf.getvalue()


def gradescope_results(result: dict) -> dict:
    """A Gradescope ``results.json`` dict for one student's result.

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
    flags = flag_summary(result)
    hidden = any(case["hidden"] for case in result["cases"])
    return {"score": float(result["total"]), "tests": tests,
            "visibility": PUBLICATION if hidden else "visible",
            "stdout_visibility": "hidden",
            "output": f"Flags: {flags}" if flags else "Graded in a sandbox by fnn-grade.",
            "output_format": "text", "test_output_format": "text", "test_name_format": "text"}


def gradescope_json(results: dict) -> str:
    """``results.json`` text: UTF-8-safe JSON (non-ASCII characters as ``\\u`` escapes)."""
    return json.dumps(results, indent=1, ensure_ascii=True)


def export(results: list[dict], fmt: str, out: Path | str,
           problems: list | None = None) -> list[Path]:
    """Write ``results`` as ``fmt`` ("csv" or "gradescope") under ``out``; returns the files.

    csv: ``out`` is the CSV file, replaced atomically. gradescope: ``out`` is a folder; one
    ``<student>/results.json`` per student, each replaced atomically; a student whose file
    cannot be written is appended to ``problems`` as ``(student, reason)`` (when given; else the
    error is raised) and the others are still written.
    """
    out = Path(out)
    if fmt == "csv":
        return [atomic_write(out, to_csv(results))]
    if fmt == "gradescope":
        files = []
        for result in results:
            try:
                path = out / result["student"] / "results.json"
                files.append(atomic_write(path, gradescope_json(gradescope_results(result))))
            except (OSError, UnicodeError, ValueError) as exc:
                if problems is None:
                    raise
                problems.append((result["student"], f"{type(exc).__name__}: {exc}"))
        return files
    raise ValueError(f"fmt must be 'csv' or 'gradescope', got {fmt!r}")
