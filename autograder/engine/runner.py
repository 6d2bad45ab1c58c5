"""Grade submissions: the trusted parent's side of the batch grader.

Entry points (plain data in, plain JSON-serializable data out, safe to call in a separate worker
process, e.g. a Dask worker):

* :func:`grade_submission` grades one notebook and returns a result dict;
* :func:`grade_all` grades many students (a local thread pool, or any executor through
  ``map_fn``), writes each result atomically to ``grading/<assignment>/<student>.json`` as soon
  as it arrives, and skips students whose result is up to date (resume after an interruption).

Other executors plug in through ``map_fn(func, kwargs_list)``: it must call
``func(**kwargs)`` for every dict of ``kwargs_list`` (each holds plain strings and a JSON-able
``options`` dict) wherever it likes and yield the returned result dicts as they complete, in
any order. ``fnn-grade grade --scheduler ADDRESS`` gets its ``map_fn`` from
``autograder.deploy.distributed.grade_on_cluster(ADDRESS)``. On one machine, give each concurrent
worker its own sandbox uid (``options["uid"]``; RLIMIT_NPROC counts processes per uid, so a
fork bomb would otherwise starve the other sandboxes); the local pool does this itself.

For every case of the assignment's spec (``autograder.cases.tasks``) the parent derives the inputs from
``HMAC(secret, assignment/student/case)``, computes the reference with the ``course`` library,
sends only the inputs to the sandbox (:mod:`autograder.sandbox.launcher`) and judges the returned data
with the case's ``compare`` and the rule that inputs must be unchanged after the call
(:func:`autograder.cases.compare.changed_inputs`, the in-notebook check's rule). Student code is never
imported or executed here.

One submission never stops the class: any exception while reading, scanning, running, decoding
or judging one submission becomes that student's result with every case in status
``"grader_error"``, total 0 and the reason in ``errors`` (no fingerprint, so the next run grades
it again); :func:`grade_all` goes on with the others. The parent's CPU and memory per
submission are bounded by :mod:`autograder.engine.analysis` (reading and scanning) and by the
sandbox's answer limits.
"""
from __future__ import annotations

import copy
import datetime as dt
import fnmatch
import hashlib
import hmac
import json
import os
import queue
import threading
import traceback
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from autograder.engine import analysis
from autograder.engine import config as config_mod
from autograder.engine import notebook_io
from autograder.engine import policy
from autograder.sandbox import launcher as sandbox
from autograder.cases.spec import public_inputs
from autograder.cases.compare import changed_inputs, in_place_message, redact_values
from autograder.engine.config import result_path
from autograder.sandbox.inside.wire import Unsupported

GRADER_VERSION = "2"
SETUP = "import numpy as np\n"
"""Trusted code run before the student's cells in every test process."""


def case_seed(secret: bytes, assignment: str, student: str, index: int, name: str) -> int:
    """64-bit seed of one case: ``HMAC-SHA256(secret, "assignment/student/index/name")``."""
    message = f"{assignment}/{student}/{index}/{name}".encode("utf-8", "surrogateescape")
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:8], "big")


def _secret(course_root, options) -> bytes:
    if options.get("secret"):
        return bytes.fromhex(options["secret"])
    return config_mod.load_secret(course_root)


def _limits(options: dict) -> sandbox.Limits:
    return sandbox.Limits(
        timeout=float(options.get("timeout", 10.0)),
        accuracy_timeout=float(options.get("accuracy_timeout", 120.0)),
        memory_mb=int(options.get("memory_mb", 1024)), nproc=int(options.get("nproc", 32)),
        max_output_mb=int(options.get("max_output_mb", 64)),
        timing_repeats=int(options.get("timing_repeats", 3)),
        use_bwrap=options.get("use_bwrap"), uid=options.get("uid"),
        warm=bool(options.get("warm_sandboxes", True)))


def fingerprint(notebook_bytes: bytes | None, secret: bytes, options: dict) -> str:
    """Identifies a grading run: same notebook, secret, grader and limits give the same value."""
    return _fingerprint([b"<missing>" if notebook_bytes is None else notebook_bytes],
                        secret, options)


def fingerprint_file(path, secret: bytes, options: dict) -> str:
    """:func:`fingerprint` of the file at ``path`` (None or unreadable: a missing notebook),
    read in chunks so that a huge submission never sits in memory."""
    def chunks():
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                yield block

    if path is not None:
        try:
            return _fingerprint(chunks(), secret, options)
        except OSError:
            pass
    return fingerprint(None, secret, options)


