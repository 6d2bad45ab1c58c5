"""The zygote of one submission and its test processes (runs inside the sandbox).

Protocol (one zygote = one submission; every message is a :func:`wire.frame`)
-----------------------------------------------------------------------------
parent -> zygote, first: the *job*, ``{"setup": [code], "cells": [uint8 array of UTF-8
code], "max_output": bytes, "max_input": bytes, "cases": [{"id", "function", "hidden",
"kind", "timeout", "cpu", "memory_mb", "repeats", "warmup"}]}``. The job holds no inputs and no
grader source: cells travel as byte arrays (outside the JSON skeleton's cap).

The zygote (NumPy already imported, never running student code) compiles the cells and forks
fresh test processes ("children"): consecutive cases share a child, except that a visible case
after a hidden one gets a new child (so hidden inputs never reach a visible answer) and a
timing case always gets its own. The parent sends the visible cases first, so one child answers
the visible cases and then the hidden ones. Between two cases of a child the zygote kills
every other process (what the first case left running). A case that times out,
crashes or answers too much stops its child; the cases after it get a fresh one. A child
executes the setup and the cells (a *baseline* child only the setup), signals "ready", then
answers calls one at a time. For each call the zygote asks the parent ``{"need": case id,
"call": "warmup" | "main", "for": "cells" | "baseline"}``; the parent answers with one frame,
the encoded call, which the zygote reads into one buffer, writes to the child and wipes,
without decoding it. So the zygote never holds a case's inputs or the grader's source, a child
holds only the calls of the cases it answers, and each arrives after "ready". (A fork costs
about 3 ms of CPU with NumPy loaded: one child per test cell made the children most of a
submission's grading time.)

A call (decoded only by the child) is ``{"function", "baseline", "testfuncs", "inputs",
"return_inputs", "count_calls"}``: ``testfuncs`` is the source of ``autograder/cases/testfuncs.py`` (for a
baseline child), that source without its baselines (when an input is a ``CallableArg``), or
None. The child's answer is ``{"ok": value}`` (plus ``"inputs_after"``: the call's inputs as
they are after the call, when ``return_inputs``; plus ``"calls"``: ``{name: count}`` for the
student functions named in the call's ``count_calls``, counted while the graded function ran) or
``{"error": "Type: message"}``.

zygote -> parent: ``{"start": id}`` as each case starts, the ``need`` requests, then
``{"result": id, "status", "message", "elapsed", ...}`` followed by a frame with the child's
answer as raw bytes (empty unless "ok"); after the last case ``{"stats": {"cpu": seconds,
"filter": "" or why no system-call filter}}``; ``{"rejected": why}`` instead of everything if
the job itself cannot be read.

Timing (see :func:`_timing`): baseline and student children alternate; each answers one warm-up
call and one timed call and is then killed; its CPU time is its process CPU clock (all threads,
exited ones included) after the answer minus before the timed call, or, if it reaped a child
meanwhile, everything ``wait4`` reports for it minus its CPU before the timed call.
"""
from __future__ import annotations

import os
import signal
import struct
import sys
import time

import numpy as np

from . import seccomp, shell
from .wire import (WireError, decode_value, encode_value, frame, read_exact, read_frame_into,
                   read_into, wipe, write_all)

_LIBC = None
"""``ctypes.CDLL(None)`` once :func:`set_not_dumpable` has run (None without ctypes)."""


class _Stop(Exception):
    pass


class _Deferred:
    """A ``CallableArg`` decoded in a child, built once the call's ``testfuncs`` is loaded."""

    def __init__(self, name, arrays):
        self.name, self.arrays = name, arrays


def _limit(resource_mod, name, value):
    try:
        resource_mod.setrlimit(getattr(resource_mod, name), (value, value))
    except (ValueError, OSError):
        pass


def _build_callables(value, build):
    """Replace every :class:`_Deferred` in ``value`` (dicts, lists, tuples) by ``build(...)``."""
    if isinstance(value, _Deferred):
        if build is None:
            raise NameError(f"the test function {value.name!r} is not available")
        return build(value.name, value.arrays)
    if type(value) is dict:
        return {k: _build_callables(v, build) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_build_callables(v, build) for v in value)
    return value


