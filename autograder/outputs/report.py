"""The class report: what a whole class got right and wrong in one assignment.

``fnn-grade report ASSIGNMENT`` reads the stored results ``grading/<assignment>/<student>.json``
and writes one self-contained HTML page (figures inline as PNG, no external resources, no
scripts), by default ``grading/<assignment>/report.html``, and prints a short text version:

* the score distribution (histogram) and the pass rate of every test (table and bar chart);
* the misconceptions the checks recognised (:mod:`autograder.cases.misconceptions`), counted in
  students, each linked to the lecture section that explains it;
* the pairs of tests (of different functions) that failed together most often;
* the sandbox CPU time per submission (the results record no time per test) and every flagged
  or errored submission;
* pairs of submissions whose solution cells are unusually similar, side by side, for a person
  to judge: the report never changes a score.

The similarity score is :mod:`autograder.outputs.similarity`'s.

Every student-controlled string (ids, messages, flag details, code) is escaped for its medium:
:func:`autograder.outputs.safe.html_text` in the page, :func:`autograder.outputs.safe.inert` in
the terminal.
"""
from __future__ import annotations

import argparse
import base64
import io
import math
import os
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np

from autograder.cases.misconceptions import BY_ID, recognise
from autograder.outputs.safe import atomic_write, html_text, inert
from autograder.outputs.similarity import (MIN_SCORE, MIN_SHARED, NGRAM, fingerprints, fold_given,
                                           similar_pairs, starter_code)

MAX_PAIRS_SHOWN = 30
"""Similar pairs shown in full on the page (the others are counted)."""
MAX_CODE_SHOWN = 4_000
"""Characters of one cell shown side by side."""
NOT_GRADED = frozenset({"invalid_notebook", "grader_error"})
"""Statuses of a case that was never run: ignored for the co-failure table."""
JUDGED = frozenset({"passed", "failed"})
"""Statuses of a case whose answer was judged; any other status (error, timeout, crash,
too_large, bad_output, sandbox_error, invalid_notebook, bad_cell, policy, grader_error) is
listed under "flagged and errored submissions"."""

# --------------------------------------------------------------------------- class statistics
def _usable(result) -> bool:
    return (type(result) is dict and type(result.get("student")) is str
            and type(result.get("cases")) is list
            and all(type(c) is dict and type(c.get("name")) is str for c in result["cases"]))


