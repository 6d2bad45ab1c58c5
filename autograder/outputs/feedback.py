"""Per-student feedback pages (HTML) built from stored results.

A page names each test, says passed or failed and, for visible tests, why. Hidden tests show
only their name and the outcome (and the reason when the sandbox stopped the code: time limit,
crash, ...): never their code, inputs or expected values. The score is the gradebook's, written
answers graded by hand included (:func:`autograder.outputs.exports.final_scores`).

Pages reach students through nbgrader's exchange. ``nbgrader release_feedback`` releases every
``feedback/<student>/<assignment>/<notebook>.html`` under a hash of the notebook's name and the
folder's ``submission_secret.txt`` (it also reads ``timestamp.txt``), and the student's
``nbgrader fetch_feedback`` (or the Assignments tab) fetches only the pages named after the
notebooks of the submission. So a page is written as
``feedback/<student>/<assignment>/<assignment's notebook>.html`` (``forward_pass.html``), and
``timestamp.txt`` and ``submission_secret.txt`` are copied next to it from the autograded (or
else the submitted) folder. With stock ``nbgrader generate_feedback``:

- run after ``fnn-grade feedback``, it skips the student (the folder exists, same timestamp);
- run before, it leaves its own page (the notebook with the grader's comments) under the same
  name: ``fnn-grade feedback`` then moves it to ``.<notebook>.nbgrader.html`` (a hidden name
  that ``release_feedback`` ignores) and shows it inside the new page, in a frame that runs no
  script and loads nothing. Nothing is deleted.
- ``generate_feedback --force`` removes the folder and writes its own page; running
  ``fnn-grade feedback`` again brings this page back, with nbgrader's inside.

Every string on a page goes through :func:`autograder.outputs.safe.html_text` (inert, then
HTML-escaped); pages are written atomically, and one page that cannot be written does not stop
the others.
"""
from __future__ import annotations

import datetime as dt
import html
import re
import secrets
from pathlib import Path

from autograder.outputs.safe import atomic_write, html_text

GENERATOR = '<meta name="generator" content="fnn-grade">'
"""Marks a page written here (a page without it was written by nbgrader)."""

CARRIED_FILES = ("timestamp.txt", "submission_secret.txt")
"""Files ``nbgrader release_feedback`` reads in each feedback folder."""

MAX_CARRIED_BYTES = 4096
"""Largest ``timestamp.txt``/``submission_secret.txt`` copied (both come from the student's
submission; nbgrader writes a few dozen bytes)."""

POLICY = ("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; img-src data:; frame-src 'self'\">")
"""The page (and the embedded nbgrader page, which inherits it) loads nothing from elsewhere
and runs no script."""

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


def _score_line(result: dict, final: dict | None) -> str:
    """The score sentence: the gradebook's when ``final`` is given, else the autograded one."""
    if final is None:
        return (f"Score: <b>{float(result['total']):g} / {float(result['max_total']):g}</b> "
                "(autograded tests; written answers are graded by hand).")
    written = [g for g in final["cells"] if g not in {c["grade_id"] for c in result["cases"]}]
    graded = [g for g in written if g not in final["ungraded"]]
    manual = sum(final["cells"][g] for g in graded)
    manual_max = sum(final["maxima"][g] for g in written)
    waiting = len(written) - len(graded)
    return (f"Score: <b>{float(final['score']):g} / {float(final['max_score']):g}</b> "
            f"(autograded tests {float(result['total']):g} / {float(result['max_total']):g}; "
            f"written answers {manual:g} / {manual_max:g} graded by hand"
            + (f", {waiting} not graded yet" if waiting else "") + ").")


def render(result: dict, final: dict | None = None, embedded: str | None = None) -> str:
    """HTML feedback page of one result.

    ``final``: the student's entry of :func:`autograder.outputs.exports.final_scores` (the
    score with the written answers); ``embedded``: an nbgrader feedback page to show inside a
    frame that runs no script.
    """
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
    frame = ""
    if embedded is not None:
        # nbgrader's page names web fonts by relative URL; the policy refuses them, and without
        # the @font-face rules the browser does not even ask for them
        embedded = re.sub(r"@font-face\s*\{[^}]*\}", "", embedded)
        frame = ("<h2>Your notebook, with the grader's comments</h2>"
                 "<iframe sandbox style='width:100%;height:80em;border:1px solid #ccc' "
                 f"srcdoc=\"{html.escape(embedded, quote=True)}\"></iframe>")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">{GENERATOR}{POLICY}<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:4px;text-align:left}}