# --------------------------------------------------------------------------- child side
def _child(setup, cells, which, limits, ready_w, inputs_r):
    """Runs in the forked child: never returns (exits with os._exit).

    Executes the setup and, for ``which="cells"``, the student's cells, says "ready", then
    answers one call after another until its input closes (see the module docstring).
    """
    import builtins
    import resource

    os.setsid()
    if _LIBC is not None:
        _LIBC.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG: die with the zygote
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    low, high = sorted((ready_w, inputs_r))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, 65536)
    _limit(resource, "RLIMIT_AS", int(limits["memory_mb"]) * 1024 * 1024)
    _limit(resource, "RLIMIT_CPU", int(limits["cpu"]))
    _limit(resource, "RLIMIT_FSIZE", 1 << 20)
    _limit(resource, "RLIMIT_CORE", 0)
    _limit(resource, "RLIMIT_NOFILE", 64)
    sys.stdout = sys.stderr = quiet = open(os.devnull, "w")
    namespace = {"__name__": "__main__", "__builtins__": builtins, "np": np,
                 "get_ipython": shell.get_ipython}
    errors = []
    for code in setup:
        try:
            exec(code, namespace)
        except BaseException:
            pass
    for code in (cells if which == "cells" else []):  # a str is the cell's compile error
        if isinstance(code, str):
            errors.append(code)
            continue
        try:
            exec(code, namespace)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included
            errors.append(f"{type(exc).__name__}: {exc}")
        sys.stdout = sys.stderr = quiet
    del setup, cells
    me = os.getpid()
    write_all(ready_w, b"R")
    while True:
        buffer = read_frame_into(inputs_r, 1 << 31)
        if buffer is None:
            os._exit(0)
        _reap()  # what the last case forked, killed by the zygote since
        value = _answer(buffer, which, namespace, errors)
        if os.getpid() != me:  # a copy that the student's code forked came back here: it
            os._exit(0)        # never answers (nor reads the next call) in the child's place
        wipe(buffer)
        del buffer
        try:
            payload = encode_value(value)
        except BaseException as exc:
            payload = encode_value({"error": "result could not be encoded: "
                                             f"{type(exc).__name__}"})
        del value
        sys.stdout = sys.stderr = quiet
        write_all(ready_w, frame(payload))
        del payload


_TESTFUNCS: dict = {}
"""In a child: the ``testfuncs`` source it got and the namespace that source made."""


def _answer(buffer, which, namespace, errors) -> dict:
    """Decode one call, run it and return the answer dict (see the module docstring)."""
    try:
        call = decode_value(buffer, max_bytes=1 << 31, make_callable=_Deferred)
    except WireError as exc:
        return {"error": f"the call could not be read: {exc}"}
    name, source = call["function"], call.pop("testfuncs", None)
    if source and _TESTFUNCS.get("source") != source:  # loaded once per child
        _TESTFUNCS.clear()
        namespace_tf = {"__name__": "testfuncs"}
        exec(compile(source, "testfuncs.py", "exec"), namespace_tf)
        _TESTFUNCS.update(source=source, namespace=namespace_tf)
    del source
    testfuncs = _TESTFUNCS.get("namespace", {})
    try:
        inputs = _build_callables(call["inputs"], testfuncs.get("build"))
        func = testfuncs.get(str(call["baseline"])) if which == "baseline" else namespace.get(name)
        if not callable(func):
            why = "; ".join(errors)[:400]
            raise NameError(f"function {name!r} is not defined"
                            + (f" (a cell raised {why})" if why else ""))
        counted = [str(n) for n in call.get("count_calls") or ()] if which == "cells" else []
        calls = _count_calls(namespace, counted)
        try:
            answer = {"ok": func(**inputs)}
        finally:
            for other, original in calls.pop("__originals__").items():
                namespace[other] = original
        if counted:
            answer["calls"] = calls
        if call.get("return_inputs"):
            answer["inputs_after"] = inputs
        return answer
    except BaseException as exc:
        return {"error": f"{type(exc).__name__}: {str(exc)[:400]}"}