def _number(value, default: float = 0.0) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def class_statistics(results: list[dict], test_order: list[str] | None = None) -> dict:
    """Scores, pass rates, misconceptions, co-failures, CPU time and problems of a class.

    Parameters
    ----------
    results : stored results (see :func:`autograder.engine.runner.grade_submission`); entries
        that are not result dicts are counted in ``unreadable`` and otherwise ignored.
    test_order : test (case) names in the order to list them (the assignment's spec); tests
        not in it follow in the order first seen.

    Returns
    -------
    dict with ``students`` (ids, sorted), ``totals`` (n,), ``max_total``, ``tests`` (rows
    ``{"name", "function", "hidden", "max_points", "students", "passed", "rate"}``),
    ``misconceptions`` (rows ``{"id", "students", "count", "percent"}``, most frequent first),
    ``cofailures`` (rows ``{"a", "b", "both", "failed_a", "failed_b", "rate_b_given_a",
    "rate_a_given_b"}``), ``cpu`` (``{"mean", "median", "max", "slowest"}`` or None),
    ``problems`` (rows ``{"student", "flags", "errors", "statuses", "messages"}``: a flagged,
    errored or not fully judged submission, with the first three distinct messages of its
    unjudged cases) and ``unreadable``.
    """
    if not isinstance(results, (list, tuple)):
        raise TypeError(f"results must be a list of result dicts, got {type(results).__name__}")
    usable = sorted((r for r in results if _usable(r)), key=lambda r: r["student"])
    n = len(usable)
    order = list(test_order or [])
    info: dict[str, dict] = {}
    for result in usable:
        for case in result["cases"]:
            if case["name"] not in info:
                info[case["name"]] = {"function": str(case.get("function", "")),
                                      "hidden": bool(case.get("hidden")),
                                      "max_points": _number(case.get("max_points"))}
                if case["name"] not in order:
                    order.append(case["name"])
    order = [name for name in order if name in info]
    passed = Counter()
    seen = Counter()
    failed_sets = []
    found: dict[str, set] = {}
    for result in usable:
        failed = set()
        for case in result["cases"]:
            seen[case["name"]] += 1
            if case.get("passed") is True:
                passed[case["name"]] += 1
            elif case.get("status") not in NOT_GRADED:
                failed.add(case["name"])
            if case.get("status") == "failed":
                for mid in recognise(case.get("message")):
                    found.setdefault(mid, set()).add(result["student"])
        failed_sets.append(failed)
    tests = [dict(info[name], name=name, students=seen[name], passed=passed[name],
                  rate=passed[name] / seen[name] if seen[name] else 0.0) for name in order]
    misconceptions = [{"id": mid, "students": sorted(who), "count": len(who),
                       "percent": 100.0 * len(who) / n}
                      for mid, who in found.items()]
    rank = {mid: i for i, mid in enumerate(BY_ID)}
    misconceptions.sort(key=lambda row: (-row["count"], rank[row["id"]]))
    return {"students": [r["student"] for r in usable],
            "totals": np.array([_number(r.get("total")) for r in usable], dtype=np.float64),
            "max_total": max([_number(r.get("max_total")) for r in usable], default=0.0),
            "tests": tests, "misconceptions": misconceptions,
            "cofailures": cofailures(failed_sets, {name: info[name]["function"] for name in order},
                                     order),
            "cpu": _cpu(usable), "problems": _problems(usable),
            "unreadable": len(results) - n}


def cofailures(failed_sets: list[set], function_of: dict[str, str], order: list[str],
               limit: int = 15) -> list[dict]:
    """The pairs of tests of different functions failed by the most students.

    Tests of the same function fail together by construction (a visible and a hidden case of
    one function), so only pairs across functions are counted.

    Parameters
    ----------
    failed_sets : one set of failed test names per student.
    function_of : ``{test name: function}``.
    order : test names in listing order (``a`` of a pair comes before ``b``).
    limit : at most this many rows.

    Returns
    -------
    list of ``{"a", "b", "both", "failed_a", "failed_b", "rate_b_given_a", "rate_a_given_b"}``,
    sorted by ``both`` (descending), then by listing order; pairs failed together by fewer
    than two students are left out.
    """
    position = {name: i for i, name in enumerate(order)}
    alone = Counter(name for failed in failed_sets for name in failed)
    both = Counter()
    for failed in failed_sets:
        names = sorted((n for n in failed if n in position), key=position.get)
        for a, b in combinations(names, 2):
            if function_of[a] != function_of[b]:
                both[(a, b)] += 1
    rows = [{"a": a, "b": b, "both": count, "failed_a": alone[a], "failed_b": alone[b],
             "rate_b_given_a": count / alone[a], "rate_a_given_b": count / alone[b]}
            for (a, b), count in both.items() if count >= 2]
    rows.sort(key=lambda r: (-r["both"], position[r["a"]], position[r["b"]]))
    return rows[:limit]


def _cpu(results: list[dict]) -> dict | None:
    times = [(_number(r.get("sandbox_cpu_s"), -1.0), r["student"]) for r in results]
    times = [(t, s) for t, s in times if t >= 0]
    if not times:
        return None
    values = np.array([t for t, _ in times])
    slowest = sorted(times, key=lambda pair: (-pair[0], pair[1]))[:5]
    return {"mean": float(values.mean()), "median": float(np.median(values)),
            "max": float(values.max()), "slowest": slowest}


