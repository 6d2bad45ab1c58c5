"""Command line of the batch grader: ``fnn-grade`` or ``python -m autograder``.

Run from the course root (or pass ``--course-root``)::

    fnn-grade grade forward_pass [--student 'a*'] [--jobs 2] [--timeout 10] [--memory 1024]
    fnn-grade grade forward_pass --scheduler tcp://127.0.0.1:8786     # on a Dask cluster
    fnn-grade feedback forward_pass
    fnn-grade export forward_pass --format csv|gradescope [-o PATH]
    fnn-grade export-gradescope-autograder forward_pass -o forward_pass.zip
    fnn-grade check my_copy.ipynb [--assignment forward_pass]        # self-study, hidden tests too
    fnn-grade report forward_pass [-o report.html]                    # what the class got wrong

Optional back-ends, imported only when used: ``autograder.deploy.distributed.grade_on_cluster(address)``
returns a ``map_fn`` for :func:`autograder.engine.runner.grade_all`;
``autograder.deploy.gradescope.build_package(course_root, assignment, output_zip)`` writes the zip.

``grade`` reads ``submitted/<student>/<assignment>/<assignment>.ipynb``, writes
``grading/<assignment>/<student>.json`` per student as soon as it is graded (``--force``
re-grades everything), then the gradebook, and prints a summary.

Exit status: 0 when every command did all it was asked; 1 when a run is incomplete (students
without a result are named: a task that failed for good, a refused result, a lost Dask
scheduler) or the gradebook could not be written (its cause is named); 2 for a bad command
line, a folder that is not a course root or an unknown assignment (refused before anything
is written); 130 after Ctrl-C, which stops a local run at once, keeps every result already
graded and says how to resume (running the same command again skips up-to-date results).
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

from autograder.engine import config as config_mod
from autograder.engine import runner


def _options(args) -> dict:
    overrides = {"jobs": getattr(args, "jobs", None), "timeout": getattr(args, "timeout", None),
                 "memory_mb": getattr(args, "memory", None)}
    if getattr(args, "no_bwrap", False):
        overrides["use_bwrap"] = False
    return config_mod.load_config(args.course_root, overrides)


def _emit(text: str, out) -> None:
    """Print ``text`` to ``out``; what its encoding cannot show is shown as a ``\\x..`` escape."""
    encoding = getattr(out, "encoding", None) or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding), file=out)


def _summary(results: list[dict], out=None) -> None:
    """The score table, flags and grader errors of ``results``.

    Student ids, flag details (which name the notebook's cells) and error messages come from
    submissions: each is shown through :func:`autograder.outputs.safe.inert`, so an escape
    sequence, a carriage return or a bidi override is printed as a visible escape and never acts
    on the terminal; one student stays on one line.
    """
    from autograder.outputs.safe import inert

    out = out or sys.stdout
    shown = {id(r): inert(r["student"]) for r in results}
    width = max([len("student")] + [len(name) for name in shown.values()])
    _emit(f"\n{'student':<{width}}  {'score':>13}  flags", out)
    for r in sorted(results, key=lambda r: shown[id(r)]):
        flags = [f for f in r["flags"] if f["rule"] != "notebook_changed"]
        mark = f"{len(flags)} flag(s)" if flags else ""
        _emit(f"{shown[id(r)]:<{width}}  {float(r['total']):>6g} / {float(r['max_total']):<4g}  "
              f"{mark}", out)
    flagged = [r for r in results if r["flags"]]
    if flagged:
        _emit("\nFlagged submissions:", out)
        for r in flagged:
            for f in r["flags"]:
                action = "zeroed" if f["action"] == "zero" else "reported"
                where = f" in {inert(f['function'])}" if f.get("function") else ""
                _emit(f"  {shown[id(r)]}: [{inert(f['rule'])}, {action}]{where}: "
                      f"{inert(f['detail'])}", out)
    for r in results:
        for error in r.get("errors", []):
            _emit(f"  grader error for {shown[id(r)]}: {inert(error)}", out)
    if results:
        mean = sum(float(r["total"]) for r in results) / len(results)
        _emit(f"\n{len(results)} students, mean {mean:.2f} / {float(results[0]['max_total']):g}",
              out)


def cmd_grade(args) -> int:
    options = _options(args)
    students = runner.list_students(args.course_root, args.assignment, args.student)
    if not students:
        print(f"no submissions found under {args.course_root}/submitted/*/{args.assignment}/",
              file=sys.stderr)
        return 1
    map_fn = None
    if args.scheduler:
        try:
            from autograder.deploy.distributed import grade_on_cluster
        except ImportError as exc:
            print(f"error: --scheduler needs autograder.deploy.distributed ({exc})", file=sys.stderr)
            return 2
        map_fn = grade_on_cluster(args.scheduler)
    writer, fresh, missing = None, set(), []
    if not args.no_gradebook:
        from autograder.outputs.gradebook import Writer

        writer = Writer(args.course_root, args.assignment)

    def on_result(result):
        fresh.add(result["student"])
        if writer is not None:
            writer.put(result)

    try:
        results = runner.grade_all(args.course_root, args.assignment, students, options,
                                   map_fn=map_fn, progress=not args.quiet, force=args.force,
                                   on_result=on_result, missing=missing)
    except KeyboardInterrupt:
        _interrupted(writer, args, students, fresh)
        raise
    ok = writer is None or _finish_gradebook(writer, args, students, fresh, missing,
                                             progress=not args.quiet)
    if not args.quiet:
        _summary(results)
    if missing:
        _report_missing(args, students, missing)
        return 1
    return 0 if ok else 1


def _resume_hint(args) -> str:
    return (f"run the same command again to grade the rest (up-to-date results in "
            f"grading/{args.assignment}/ are skipped)")


def _interrupted(writer, args, students, fresh) -> None:
    """After Ctrl-C: say what is kept and how to resume; give the gradebook writer a moment to
    store what was graded (it goes on by itself in the background if it needs longer)."""
    _emit(f"\ninterrupted: {len(fresh)} result(s) graded in this run are saved in "
          f"grading/{args.assignment}/; {_resume_hint(args)}", sys.stderr)
    if writer is not None:
        try:
            if writer.close(timeout=1.0) is None:
                _emit("the gradebook is being updated in the background", sys.stderr)
        except Exception as exc:  # noqa: BLE001 - the results are on disk; say so
            from autograder.outputs.safe import inert

            _emit(f"error: the gradebook was not updated ({inert(exc)})", sys.stderr)


def _report_missing(args, students, missing) -> None:
    """Name the students that were due for grading but got no result (exit status 1)."""
    from autograder.outputs.safe import inert

    names = ", ".join(inert(s) for s in missing)
    _emit(f"error: incomplete run: {len(missing)} of {len(students)} submission(s) got no "
          f"result ({names}); their old results, if any, are out of date and were not used; "
          f"{_resume_hint(args)}", sys.stderr)


def _finish_gradebook(writer, args, students, fresh, missing=(), progress=False) -> bool:
    """Queue the up-to-date results too (rewriting them is idempotent) and wait for the writer,
    showing its progress."""
    skip = set(fresh) | set(missing)
    for result in runner.load_results(args.course_root, args.assignment, students):
        if result["student"] not in skip:
            writer.put(result)
    try:
        writer.close(progress=progress)
    except Exception as exc:  # the results are safe on disk; say so
        from autograder.outputs.safe import inert

        _emit(f"error: the gradebook was not updated ({inert(exc)}); "
              f"results are in grading/{args.assignment}/: run grade again", sys.stderr)
        return False
    finally:
        _report_skipped(writer)
    return True


def _report_skipped(writer) -> None:
    """Name the students whose ids cannot go into the gradebook (Formgrader would show them
    unescaped); their results are on disk and in every export."""
    from autograder.outputs.safe import inert

    for student in sorted(set(writer.skipped)):
        _emit(f"warning: {inert(student)} not written to the gradebook: the student id holds "
              "characters that Formgrader does not escape (rename the folder under submitted/)",
              sys.stderr)


def refuse_target(args) -> str | None:
    """Why ``args`` (a command on one assignment) cannot run, or None.

    The course root must be an nbgrader course root (``nbgrader_config.py`` and
    ``assignments/``) and the assignment one of its graded assignments. Checked before anything
    is written or created.
    """
    from autograder.cases.tasks import list_assignments

    root = Path(args.course_root)
    if not (root / "nbgrader_config.py").is_file() or not (root / "assignments").is_dir():
        return (f"{root} is not a course root (it needs nbgrader_config.py and assignments/); "
                "run from the course root or pass --course-root")
    known = list_assignments(root)
    if args.assignment not in known:
        from autograder.outputs.safe import inert

        return (f"unknown assignment '{inert(args.assignment)}'; expected one of "
                f"{', '.join(known) or '(none)'}")
    return None


def cmd_feedback(args) -> int:
    from autograder.outputs.feedback import write_feedback

    results = runner.load_results(args.course_root, args.assignment)
    problems: list = []
    files = write_feedback(args.course_root, results, problems=problems)
    print(f"wrote {len(files)} feedback pages under {args.course_root}/feedback/")
    return _report_problems("no feedback page", problems)


def _report_problems(what: str, problems: list) -> int:
    """Print each ``(student, reason)`` to stderr (inert); 1 if there was any, else 0."""
    from autograder.outputs.safe import inert

    for student, reason in problems:
        _emit(f"error: {what} for {inert(student)}: {inert(reason)}", sys.stderr)
    return 1 if problems else 0


def cmd_export(args) -> int:
    from autograder.outputs.exports import export

    results = runner.load_results(args.course_root, args.assignment)
    default = (f"{args.assignment}_grades.csv" if args.format == "csv"
               else f"gradescope_{args.assignment}")
    out = Path(args.output or Path(args.course_root) / default)
    problems: list = []
    files = export(results, args.format, out, problems=problems, course_root=args.course_root)
    print(f"wrote {len(files)} file(s) to {out}")
    return _report_problems("no results.json", problems)


def cmd_export_gradescope_autograder(args) -> int:
    try:
        from autograder.deploy.gradescope import build_package
    except ImportError as exc:
        print(f"error: this command needs autograder.deploy.gradescope ({exc})", file=sys.stderr)
        return 2
    build_package(args.course_root, args.assignment, args.output, wheelhouse=args.wheelhouse,
                  bundle_dependencies=not args.no_bundle, python_version=args.python)
    print(f"wrote {args.output}")
    return 0


def cmd_check(args) -> int:
    from autograder.cases.tasks import list_assignments

    known = list_assignments(args.course_root)
    path = Path(args.notebook)
    assignment = args.assignment or path.stem
    if assignment not in known:
        print(f"error: cannot tell the assignment from {path.name}; pass --assignment "
              f"(one of {', '.join(known)})", file=sys.stderr)
        return 2
    options = _options(args)
    options["secret"] = secrets.token_hex(32)  # fresh inputs every time: nothing to memorise
    result = runner.grade_submission(args.course_root, assignment, "self-check", path, options)
    if args.json:
        print(json.dumps(result, indent=1))  # ASCII JSON: escapes are data, not terminal codes
        return 0
    from autograder.outputs.safe import inert

    for case in result["cases"]:
        mark = "PASS" if case["passed"] else "FAIL"
        hidden = " (hidden)" if case["hidden"] else ""
        msg = "" if case["passed"] else f": {inert(case['message'])}"
        _emit(f"{mark} {case['points']:g}/{case['max_points']:g} {case['function']}: "
              f"{case['name']}{hidden}{msg}", sys.stdout)
    for flag in result["flags"]:
        _emit(f"NOTE {inert(flag['detail'])}", sys.stdout)
    print(f"score: {result['total']:g} / {result['max_total']:g} (autograded)")
    from autograder.cases.tasks import get_spec

    written = get_spec(assignment, args.course_root).written
    if written:
        listed = ", ".join(f"{gid} ({points:g})" for gid, points in written.items())
        print(f"graded by hand, not in this score: {sum(written.values()):g} points "
              f"({listed})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fnn-grade", description="Hardened batch grader of "
                                     "the fnn-course assignments.")
    parser.add_argument("--course-root", default=".", help="nbgrader course root (default: .)")
    sub = parser.add_subparsers(dest="command", required=True)

    def limits(p):
        p.add_argument("--timeout", type=float, help="seconds per test (default 10)")
        p.add_argument("--memory", type=int, help="MiB of memory per test (default 1024)")
        p.add_argument("--no-bwrap", action="store_true",
                       help="run without bubblewrap (rlimits and timeouts only)")

    p = sub.add_parser("grade", help="grade the submissions of an assignment")
    p.add_argument("assignment")
    p.add_argument("--student", default="*", help="glob of student ids (default: all)")
    p.add_argument("--jobs", type=int, help="sandboxes in parallel (default 2)")
    p.add_argument("--scheduler", help="Dask scheduler address: grade on that cluster")
    p.add_argument("--force", action="store_true", help="re-grade up-to-date results")
    p.add_argument("--no-gradebook", action="store_true", help="do not write gradebook.db")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    limits(p)
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("feedback", help="write per-student feedback pages")
    p.add_argument("assignment")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("export", help="export results as CSV or Gradescope results.json")
    p.add_argument("assignment")
    p.add_argument("--format", choices=("csv", "gradescope"), default="csv")
    p.add_argument("-o", "--output", help="CSV file or folder (gradescope)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("export-gradescope-autograder",
                       help="build a Gradescope autograder package (zip)")
    p.add_argument("assignment")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--wheelhouse", help="folder of dependency wheels to bundle "
                   "(default: pip downloads them for --python from the configured index)")
    p.add_argument("--no-bundle", action="store_true",
                   help="bundle no dependency wheels (setup.sh installs them from PyPI)")
    p.add_argument("--python", help="Python version of the bundled wheels, e.g. 3.12 "
                   "(default: this Python's)")
    p.set_defaults(func=cmd_export_gradescope_autograder)

    p = sub.add_parser("check", help="grade your own copy of an assignment (hidden tests too)")
    p.add_argument("notebook")
    p.add_argument("--assignment", help="assignment name (default: the notebook's file name)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    limits(p)
    p.set_defaults(func=cmd_check)

    from autograder.outputs.report import add_report_command

    add_report_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``fnn-grade``."""
    args = build_parser().parse_args(argv)
    if getattr(args, "assignment", None) is not None and args.func is not cmd_check:
        why = refuse_target(args)
        if why is not None:
            _emit(f"error: {why}", sys.stderr)
            return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _stop_now(130)


def _stop_now(code: int) -> None:
    """Exit at once with ``code``: run the exit handlers (idle sandboxes, runtime copy) but do
    not wait for grading threads still inside a sandbox (their sandboxes die with this
    process)."""
    import atexit
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
