"""Export stored results: a CSV for the class and Gradescope ``results.json`` files.

Gradescope's autograder format (one ``results.json`` per submission)::

    {"score": 7.5, "output": "...", "visibility": "visible", "stdout_visibility": "hidden",
     "tests": [{"name": ..., "number": "1", "score": 0.5, "max_score": 0.5,
                "status": "passed" | "failed", "visibility": "visible" | "after_published",
                "output": ...}]}

Hidden cases are exported with ``visibility = "after_published"`` and an output that never
contains their inputs or expected values (only the test's name and pass/fail).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from autograder.outputs.feedback import public_message


def flag_summary(result: dict) -> str:
    """One line listing a result's flags (policy, notebook problems), or ``""``."""
    return "; ".join(f"{f['detail']}" + (" [zeroed]" if f["action"] == "zero" else "")
                     for f in result.get("flags", []))


def to_csv(results: list[dict]) -> str:
    """CSV text: one row per student with the total, the maximum, per-test-cell points, flags."""
    cells: list[str] = []
    for result in results:
        for case in result["cases"]:
            if case["grade_id"] not in cells:
                cells.append(case["grade_id"])
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["student", "assignment", "score", "max_score", *cells, "flags"])
    for result in sorted(results, key=lambda r: r["student"]):
        per_cell = {c: 0.0 for c in cells}
        for case in result["cases"]:
            per_cell[case["grade_id"]] += case["points"]
        writer.writerow([result["student"], result["assignment"], f"{result['total']:g}",
                         f"{result['max_total']:g}", *(f"{per_cell[c]:g}" for c in cells),
                         flag_summary(result)])
    return buf.getvalue()


def gradescope_results(result: dict) -> dict:
    """A Gradescope ``results.json`` dict for one student's result."""
    tests = []
    for number, case in enumerate(result["cases"], start=1):
        tests.append({
            "name": f"{case['function']}: {case['name']}",
            "number": str(number),
            "score": case["points"],
            "max_score": case["max_points"],
            "status": "passed" if case["passed"] else "failed",
            "visibility": "after_published" if case["hidden"] else "visible",
            "output": public_message(case),
        })
    flags = flag_summary(result)
    return {"score": result["total"], "tests": tests, "visibility": "visible",
            "stdout_visibility": "hidden",
            "output": f"Flags: {flags}" if flags else "Graded in a sandbox by fnn-grade."}


def export(results: list[dict], fmt: str, out: Path | str) -> list[Path]:
    """Write ``results`` as ``fmt`` ("csv" or "gradescope") under ``out``; returns the files.

    csv: ``out`` is the CSV file. gradescope: ``out`` is a folder; one
    ``<student>/results.json`` per student.
    """
    out = Path(out)
    if fmt == "csv":
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(to_csv(results), encoding="utf-8")
        return [out]
    if fmt == "gradescope":
        files = []
        for result in results:
            path = out / result["student"] / "results.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(gradescope_results(result), indent=1), encoding="utf-8")
            files.append(path)
        return files
    raise ValueError(f"fmt must be 'csv' or 'gradescope', got {fmt!r}")