def _problems(results: list[dict]) -> list[dict]:
    rows = []
    for result in results:
        flags = [f for f in result.get("flags") or [] if type(f) is dict]
        errors = [str(e) for e in result.get("errors") or []]
        problem_cases = [c for c in result["cases"] if c.get("status") not in JUDGED]
        statuses = Counter(str(c.get("status")) for c in problem_cases)
        messages: dict[str, str] = {}  # message -> the first test that gave it
        for case in problem_cases:
            if len(messages) < 3:
                messages.setdefault(str(case.get("message")), str(case.get("name")))
        if flags or errors or statuses:
            rows.append({"student": result["student"], "flags": flags, "errors": errors,
                         "statuses": dict(sorted(statuses.items())),
                         "messages": [f"{name}: {text}" for text, name in messages.items()]})
    return rows


# --------------------------------------------------------------------------- figures
def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def figures(stats: dict) -> dict[str, str]:
    """Base64 PNGs ``{"scores": ..., "pass_rates": ...}`` drawn with matplotlib's Agg backend.

    Only the assignment's own test names appear in the figures (no student-controlled text);
    ``$`` in them is shown as is (mathtext off).
    """
    from matplotlib.figure import Figure
    import matplotlib

    out = {}
    with matplotlib.rc_context({"text.parse_math": False, "font.size": 9}):
        fig = Figure(figsize=(6.4, 2.8))
        ax = fig.add_subplot()
        top = max(stats["max_total"], float(stats["totals"].max(initial=0.0)), 1.0)
        ax.hist(stats["totals"], bins=np.linspace(0.0, top, 21), color="#3b6ea8",
                edgecolor="white")
        ax.set_xlabel(f"score (out of {stats['max_total']:g})")
        ax.set_ylabel("students")
        ax.set_title("Score distribution")
        out["scores"] = _png(fig)
        tests = stats["tests"]
        fig = Figure(figsize=(6.4, 0.6 + 0.24 * max(1, len(tests))))
        ax = fig.add_subplot()
        rates = [100.0 * t["rate"] for t in tests]
        ax.barh(range(len(tests)), rates, color=["#b5452f" if r < 50 else "#3b6ea8" for r in rates])
        ax.set_yticks(range(len(tests)), [t["name"][:60] for t in tests])
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("students who passed (%)")
        ax.set_title("Pass rate per test")
        out["pass_rates"] = _png(fig)
    return out


# --------------------------------------------------------------------------- rendering
_CSS = """body{font-family:sans-serif;max-width:75em;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f2f2f2}td.num{text-align:right}
.low{color:#a11;font-weight:bold}.note{color:#555;font-size:0.9em}
.pair{display:flex;gap:1em}.pair>div{flex:1;min-width:0}
pre{background:#f7f7f7;border:1px solid #ddd;padding:6px;overflow-x:auto;font-size:0.85em;
white-space:pre-wrap;word-break:break-all}img{max-width:100%}h2{border-bottom:1px solid #ddd}"""


def _lecture_href(lecture: str, anchor: str, link_base: str) -> str:
    return html_text(f"{link_base}/{lecture}#{anchor}" if link_base else f"{lecture}#{anchor}")


