"""Per-student feedback pages (HTML) built from stored results.

A page names each test, says passed or failed and, for visible tests, why. Hidden tests show
only their name and the outcome (and the reason when the sandbox stopped the code: time limit,
crash, ...): never their code, inputs or expected values. Pages are written to
``feedback/<student>/<assignment>/autograder.html``, next to nbgrader's own feedback, so
``nbgrader release_feedback`` hands them out too.

Every string on a page goes through :func:`autograder.outputs.safe.html_text` (inert, then
HTML-escaped); pages are written atomically, and one page that cannot be written does not stop
the others.
"""
from __future__ import annotations

from pathlib import Path

from autograder.outputs.safe import atomic_write, html_text

SAFE_HIDDEN_STATUS = {
    "timeout": "stopped at the time limit",
    "crash": "the process crashed",
    "too_large": "the answer was too large",
    "bad_output": "the answer could not be read",
    "invalid_notebook": "the notebook could not be read",
    "bad_cell": "the solution cell could not be used",
    "policy": "not graded (course policy)",
}


def public_message(case: dict) -> str:
    """What a student may see about one case (no details of hidden tests)."""
    if case["passed"]:
        return "passed"
    if case["hidden"]:
        return "hidden test failed" + (f": {SAFE_HIDDEN_STATUS[case['status']]}"
                                       if case["status"] in SAFE_HIDDEN_STATUS else "")
    return case["message"] or case["status"]


def render(result: dict) -> str:
    """HTML feedback page of one result."""
    esc = html_text
    rows = []
    for case in result["cases"]:
        mark = "passed" if case["passed"] else "failed"
        rows.append(
            f"<tr class='{mark}'><td>{esc(case['function'])}</td><td>{esc(case['name'])}"
            f"{' (hidden)' if case['hidden'] else ''}</td><td>{mark}</td>"
            f"<td>{float(case['points']):g} / {float(case['max_points']):g}</td>"
            f"<td>{esc(public_message(case))}</td></tr>")
    zeroed = " (no points for this function)"
    flags = "".join(f"<li>{esc(f['detail'])}{zeroed if f['action'] == 'zero' else ''}</li>"
                    for f in result.get("flags", []))
    title = f"{esc(result['assignment'])}: feedback for {esc(result['student'])}"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:4px;text-align:left}}
tr.passed td:nth-child(3){{color:#186a1f}}tr.failed td:nth-child(3){{color:#a11}}</style></head>
<body><h1>{esc(result['assignment'])}</h1>
<p>Student: {esc(result['student'])}. Score: <b>{float(result['total']):g} / {float(result['max_total']):g}</b>
(autograded tests; written answers are graded by hand).</p>
{f'<h2>Notes</h2><ul>{flags}</ul>' if flags else ''}
<table><tr><th>function</th><th>test</th><th>result</th><th>points</th><th>message</th></tr>
{''.join(rows)}
</table></body></html>
"""


def write_feedback(course_root, results: list[dict], problems: list | None = None) -> list[Path]:
    """Write one page per result; returns their paths.

    A page that cannot be written (a folder in the way, a full disk, a student id that is not a
    valid file name) is appended to ``problems`` as ``(student, reason)`` when it is given, and
    the other pages are still written; without ``problems`` the error is raised.
    """
    files = []
    for result in results:
        try:
            path = (Path(course_root) / "feedback" / result["student"] / result["assignment"]
                    / "autograder.html")
            files.append(atomic_write(path, render(result)))
        except (OSError, UnicodeError, ValueError) as exc:
            if problems is None:
                raise
            problems.append((result["student"], f"{type(exc).__name__}: {exc}"))
    return files