tr.passed td:nth-child(3){{color:#186a1f}}tr.failed td:nth-child(3){{color:#a11}}</style></head>
<body><h1>{esc(result['assignment'])}</h1>
<p>Student: {esc(result['student'])}. {_score_line(result, final)}</p>
{f'<h2>Notes</h2><ul>{flags}</ul>' if flags else ''}
<table><tr><th>function</th><th>test</th><th>result</th><th>points</th><th>message</th></tr>
{''.join(rows)}
</table>{frame}</body></html>
"""


def page_name(course_root, assignment: str) -> str:
    """``<notebook>.html`` for the assignment's notebook (``<assignment>.html`` when the course
    root has no source notebook for it)."""
    from autograder.engine import notebook_io

    try:
        return Path(notebook_io.load_layout(course_root, assignment).notebook).stem + ".html"
    except (OSError, ValueError, KeyError):
        return f"{assignment}.html"


def _final_scores(course_root, results: list[dict]) -> dict[str, dict]:
    """Gradebook scores of ``results`` (one assignment), or ``{}`` when the course root has
    no such assignment (pages then show the autograded score)."""
    from autograder.outputs.exports import final_scores

    if not results:
        return {}
    try:
        return final_scores(course_root, results[0]["assignment"], results)
    except (OSError, ValueError, KeyError):
        return {}


def _read_small(path: Path) -> str | None:
    """Text of a small regular file (not a link), or None."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_CARRIED_BYTES:
            return None
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def _carry_files(course_root: Path, result: dict, folder: Path) -> None:
    """Copy ``timestamp.txt`` and ``submission_secret.txt`` into the feedback folder, from the
    autograded copy (the timestamp ``generate_feedback`` compares) or else the submission.

    A submission that did not come through the exchange has neither: the folder then gets the
    time of grading and a fresh secret, so ``release_feedback`` releases the class instead of
    stopping at this student (nobody can fetch a page released under a fresh secret)."""
    student, assignment = result["student"], result["assignment"]
    for name in CARRIED_FILES:
        for place in ("autograded", "submitted"):
            text = _read_small(course_root / place / student / assignment / name)
            if text is not None:
                atomic_write(folder / name, text)
                break
        else:
            if not (folder / name).is_file():
                fallback = (secrets.token_hex(64) if name == "submission_secret.txt"
                            else str(result.get("graded_at") or dt.datetime.now(
                                dt.timezone.utc).isoformat(timespec="seconds")))
                atomic_write(folder / name, fallback)


def _keep_nbgrader_page(page: Path) -> str | None:
    """Move a page that nbgrader wrote under ``page``'s name to ``.<name>.nbgrader.html`` and
    return the kept nbgrader page's text (also one kept by an earlier run), or None."""
    kept = page.with_name(f".{page.stem}.nbgrader.html")
    if page.is_file() and not page.is_symlink():
        text = page.read_text("utf-8", errors="replace")
        if GENERATOR not in text[:200]:  # in the head of the pages written here
            page.replace(kept)
    if kept.is_file() and not kept.is_symlink():
        return kept.read_text("utf-8", errors="replace")
    return None


def write_feedback(course_root, results: list[dict], problems: list | None = None) -> list[Path]:
    """Write one page per result (see the module's docstring for names); returns their paths.

    A page that cannot be written (a folder in the way, a full disk, a student id that is not a
    valid file name) is appended to ``problems`` as ``(student, reason)`` when it is given, and
    the other pages are still written; without ``problems`` the error is raised.
    """
    course_root = Path(course_root)
    files = []
    names: dict[str, str] = {}
    finals = _final_scores(course_root, results)
    for result in results:
        try:
            student, assignment = result["student"], result["assignment"]
            if assignment not in names:
                names[assignment] = page_name(course_root, assignment)
            folder = course_root / "feedback" / student / assignment
            path = folder / names[assignment]
            embedded = _keep_nbgrader_page(path)
            files.append(atomic_write(path, render(result, finals.get(student), embedded)))
            _carry_files(course_root, result, folder)
        except (OSError, UnicodeError, ValueError) as exc:
            if problems is None:
                raise
            problems.append((result["student"], f"{type(exc).__name__}: {exc}"))
    return files