def render_html(assignment: str, stats: dict, similarity: dict, codes: dict,
                images: dict[str, str], link_base: str = "") -> str:
    """The report page.

    Parameters
    ----------
    assignment : assignment name.
    stats : :func:`class_statistics`; similarity : :func:`similar_pairs`.
    codes : ``{student: {grade_id: code}}`` (the solution cells, shown side by side).
    images : :func:`figures`.
    link_base : path from the page's folder to the course root (for lecture links).
    """
    esc = html_text
    n = len(stats["students"])
    totals = stats["totals"]
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
             f"<title>Class report: {esc(assignment)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Class report: {esc(assignment)}</h1>"]
    if n:
        parts.append(f"<p>{n} students; mean {totals.mean():.2f}, median {np.median(totals):g} "
                     f"of {stats['max_total']:g} autograded points.</p>")
    if stats["unreadable"]:
        parts.append(f"<p class='note'>{stats['unreadable']} stored result(s) could not be read "
                     "and are left out.</p>")
    parts.append("<h2>Scores</h2>")
    if "scores" in images:
        parts.append(f"<img alt='score histogram' src='data:image/png;base64,{images['scores']}'>")
    parts.append("<h2>Pass rate per test</h2><table><tr><th>test</th><th>function</th>"
                 "<th>points</th><th>passed</th><th>rate</th></tr>")
    for t in stats["tests"]:
        low = " class='num low'" if t["rate"] < 0.5 else " class='num'"
        parts.append(f"<tr><td>{esc(t['name'])}{' (hidden)' if t['hidden'] else ''}</td>"
                     f"<td>{esc(t['function'])}</td><td class='num'>{t['max_points']:g}</td>"
                     f"<td class='num'>{t['passed']} / {t['students']}</td>"
                     f"<td{low}>{100 * t['rate']:.0f}%</td></tr>")
    parts.append("</table>")
    if "pass_rates" in images:
        parts.append(f"<img alt='pass rate per test' "
                     f"src='data:image/png;base64,{images['pass_rates']}'>")
    parts.append("<h2>Misconceptions the checks recognised</h2>")
    if stats["misconceptions"]:
        parts.append("<table><tr><th>students</th><th>misconception</th><th>explained in</th>"
                     "</tr>")
        for row in stats["misconceptions"]:
            m = BY_ID[row["id"]]
            href = _lecture_href(m.lecture, m.anchor, link_base)
            parts.append(f"<tr><td class='num'>{row['percent']:.0f}% ({row['count']})</td>"
                         f"<td>{esc(m.label)}</td><td><a href='{href}'>{esc(Path(m.lecture).stem)}"
                         f": {esc(m.heading)}</a></td></tr>")
        parts.append("</table><p class='note'>Students who got the hint at least once, over all "
                     f"{n} students.</p>")
    else:
        parts.append("<p>None recognised.</p>")
    parts.append("<h2>Tests failed together most often</h2>")
    if stats["cofailures"]:
        parts.append("<table><tr><th>test A</th><th>test B</th><th>failed both</th>"
                     "<th>P(B fails | A fails)</th><th>P(A fails | B fails)</th></tr>")
        for r in stats["cofailures"]:
            parts.append(f"<tr><td>{esc(r['a'])}</td><td>{esc(r['b'])}</td>"
                         f"<td class='num'>{r['both']}</td>"
                         f"<td class='num'>{100 * r['rate_b_given_a']:.0f}% of {r['failed_a']}</td>"
                         f"<td class='num'>{100 * r['rate_a_given_b']:.0f}% of {r['failed_b']}</td>"
                         "</tr>")
        parts.append("</table><p class='note'>Pairs of tests of different functions; tests that "
                     "never ran (unreadable notebook, grader error) are not counted.</p>")
    else:
        parts.append("<p>No two tests of different functions failed together.</p>")
    parts.append(_problems_html(stats))
    parts.append(_similarity_html(similarity, codes))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _problems_html(stats: dict) -> str:
    esc = html_text
    out = ["<h2>Grading time</h2>"]
    cpu = stats["cpu"]
    if cpu:
        slow = ", ".join(f"{esc(s)} ({t:.2f} s)" for t, s in cpu["slowest"])
        out.append(f"<p>The results record no time per test; sandbox CPU per submission: mean "
                   f"{cpu['mean']:.2f} s, median {cpu['median']:.2f} s, max {cpu['max']:.2f} s. "
                   f"Slowest: {slow}.</p>")
    else:
        out.append("<p>No grading time recorded.</p>")
    out.append(f"<h2>Flagged and errored submissions ({len(stats['problems'])})</h2>")
    if not stats["problems"]:
        out.append("<p>None.</p>")
        return "\n".join(out)
    out.append("<table><tr><th>student</th><th>flags</th><th>grader errors</th>"
               "<th>test statuses</th><th>first messages</th></tr>")
    for row in stats["problems"]:
        flags = "<br>".join(f"[{esc(f.get('rule'))}, {esc(f.get('action'))}] "
                            f"{esc(f.get('function') or '')} {esc(f.get('detail'))}"
                            for f in row["flags"])
        errors = "<br>".join(esc(e[:500]) for e in row["errors"])
        statuses = ", ".join(f"{esc(k)}: {v}" for k, v in row["statuses"].items())
        messages = "<br>".join(esc(m[:300]) for m in row["messages"])
        out.append(f"<tr><td>{esc(row['student'])}</td><td>{flags}</td><td>{errors}</td>"
                   f"<td>{statuses}</td><td>{messages}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _shown(code) -> str:
    code = str(code)
    if len(code) <= MAX_CODE_SHOWN:
        return code
    return code[:MAX_CODE_SHOWN] + f"\n... ({len(code) - MAX_CODE_SHOWN} more characters)"


def _similarity_html(similarity: dict, codes: dict) -> str:
    esc = html_text
    pairs = similarity["pairs"]
    out = [f"<h2>Similar submissions ({len(pairs)})</h2>",
           "<p class='note'>For a person to judge; this never changes a score. Solution cells "
           "are compared after normalising names, comments, docstrings and formatting, without "
           f"the starter code and without code that many students share. Listed: score at least "
           f"{similarity['threshold']:.2f} (class median {similarity['median']:.2f}, "
           f"{similarity['compared']} pairs compared) and at least {MIN_SHARED} shared "
           f"{NGRAM}-grams.</p>"]
    for pair in pairs[:MAX_PAIRS_SHOWN]:
        a, b = pair["a"], pair["b"]
        out.append(f"<h3>{esc(a)} and {esc(b)}: score {pair['score']:.2f} "
                   f"({pair['shared']} shared {NGRAM}-grams)</h3>")
        ranked = sorted(pair["cells"].items(), key=lambda kv: -kv[1])
        shown = [gid for gid, s in ranked if s >= MIN_SCORE] or [gid for gid, _ in ranked[:1]]
        for gid in shown:
            left, right = (_shown(codes.get(s, {}).get(gid, "")) for s in (a, b))
            out.append(f"<p>{esc(gid)} (cell score {pair['cells'][gid]:.2f})</p>"
                       f"<div class='pair'><div><b>{esc(a)}</b><pre>{esc(left)}</pre></div>"
                       f"<div><b>{esc(b)}</b><pre>{esc(right)}</pre></div></div>")
    if len(pairs) > MAX_PAIRS_SHOWN:
        out.append(f"<p>{len(pairs) - MAX_PAIRS_SHOWN} more pairs are not shown.</p>")
    return "\n".join(out)


def render_text(assignment: str, stats: dict, similarity: dict) -> str:
    """A short terminal summary; every student-controlled string goes through :func:`inert`."""
    n = len(stats["students"])
    lines = [f"Class report: {assignment} ({n} students)"]
    if n:
        totals = stats["totals"]
        lines[0] = (f"Class report: {assignment} ({n} students, mean {totals.mean():.2f}, "
                    f"median {np.median(totals):g} of {stats['max_total']:g})")
    lowest = sorted(stats["tests"], key=lambda t: t["rate"])[:5]
    if lowest:
        lines.append("Lowest pass rates:")
        lines += [f"  {100 * t['rate']:3.0f}%  {t['name']}" for t in lowest]
    if stats["misconceptions"]:
        lines.append("Misconceptions (share of students):")
        lines += [f"  {r['percent']:3.0f}%  {BY_ID[r['id']].label} ({r['count']})"
                  for r in stats["misconceptions"][:8]]
    if stats["cofailures"]:
        lines.append("Failed together most often:")
        lines += [f"  {r['both']:3d}  {r['a']} + {r['b']}" for r in stats["cofailures"][:3]]
    cpu = stats["cpu"]
    if cpu:
        seconds, student = cpu["slowest"][0]
        lines.append(f"Sandbox CPU per submission: mean {cpu['mean']:.2f} s, max {seconds:.2f} s "
                     f"({inert(student)})")
    problems = stats["problems"]
    if problems:
        statuses = Counter()
        for row in problems:
            statuses.update(row["statuses"].keys())
        detail = ", ".join(f"{inert(k)} {v}" for k, v in sorted(statuses.items()))
        lines.append(f"Flagged or errored submissions: {len(problems)}"
                     + (f" (students with: {detail})" if detail else ""))
        lines.append("  " + ", ".join(inert(row["student"]) for row in problems[:10])
                     + (", ..." if len(problems) > 10 else ""))
    pairs = similarity["pairs"]
    lines.append(f"Similar pairs for a person to judge: {len(pairs)}")
    lines += [f"  {inert(p['a'])} ~ {inert(p['b'])}  {p['score']:.2f}" for p in pairs[:10]]
    return "\n".join(lines)


# --------------------------------------------------------------------------- entry points
def write_report(course_root, assignment: str, output=None,
                 results: list[dict] | None = None) -> tuple[Path, str]:
    """Build the class report of ``assignment`` and write it atomically.

    Parameters
    ----------
    course_root : the course root (holds ``assignments/`` and ``grading/``).
    assignment : assignment name.
    output : the HTML file (default ``grading/<assignment>/report.html``).
    results : the results to report on (default: the stored ones).

    Returns
    -------
    (path of the page, the text summary)
    """
    from autograder.cases.tasks import get_spec
    from autograder.engine.runner import load_results

    course_root = Path(course_root)
    spec = get_spec(assignment, course_root)  # ValueError for an unknown assignment
    if results is None:
        results = load_results(course_root, assignment)
    if not isinstance(results, (list, tuple)):
        raise TypeError(f"results must be a list of result dicts, got {type(results).__name__}")
    stats = class_statistics(results, [case.name for case in spec.cases])
    usable = [r for r in results if _usable(r)]
    keep = frozenset(spec.functions)
    path = Path(output) if output else course_root / "grading" / assignment / "report.html"
    link_base = Path(os.path.relpath(course_root.resolve(), path.parent.resolve())).as_posix()
    starter = starter_code(course_root, assignment)
    similarity = similar_pairs(fingerprints(usable, starter, keep))
    flagged = {p[k] for p in similarity["pairs"][:MAX_PAIRS_SHOWN] for k in ("a", "b")}
    codes = {r["student"]: {str(gid): fold_given(code, starter.get(str(gid), []))
                            for gid, code in r["solutions"].items() if type(code) is str}
             for r in usable if r["student"] in flagged and type(r.get("solutions")) is dict}
    page = render_html(assignment, stats, similarity, codes, figures(stats) if usable else {},
                       "" if link_base == "." else link_base)
    atomic_write(path, page)
    return path, render_text(assignment, stats, similarity)


def add_report_command(subparsers) -> argparse.ArgumentParser:
    """Add ``report ASSIGNMENT [--course-root DIR] [-o OUT.html]`` to ``fnn-grade``'s
    subcommands; the parsed arguments go to :func:`run_report`."""
    p = subparsers.add_parser("report", help="write the class report (HTML) of an assignment")
    p.add_argument("assignment")
    p.add_argument("--course-root", default=argparse.SUPPRESS,
                   help="nbgrader course root (default: .)")
    p.add_argument("-o", "--output", help="HTML file (default: grading/ASSIGNMENT/report.html)")
    p.set_defaults(func=run_report)
    return p


def run_report(args) -> int:
    """``fnn-grade report``: 0 when the page was written, 1 without results, 2 for an unknown
    assignment (nothing is written then)."""
    from autograder.cases.tasks import list_assignments
    from autograder.engine.runner import load_results

    root = Path(getattr(args, "course_root", None) or ".")
    known = list_assignments(root)
    if args.assignment not in known:
        print(f"error: unknown assignment {inert(args.assignment)!r} in {inert(root)}; expected "
              f"one of {', '.join(known) or 'none (not a course root?)'}", file=sys.stderr)
        return 2
    results = load_results(root, args.assignment)
    if not results:
        print(f"error: no results under {inert(root / 'grading' / args.assignment)}: run "
              f"fnn-grade grade {args.assignment} first", file=sys.stderr)
        return 1
    path, text = write_report(root, args.assignment, args.output, results)
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    for line in (text, f"wrote {inert(path)}"):
        print(line.encode(encoding, "backslashreplace").decode(encoding))
    return 0