def _count_calls(namespace: dict, names: list) -> dict:
    """Replace the student functions ``names`` in ``namespace`` by wrappers that count their
    calls (a function looks its helpers up in this namespace when it runs, so its calls go
    through the wrappers). Returns ``{name: count}`` plus ``"__originals__"`` to restore."""
    counts: dict = {"__originals__": {}}
    for name in names:
        original = namespace.get(name)
        counts[name] = 0
        if not callable(original):
            continue
        counts["__originals__"][name] = original

        def wrapper(*args, __name=name, __original=original, **kwargs):
            counts[__name] += 1
            return __original(*args, **kwargs)

        namespace[name] = wrapper
    return counts


# --------------------------------------------------------------------------- zygote side
class _Zygote:
    """State of one job in the zygote: where frames go and how calls are fetched."""

    def __init__(self, job: dict, out: int, inp: int, sweep: bool):
        self.out, self.inp, self.sweep = out, inp, sweep
        self.setup = [c for c in _compile_all(job["setup"], "setup") if not isinstance(c, str)]
        self.cells = _compile_all([bytes(a).decode("utf-8", "replace") for a in job["cells"]],
                                  "cell")
        self.max_output = int(job.get("max_output", 64 << 20))
        self.max_input = int(job.get("max_input", 1 << 30))
        self.cases = list(job["cases"])

    def say(self, message: dict, raw: bytearray | bytes | None = None) -> None:
        """Send ``message`` and, if given, the raw bytes of an answer (then wiped)."""
        write_all(self.out, frame(encode_value(message)))
        if raw is not None:
            write_all(self.out, struct.pack(">Q", len(raw)))
            write_all(self.out, raw)
            if type(raw) is bytearray:
                wipe(raw)

    def relay(self, case: dict, call: str, which: str, child_fd: int, deadline: float) -> None:
        """Ask the parent for a call and pass it to the child without decoding it; the
        buffer is wiped. Raises _Stop when the parent refuses or the child does not read."""
        self.say({"need": case["id"], "call": call, "for": which})
        buffer = read_frame_into(self.inp, self.max_input)
        if buffer is None:
            raise _Stop
        try:
            if not (write_all(child_fd, struct.pack(">Q", len(buffer)), deadline)
                    and write_all(child_fd, buffer, deadline)):
                raise _Stop
        except OSError:
            raise _Stop from None
        finally:
            wipe(buffer)


def _sweep(own_pid: int) -> None:
    """Kill every process of this pid namespace except pid 1 and ourselves (sandbox only)."""
    _kill_until_gone(lambda: [int(p) for p in os.listdir("/proc")
                              if p.isdigit() and int(p) not in (1, own_pid)])