def _fingerprint(chunks, secret: bytes, options: dict) -> str:
    h = hashlib.sha256()
    h.update(GRADER_VERSION.encode())
    h.update(hashlib.sha256(secret).digest())
    for chunk in chunks:
        h.update(chunk)
    keys = ("timeout", "accuracy_timeout", "memory_mb", "nproc", "max_output_mb", "policy")
    h.update(json.dumps({k: options.get(k) for k in keys}, sort_keys=True).encode())
    return h.hexdigest()[:32]


def _case_record(case, status, message, earned=0.0) -> dict:
    earned = float(earned)
    return {"name": case.name, "grade_id": case.grade_id, "function": case.function,
            "kind": case.kind, "hidden": bool(case.hidden), "points": earned,
            "max_points": float(case.points),
            "passed": status == "passed" and earned >= float(case.points),
            "status": status, "message": clip_message(str(message))}


def clip_message(message: str, limit: int = 1000) -> str:
    """``message`` cut to about ``limit`` characters, keeping its last ``Hint:`` line (the part
    that tells the student what to fix) when the cut would lose it."""
    if len(message) <= limit:
        return message
    hint = next((line for line in reversed(message.splitlines())
                 if line.lstrip().startswith("Hint:")), "")[:limit // 2]
    head = message[:limit - len(hint) - 5].rstrip()
    return f"{head}\n...\n{hint}" if hint and hint not in head else message[:limit]


def grader_error_result(assignment: str, student: str, reason: str, notebook=None,
                        course_root=None) -> dict:
    """The result of a submission the grader failed on: every case ``grader_error``, total 0,
    the reason in ``errors``; no fingerprint, so that the next run grades it again."""
    try:
        from autograder.cases.tasks import get_spec

        spec = get_spec(assignment, course_root)
        cases = [_case_record(c, "grader_error", "the grader failed on this submission; "
                              "the instructor has the details") for c in spec.cases]
        max_total = spec.max_score
    except Exception:  # noqa: BLE001 - an unknown assignment still gets a result
        cases, max_total = [], 0.0
    return {"assignment": str(assignment), "student": str(student),
            "notebook": None if notebook is None else str(notebook), "cases": cases,
            "total": 0.0, "max_total": max_total, "flags": [], "errors": [str(reason)[:2000]],
            "written": {}, "solutions": {}, "sandbox": None, "sandbox_cpu_s": 0.0,
            "fingerprint": None,
            "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _failure_reason(exc: BaseException) -> str:
    """``"grader error: <type>: <message>"`` and where it was raised (for the instructor)."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = "; ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)
    return f"grader error: {type(exc).__name__}: {str(exc)[:500]} (at {where})"


def grade_submission(course_root, assignment: str, student: str, notebook_path,
                     options: dict | None = None, uids: queue.Queue | None = None) -> dict:
    """Grade one student's notebook in a sandbox and return a JSON-serializable result.

    Never raises for a bad submission (nor for a fault of the grader on it): the result then
    has every case in status ``"grader_error"`` and the reason in ``errors``.

    Parameters
    ----------
    course_root : nbgrader course root (holds ``assignments/`` and the secret).
    assignment : assignment name, e.g. ``"forward_pass"``.
    student : student id (part of every case seed).
    notebook_path : the submitted notebook, or None to look for
        ``submitted/<student>/<assignment>/<assignment>.ipynb``.
    options : settings from :func:`autograder.engine.config.load_config` (plus ``uid``, ``secret``).
    uids : sandbox uids shared by several grading threads (see :func:`_local_map`): one is taken
        only while this submission's sandbox runs; None = ``options["uid"]``.

    Returns
    -------
    dict with ``assignment``, ``student``, ``notebook``, ``cases`` (one record per case:
    ``name``, ``grade_id``, ``function``, ``kind``, ``points``, ``max_points``, ``passed``,
    ``status``, ``message``, ``hidden``), ``total``, ``max_total``, ``flags`` (policy flags and
    notebook problems, each ``{"rule", "function", "detail", "action"}``), ``errors`` (grader
    faults), ``written`` and ``solutions`` (the student's cells), ``fingerprint``,
    ``sandbox``, ``sandbox_cpu_s`` and ``graded_at``.
    """
    try:
        return _grade(course_root, assignment, student, notebook_path, options, uids)
    except Exception as exc:  # noqa: BLE001 - one submission never stops the class
        return grader_error_result(assignment, student, _failure_reason(exc), notebook_path,
                                   course_root)


def _grade(course_root, assignment, student, notebook_path, options, uids) -> dict:
    from autograder.cases.tasks import get_spec

    course_root = Path(course_root)
    options = dict(config_mod.DEFAULTS, **(options or {}))
    spec = get_spec(assignment, course_root)
    variant = spec.variant_of(student) if spec.variant_of is not None else None
    layout = notebook_io.load_layout(course_root, assignment)
    secret = _secret(course_root, options)
    result = {"assignment": assignment, "student": student, "notebook": None, "cases": [],
              "total": 0.0, "max_total": spec.max_score, "flags": [], "errors": [],
              "written": {}, "solutions": {}, "sandbox": None,
              "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    fatal = None
    if notebook_path is None:
        notebook_path, fatal = notebook_io.find_submission(course_root, assignment, student, layout)
    if notebook_path is not None:
        result["notebook"] = str(notebook_path)
    result["fingerprint"] = fingerprint_file(notebook_path, secret, options)
    read = {"fatal": fatal}
    if fatal is None:
        read = analysis.analyse(notebook_path, layout, course_root,
                                max_bytes=int(options["max_notebook_mb"]) << 20)
    if read["fatal"]:
        result["flags"].append({"rule": "invalid_notebook", "function": None,
                                "detail": read["fatal"], "action": "zero"})
        result["cases"] = [_case_record(c, "invalid_notebook", read["fatal"])
                           for c in spec.cases]
        return result
    result["written"] = read["answers"]
    result["solutions"] = read["solutions"]
    problems = read["problems"]
    for gid, reason in problems.items():
        result["flags"].append({"rule": "bad_cell", "function": gid, "detail": reason,
                                "action": "zero"})
    for note in read["notes"]:
        result["flags"].append({"rule": "notebook_changed", "function": None, "detail": note,
                                "action": "report"})
    flags = policy.flags_of(read["program"], read["scans"], options["policy"])
    result["flags"].extend(flags)
    zeroed = {f["function"]: (f"the cell {f['detail']}" if f["function"] else f["detail"])
              for f in flags if f["action"] == "zero"}  # None: an added cell, every function

    records: dict[int, dict] = {}
    jobs, prepared = [], {}
    for index, case in enumerate(spec.cases):
        if case.function in problems:
            records[index] = _case_record(case, "bad_cell", problems[case.function])
            continue
        why = zeroed.get(case.function, zeroed.get(None))
        if why is not None:
            records[index] = _case_record(case, "policy", f"not graded: {why} (course policy)")
            continue
        rng = np.random.default_rng(case_seed(secret, assignment, student, index, case.name))
        try:
            everything = case.inputs_for(rng, variant)
            expected = case.reference(**copy.deepcopy(everything))
            inputs = public_inputs(everything)  # private inputs stay here
        except Exception as exc:  # a fault of the grader, not of the student
            records[index] = _case_record(case, "grader_error", "internal error, see the log")
            result["errors"].append(f"{case.name}: {type(exc).__name__}: {exc}")
            continue
        prepared[index] = (inputs, expected, everything)
        job = {"id": str(index), "function": case.function, "kind": case.kind,
               "inputs": inputs, "baseline": case.baseline,
               "hidden": bool(case.hidden), "count_calls": list(case.count_calls)}
        if case.kind == "timing":  # fresh inputs for the untimed warm-up call
            job["warmup_inputs"] = public_inputs(case.inputs_for(np.random.default_rng(
                case_seed(secret, assignment, student, index, "warm-up " + case.name)), variant))
        jobs.append(job)
    cells = [entry["code"] for entry in read["program"]]
    stats: dict = {}
    outcomes = {}
    if jobs:  # a sandbox slot (uid) is held only while the sandbox runs
        uid = uids.get() if uids is not None else options.get("uid")
        try:
            outcomes = sandbox.run_cases([SETUP] + layout.setup, cells, jobs,
                                         _limits(dict(options, uid=uid)), stats)
        finally:
            if uids is not None:
                uids.put(uid)
    result["sandbox_cpu_s"] = round(stats.get("cpu", 0.0), 4)
    result["sandbox"] = "bwrap" if sandbox.uses_bwrap(_limits(options)) else "rlimits"
    for index, (inputs, expected, everything) in prepared.items():
        records[index] = _judge(spec.cases[index], outcomes.get(str(index)), inputs, expected,
                                result["errors"], everything)
    result["cases"] = [records[i] for i in range(len(spec.cases))]
    result["total"] = float(sum(r["points"] for r in result["cases"]))
    return result


def _judge(case, outcome, inputs, expected, errors, everything=None) -> dict:
    """Score one case from the sandbox's outcome; the answer is plain data by construction.

    ``inputs`` are the inputs the student's function got; ``everything`` adds the case's private
    inputs (for ``compare``)."""
    everything = inputs if everything is None else everything
    if outcome is None:
        return _case_record(case, "sandbox_error", "no result came back")
    status = outcome["status"]
    if status != "ok":
        message = outcome["message"] or status
        explain = getattr(case, "explain_error", None)
        if status == "error" and callable(explain):
            try:
                message = explain(message, inputs)
            except Exception as exc:  # noqa: BLE001 - a hint must never cost the batch
                errors.append(f"{case.name}: explain_error raised {type(exc).__name__}: {exc}")
        if case.hidden:  # the student's own exception text could echo a hidden input
            message = redact_values(message)
        return _case_record(case, status, message)
    value = outcome["value"]
    if isinstance(value, Unsupported):
        return _case_record(case, "failed", f"your function returned {value.type_name!s}, "
                            "which is not plain data (expected NumPy arrays / numbers)")
    if case.kind == "timing":
        if outcome.get("elapsed") is None or outcome.get("baseline_elapsed") is None:
            return _case_record(case, "sandbox_error", "the timing runs did not complete")
        value = {"student_s": float(outcome["elapsed"]),
                 "baseline_s": float(outcome["baseline_elapsed"]), "output": value}
    if "inputs_after" in outcome:  # the sandbox reports the inputs as the call left them
        changed = changed_inputs(inputs, outcome["inputs_after"])
        if changed:
            return _case_record(case, "failed", in_place_message(changed))
    if case.count_calls:
        calls = outcome.get("calls")
        value = {"output": value, "calls": calls if type(calls) is dict else {}}
    try:
        credit, message = case.compare(value, expected, everything)
    except Exception as exc:  # the comparison must never crash the batch
        errors.append(f"{case.name}: compare raised {type(exc).__name__}: {exc}")
        return _case_record(case, "failed", "the answer could not be compared with the "
                            "reference (wrong structure?)")
    if case.hidden:  # feedback may name what went wrong, never the reference's numbers
        message = redact_values(message)
    earned = case.score(credit)
    return _case_record(case, "passed" if earned > 0 else "failed", message, earned)


# --------------------------------------------------------------------------- many students
def list_students(course_root, assignment: str, pattern: str = "*") -> list[str]:
    """Students with a folder ``submitted/<student>/<assignment>/`` matching ``pattern``."""
    base = Path(course_root) / "submitted"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir()
                  if (p / assignment).is_dir() and fnmatch.fnmatchcase(p.name, pattern))


def write_result(course_root, result: dict) -> Path:
    """Write one result atomically (temporary file + rename)."""
    path = result_path(course_root, result["assignment"], result["student"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")  # no indent: the fast C encoder
    os.replace(tmp, path)
    return path


def load_results(course_root, assignment: str, students: Iterable[str] | None = None) -> list[dict]:
    """Stored results of ``assignment`` (all students, or only ``students``), by student id."""
    folder = Path(course_root) / "grading" / assignment
    if not folder.is_dir():
        return []
    wanted = set(students) if students is not None else None
    out = []
    for path in sorted(folder.glob("*.json")):
        if wanted is not None and path.stem not in wanted:
            continue
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return out


def _up_to_date(course_root, assignment, student, secret, options) -> bool:
    path = result_path(course_root, assignment, student)
    if not path.exists():
        return False
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    layout = notebook_io.load_layout(course_root, assignment)
    nb, _ = notebook_io.find_submission(course_root, assignment, student, layout)
    return (type(stored) is dict and stored.get("fingerprint") is not None
            and stored.get("fingerprint") == fingerprint_file(nb, secret, options))


def _local_uids(size: int) -> list[int]:
    """Distinct sandbox uids for parallel sandboxes (RLIMIT_NPROC counts per uid)."""
    return [sandbox.NOBODY if i == 0 else 2_000_000_000 + i for i in range(size)]


def _uid_pool(size: int) -> queue.Queue:
    pool: queue.Queue = queue.Queue()
    for uid in _local_uids(size):
        pool.put(uid)
    return pool


def prestart_sandboxes(options: dict | None = None) -> None:
    """Start the local pool's warm sandboxes now (one per job), so that their start-up overlaps
    whatever the caller does next; :func:`grade_all` then finds them ready."""
    options = dict(config_mod.DEFAULTS, **(options or {}))
    for uid in _local_uids(max(1, int(options.get("jobs") or 1))):
        sandbox.prestart(_limits(dict(options, uid=uid)))


def _local_map(jobs: int) -> Callable:
    """``map_fn`` of the local pool: ``jobs`` sandboxes at a time, each with its own uid.

    It runs twice as many threads as sandboxes: while one thread's submission is in its sandbox,
    another prepares inputs and references or judges answers here, so sandboxes rarely wait.
    """
    def map_fn(func, kwargs_list):
        uids = _uid_pool(jobs)
        pool = ThreadPoolExecutor(max_workers=2 * jobs)
        finished = False
        try:
            futures = {pool.submit(func, **kw, uids=uids): kw for kw in kwargs_list}
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as exc:  # noqa: BLE001 - never lose the other students
                    kw = futures[future]
                    yield grader_error_result(kw["assignment"], kw["student"],
                                              _failure_reason(exc), kw.get("notebook_path"))
            finished = True
        finally:
            # Interrupted (Ctrl-C, or the caller stopped reading): drop the queued submissions
            # at once instead of grading them all; the running ones end with this process.
            pool.shutdown(wait=finished, cancel_futures=not finished)

    return map_fn


def grade_all(course_root, assignment: str, students: Iterable[str], options: dict | None = None,
              map_fn: Callable | None = None, progress: bool = True, force: bool = False,
              on_result: Callable[[dict], None] | None = None,
              missing: list | None = None) -> list[dict]:
    """Grade many students; results are written as they arrive and returned sorted by student.

    Parameters
    ----------
    course_root, assignment : as in :func:`grade_submission`.
    students : student ids (folders under ``submitted/``).
    options : settings (see :mod:`autograder.engine.config`); ``jobs`` sets the local pool size.
    map_fn : ``map_fn(func, kwargs_list) -> iterable of results`` (any order) that runs
        ``func(**kwargs)`` elsewhere, e.g. on a Dask cluster; default: a local thread pool of
        ``jobs`` threads, each driving one sandbox at a time.
    progress : show a tqdm progress bar.
    force : re-grade students whose stored result is up to date.
    on_result : called with each new result once it is on disk (e.g. a gradebook writer).
    missing : a list that receives, sorted, the students that were due for grading but got no
        result from ``map_fn`` (a task that failed for good, a refused result, a lost
        scheduler); their stored results, if any, are out of date and are not returned.

    Returns
    -------
    The stored results of ``students`` (one dict per student, see :func:`grade_submission`),
    without those of the ``missing`` students.
    """
    from tqdm.auto import tqdm

    course_root = Path(course_root)
    options = dict(config_mod.DEFAULTS, **(options or {}))
    secret = config_mod.load_secret(course_root)  # created once, before any worker starts
    students = list(students)
    todo = [s for s in students
            if force or not _safely_up_to_date(course_root, assignment, s, secret, options)]
    kwargs_list = [{"course_root": str(course_root), "assignment": assignment, "student": s,
                    "notebook_path": None, "options": options} for s in todo]
    if map_fn is None and todo:
        prestart_sandboxes(options)  # they start while the first inputs are prepared
    runner = map_fn or _local_map(max(1, int(options.get("jobs") or 1)))
    delivered: set[str] = set()
    with tqdm(total=len(todo), desc=f"grading {assignment}", unit="sub", disable=not progress,
              initial=0) as bar:
        results = runner(grade_submission, kwargs_list)
        try:
            for result in results:
                if _deliver(course_root, result, on_result):
                    delivered.add(result["student"])
                bar.update(1)
        finally:
            if hasattr(results, "close"):  # an interrupted generator stops its pool now
                results.close()
    lost = sorted(set(todo) - delivered)
    if missing is not None:
        missing.extend(lost)
    lost_set = set(lost)
    return load_results(course_root, assignment, [s for s in students if s not in lost_set])


def _deliver(course_root, result: dict, on_result) -> bool:
    """Write one result and hand it to ``on_result``; a failure there is reported for that
    student (a warning) and the batch goes on. True if the result is on disk."""
    try:
        write_result(course_root, result)
    except Exception as exc:  # noqa: BLE001 - e.g. a result that is not JSON-able
        student = str(result.get("student")) if isinstance(result, dict) else "?"
        warnings.warn(f"the result of {student!a} could not be written: "
                      f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
        return False
    if on_result is not None:
        try:
            on_result(result)
        except Exception as exc:  # noqa: BLE001
            warnings.warn(f"recording the result of {str(result.get('student'))!a} failed: "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
    return True


def _safely_up_to_date(course_root, assignment, student, secret, options) -> bool:
    try:
        return _up_to_date(course_root, assignment, student, secret, options)
    except Exception:  # noqa: BLE001 - when in doubt, grade again
        return False