def _alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (a killed process its parent has not reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _sweep_strays(child: int, sweep: bool) -> None:
    """Kill every process but this one and the test process ``child`` (what a case left
    behind), so that the next case of ``child`` starts without them. Nothing is reaped here
    (that could reap ``child``): the killed processes are zombies until the test process or the
    end of ``child`` reaps them, and zombies are not listed."""
    def strays():
        found = ([int(p) for p in os.listdir("/proc") if p.isdigit()] if sweep
                 else _descendants(os.getpid()))
        return [p for p in found if p not in (1, os.getpid(), child) and _alive(p)]

    _kill_until_gone(strays, reap=False)


def _kill_until_gone(find, reap: bool = True) -> None:
    """SIGKILL (and ``reap``) the processes ``find()`` lists, up to 20 rounds, until it lists
    none."""
    for _ in range(20):
        others = find()
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if reap:
            _reap()
        time.sleep(0.001)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _fork_with_retry(attempts: int = 40) -> int | None:
    """``os.fork()``, retried for ~2 s while the uid's process limit is exhausted (e.g. by
    the leftovers of a fork bomb being swept); None if it never succeeds."""
    for _ in range(attempts):
        try:
            return os.fork()
        except BlockingIOError:
            time.sleep(0.05)
    return None


def _process_cpu(pid: int) -> tuple[float, tuple] | None:
    """CPU seconds of every thread of ``pid``, exited ones included (its process CPU clock,
    nanosecond-precise), and the counters of the children it reaped (``cminflt``,
    ``cmajflt``, ``cutime``, ``cstime`` of ``/proc/<pid>/stat``); None if unreadable."""
    try:
        own = time.clock_gettime((~pid << 3) | 2)  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return own, (fields[8], fields[10], fields[13], fields[14])
    except (OSError, ValueError, IndexError):
        return None


def _descendants(root: int) -> set[int]:
    """Every process below ``root`` (from the parent ids in ``/proc/<pid>/stat``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            if pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def _kill_descendants() -> None:
    """Kill every process below this one (the zygote is their subreaper, so orphans stay
    below it) and reap them; used where the zygote has no pid namespace to sweep."""
    _kill_until_gone(lambda: _descendants(os.getpid()))


def set_not_dumpable() -> None:
    """Forbid ptrace and /proc/<pid>/mem access to this process (children are the same uid)
    and load the C library for the other prctl calls."""
    global _LIBC
    try:
        import ctypes

        _LIBC = ctypes.CDLL(None, use_errno=True)
        _LIBC.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except Exception:
        _LIBC = None


def process_limits() -> None:
    """RLIMIT_NPROC of the sandbox uid (``FNN_NPROC``, 0 = none) and no core files."""
    import resource

    nproc = int(os.environ.get("FNN_NPROC", "0") or 0)
    if nproc:
        _limit(resource, "RLIMIT_NPROC", nproc)
    _limit(resource, "RLIMIT_CORE", 0)


def install_filter() -> str:
    """The system-call filter (:mod:`.seccomp`) for this process and its children; returns ""
    or why there is none."""
    if _LIBC is None:
        return "ctypes is not available"
    try:
        return seccomp.install(_LIBC)
    except OSError as exc:
        return str(exc)


def zygote_main(argv) -> int:
    """Entry point of a one-job sandbox process (``--sweep``); see the module docstring."""
    sweep = "--sweep" in argv and os.getpid() < 10  # never sweep outside a fresh pid namespace
    set_not_dumpable()
    if _LIBC is not None:  # PR_SET_CHILD_SUBREAPER: orphans of test processes come to us
        _LIBC.prctl(36, 1, 0, 0, 0)
    process_limits()
    why = install_filter()
    job = read_frame_into(0, 1 << 31)
    return 2 if job is None else run_job(job, sweep, why)


def run_job(data: bytearray, sweep: bool, filter_problem: str = "") -> int:
    """Run every case of one encoded job, reading calls from fd 0 and writing frames to fd 1
    (both then point to /dev/null). ``data`` is wiped once decoded.

    ``sweep`` kills every other process of the pid namespace after each test (only where this
    process owns a pid namespace of its own).
    """
    out, inp = os.dup(1), os.dup(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    try:
        zygote = _Zygote(decode_value(data, max_bytes=1 << 31), out, inp, sweep)
    except Exception as exc:  # a malformed job: say so, never take the template down
        write_all(out, frame(encode_value({"rejected": f"{type(exc).__name__}: "
                                                       f"{str(exc)[:200]}"})))
        return 0
    finally:
        wipe(data)
    import gc

    gc.freeze()  # children never scan (and so never copy) the zygote's objects
    pending = zygote.cases  # the parent sends the visible cases first
    while pending:
        case = pending[0]
        if case["kind"] == "timing":
            zygote.say({"start": case["id"]})
            report = _timing(zygote, case)
            value = report.pop("value", None) or b""
            zygote.say({"result": case["id"], **report}, value)
            pending.pop(0)
            continue
        shared = 1
        while (shared < len(pending) and pending[shared]["kind"] != "timing"
               and not (pending[shared - 1].get("hidden") and not pending[shared].get("hidden"))):
            shared += 1
        done = _run_child(zygote, "cells", pending[:shared], report=True)
        del pending[:done]
    times = os.times()  # this sandbox's CPU, children included, for the grader's statistics
    zygote.say({"stats": {"cpu": times.user + times.system + times.children_user
                          + times.children_system, "filter": filter_problem}})
    return 0


def _run_child(zygote: _Zygote, which: str, cases: list, report: bool = False) -> int | dict:
    """Fork one child running the cells (``which="cells"``) or a baseline and let it answer
    ``cases`` one after another.

    With ``report`` the zygote says "start" and "result" (plus the raw answer) for each case
    and the number of cases reported is returned (at least 1); the child is stopped at the
    first case that times out, crashes or answers too much. Otherwise (one timing case) the
    result dict is returned: ``status``, ``message``, ``value`` (raw answer bytes), ``cpu``.
    """
    limits = {"memory_mb": cases[0]["memory_mb"], "cpu": sum(int(c["cpu"]) for c in cases)}
    if report:
        zygote.say({"start": cases[0]["id"]})
    ready_r, ready_w = os.pipe()
    inputs_r, inputs_w = os.pipe()
    pid = _fork_with_retry()
    if pid is None:
        for fd in (ready_r, ready_w, inputs_r, inputs_w):
            os.close(fd)
        result = {"status": "sandbox_error", "value": None, "elapsed": None,
                  "message": "no test process could be started (process limit reached)"}
        if report:
            zygote.say({"result": cases[0]["id"], **result}, b"")
        return 1 if report else result
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(inputs_w)
            for fd in (zygote.out, zygote.inp):
                os.close(fd)
            _child(zygote.setup, zygote.cells, which, limits, ready_w, inputs_r)
        finally:
            os._exit(4)
    os.close(ready_w)
    os.close(inputs_r)
    done, failed, result, start = 0, None, None, time.monotonic()
    timed = cases[0]["kind"] == "timing"
    cpu_start = cpu_end = None
    try:
        if read_exact(ready_r, 1, start + float(cases[0]["timeout"])) is None:
            failed = cases[0]
            raise _Stop
        for case in cases:
            if report and case is not cases[0]:
                zygote.say({"start": case["id"]})
            failed, deadline = case, start + float(case["timeout"])
            result = {"status": "ok", "message": "", "elapsed": None, "value": None}
            if case.get("warmup"):  # untimed call: warm the caches
                zygote.relay(case, "warmup", which, inputs_w, deadline)
                wipe(_read_answer(ready_r, deadline, zygote.max_output, result))
            if timed:
                cpu_start = _process_cpu(pid)
            sent = time.perf_counter()
            zygote.relay(case, "main", which, inputs_w, deadline)
            payload = _read_answer(ready_r, deadline, zygote.max_output, result)
            result["elapsed"] = time.perf_counter() - sent
            if timed:  # and work handed to a process that is still there (or not reaped)
                cpu_end = _process_cpu(pid)
                result["helpers"] = len(_descendants(os.getpid()) - {pid})
            done += 1
            if case is not cases[-1]:  # the next case meets no process that this one left
                _sweep_strays(pid, zygote.sweep)
            failed, start = None, time.monotonic()
            if report:
                zygote.say({"result": case["id"], **result}, payload)
            else:
                result["value"] = payload
    except _Stop:
        if result is None or result["status"] == "ok":
            result = {"status": "timeout" if time.monotonic() - start >= float(failed["timeout"])
                      else "crash", "message": "", "elapsed": None, "value": None}
    finally:
        os.close(ready_r)
        os.close(inputs_w)
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _, status, usage = os.wait4(pid, 0)
        if zygote.sweep:
            _sweep(os.getpid())
        else:
            _kill_descendants()
    if timed:
        result["cpu"] = _timed_cpu(cpu_start, cpu_end, usage)
    if failed is None:
        return done if report else result
    if result["status"] == "timeout":
        result["message"] = f"stopped after the {float(failed['timeout']):g} s time limit"
    elif result["status"] == "crash":
        result["message"] = _death(status)
    if report:
        zygote.say({"result": failed["id"], **result}, b"")
        return done + 1
    return result


def _timed_cpu(start, end, usage) -> float:
    """CPU seconds of a timed call from :func:`_process_cpu` before and after it.

    The process clock counts every thread, exited ones included, so when the child reaped no
    child in between (its reaped-children counters did not move) the difference is exact.
    Otherwise (or when /proc could not be read) it is everything ``wait4`` reports for the
    child and the children it reaped, exit included, minus its own CPU at the start: never
    less than what the call used, so moving work to another process gains nothing.
    """
    if start is not None and end is not None and start[1] == end[1]:
        return max(end[0] - start[0], 0.0)
    total = usage.ru_utime + usage.ru_stime
    return max(total - (start[0] if start is not None else 0.0), 0.0)


def _death(status: int) -> str:
    """Why a child that gave no answer ended, from its wait status."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
        why = {"SIGXCPU": " (CPU time limit)", "SIGSEGV": " (segmentation fault)"}
        return f"the process died with {name}{why.get(name, '')}"
    return (f"the process exited (status {os.WEXITSTATUS(status)}) "
            "without returning a result")


def _read_answer(fd: int, deadline: float, max_output: int, result: dict) -> bytes:
    """One answer frame from a child. Raises _Stop if it does not arrive in time, or (after
    marking ``result`` "too_large") if it is longer than ``max_output`` bytes."""
    header = read_exact(fd, 8, deadline)
    if header is None:
        raise _Stop
    (size,) = struct.unpack(">Q", header)
    if size > max_output:
        result.update(status="too_large",
                      message=f"returned {size} bytes, more than the {max_output} allowed")
        raise _Stop
    payload = bytearray(size)  # one buffer, wiped once forwarded (it may echo inputs)
    if not read_into(fd, payload, deadline):
        raise _Stop
    return payload


def _compile_all(sources, label):
    """Compile once in the zygote (compiling runs no code); errors become messages."""
    out = []
    for index, source in enumerate(sources):
        try:
            out.append(compile(source, f"<{label} {index}>", "exec"))
        except BaseException as exc:  # SyntaxError, RecursionError, MemoryError, ...
            out.append(f"{type(exc).__name__}: {str(exc)[:300]}")
    return out


def _timing(zygote: _Zygote, case: dict) -> dict:
    """Alternate baseline and student children; report the best CPU time of each.

    Each run is a fresh child that executes its code, answers an untimed warm-up call, then
    the timed call, and is killed. Its CPU time (:func:`_timed_cpu`) covers every thread of the
    child, exited ones included, and every child it reaped, so no work of the timed call
    escapes; and nothing can be computed ahead, since the timed inputs reach the child only
    when timing starts. Work in a process that is still there at the answer (inside a pid
    namespace of its own, where the zygote sees every process) fails the test. Unlike
    wall-clock time this does not grow when the machine is busy; the small fixed costs
    (decoding the call, encoding the answer) are the same for both.
    """
    student_times, baseline_times, report = [], [], None
    for _ in range(int(case.get("repeats", 3))):
        base = _run_child(zygote, "baseline", [case])
        wipe(base.pop("value", None) or bytearray())  # no trace of the baseline's answer
        if base["status"] == "ok":
            baseline_times.append(base["cpu"])
        if report is not None:
            wipe(report.pop("value", None) or bytearray())
        report = _run_child(zygote, "cells", [case])
        if report["status"] == "ok" and report.pop("helpers", 0):
            report.update(status="error", value=None, message=(
                "the function started other processes during a timing test"))
        if report["status"] != "ok":
            break
        student_times.append(report["cpu"])
    report.pop("helpers", None)
    report["elapsed"] = min(student_times) if student_times else None
    report["baseline_elapsed"] = min(baseline_times) if baseline_times else None
    return report
