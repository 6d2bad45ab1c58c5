"""Inside-the-sandbox side of the batch grader (standard library + NumPy only).

This file is both a module (the trusted parent imports its wire codec) and the script the
sandbox runs: ``python -I -S harness.py SITE_DIR --template`` (a warm template, one per grading
worker) or ``... SITE_DIR --sweep`` (a one-job zygote); SITE_DIR holds only NumPy. It never
imports ``course`` or ``autograder`` and must stay importable without them.

Wire format
-----------
Every message is a *frame*: an 8-byte big-endian length followed by that many bytes. A value
(nested dicts with str keys, lists, tuples, str, int, float, bool, None, ndarrays, NumPy
scalars) is encoded as a 4-byte JSON length, the JSON skeleton, then one frame per array. An
array frame is a 2-byte length, a JSON header ``[dtype.str, shape]`` and the raw C-order bytes:
the same information as a ``.npy`` file with ``allow_pickle=False``, but decoded without
``np.load``'s header parser (which costs ~1.5 ms in a fresh child). Only boolean, integer,
float and complex dtypes are accepted, so object arrays (pickles) can never cross.

Zygote protocol (one zygote = one submission)
---------------------------------------------
parent -> zygote: one frame, the encoded job ``{"setup": [code], "cells": [code],
"testfuncs": source of autograder/cases/testfuncs.py, "max_output": bytes, "cases": [{"id",
"function", "group", "kind", "timeout", "cpu", "memory_mb", "inputs", "repeats", "baseline",
"warmup_inputs"}]}``. The zygote (NumPy already imported) forks a fresh child per test: the
consecutive cases of one ``group`` (a test cell) share a child, every other case gets its own.
The child drops the job, sets its rlimits, sends its stdio to /dev/null, executes the code
cells, signals "ready", then answers calls one at a time: the zygote sends a case's inputs only
after the previous answer came back. After a timeout or crash the child is killed and the
remaining cases of its group get a new child, so every case has an outcome of its own. The
zygote (which never runs student code) kills the child's group (and, in a pid namespace of its
own, every other process), measures timing tests (see :func:`_timing`) and reports to the
parent: a "start" frame before each case, a "result" frame after it with the child's answer
forwarded as raw bytes, and at the end a "stats" frame (CPU seconds used by the zygote).

Where the zygote comes from
---------------------------
A one-job zygote (``--sweep``) reads its job from stdin and exits after it. A warm template
(``--template``, see :func:`template_main`) reads one job frame after another from stdin and,
for each, forks a fresh sandbox (new mount, pid, IPC and network namespaces, its own /proc and
/tmp, no capabilities) whose first process is that job's zygote; all frames go to stdout.
"""
from __future__ import annotations

import json
import os
import select
import signal
import struct
import sys
import time

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] not in sys.path:
    sys.path.append(sys.argv[1])  # the folder that holds only NumPy

import numpy as np  # noqa: E402

MAX_JSON = 1 << 20
"""Largest JSON skeleton accepted when decoding (bytes)."""

MAX_DEPTH = 20
"""Deepest nesting accepted when decoding."""


# --------------------------------------------------------------------------- wire codec
class WireError(ValueError):
    """Raised when bytes do not decode to a value (malformed, too large, pickled data)."""


def frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its 8-byte big-endian length."""
    return struct.pack(">Q", len(payload)) + payload


def _array_bytes(array: np.ndarray) -> bytes:
    header = json.dumps([array.dtype.str, list(array.shape)]).encode()
    return struct.pack(">H", len(header)) + header + np.ascontiguousarray(array).tobytes()


def _array_from_bytes(data: bytes) -> np.ndarray:
    """Rebuild an array from :func:`_array_bytes` output (untrusted); raises WireError."""
    if len(data) < 2:
        raise WireError("bad array: truncated")
    (n,) = struct.unpack(">H", bytes(data[:2]))
    try:
        descr, shape = json.loads(bytes(data[2:2 + n]).decode("utf-8"))
        dtype = np.dtype(str(descr))
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise WireError(f"bad array header: {exc}") from None
    if (dtype.kind not in "biufc" or dtype.hasobject or dtype.fields is not None
            or dtype.subdtype is not None):
        raise WireError(f"bad array: dtype {dtype} is not allowed")
    if (type(shape) is not list or len(shape) > 32
            or not all(type(d) is int and 0 <= d < 2 ** 40 for d in shape)):
        raise WireError("bad array: bad shape")
    raw = data[2 + n:]
    if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise WireError("bad array: size does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def encode_value(value) -> bytes:
    """Encode a value tree as JSON skeleton + ``.npy`` frames (see module docstring).

    Objects that are not plain data become ``{"__unsupported__": type name}`` so the parent
    can say what was returned instead of an array.
    """
    arrays: list[bytes] = []

    def enc(x, depth):
        if depth > MAX_DEPTH:
            return {"__unsupported__": "too deeply nested value"}
        if x is None or type(x) in (bool, str):
            return x
        if type(x) is int:
            return x if abs(x) < 2 ** 62 else {"__unsupported__": "int too large"}
        if type(x) is float:
            return {"__float__": repr(x)}
        if type(x) is np.ndarray:
            if x.dtype.hasobject or x.dtype.kind not in "biufc":
                return {"__unsupported__": f"ndarray of dtype {x.dtype}"}
            arrays.append(_array_bytes(x))
            return {"__nd__": len(arrays) - 1}
        if isinstance(x, np.generic) and type(x).__module__ == "numpy" and x.dtype.kind in "biufc":
            arrays.append(_array_bytes(np.asarray(x)))
            return {"__npscalar__": len(arrays) - 1}
        if type(x) in (list, tuple):
            items = [enc(v, depth + 1) for v in x]
            return {"__tuple__": items} if type(x) is tuple else items
        if type(x) is dict:
            if not all(type(k) is str for k in x):
                return {"__unsupported__": "dict with non-str keys"}
            return {"__dict__": {k: enc(v, depth + 1) for k, v in x.items()}}
        if type(x).__name__ == "CallableArg":
            return {"__callable__": x.name,
                    "arrays": enc(dict(x.arrays), depth + 1)}
        return {"__unsupported__": type(x).__name__}

    skeleton = json.dumps(enc(value, 0)).encode()
    return struct.pack(">I", len(skeleton)) + skeleton + b"".join(frame(a) for a in arrays)


def decode_value(data: bytes, *, max_bytes: int = 1 << 28, make_callable=None):
    """Decode bytes from :func:`encode_value`; never unpickles, raises :class:`WireError`.

    Parameters
    ----------
    data : the encoded bytes (untrusted).
    max_bytes : refuse larger payloads.
    make_callable : ``(name, arrays) -> callable`` to rebuild ``CallableArg`` entries; when
        None they decode to ``{"__callable__": name, "arrays": ...}`` dictionaries.
    """
    if len(data) > max_bytes:
        raise WireError(f"payload of {len(data)} bytes exceeds {max_bytes}")
    if len(data) < 4:
        raise WireError("payload too short")
    (n,) = struct.unpack(">I", data[:4])
    if n > MAX_JSON or 4 + n > len(data):
        raise WireError("bad JSON length")
    try:
        skeleton = json.loads(data[4:4 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"bad JSON: {exc}") from None
    arrays, pos, view = [], 4 + n, memoryview(data)
    while pos < len(data):
        if pos + 8 > len(data):
            raise WireError("truncated array frame")
        (m,) = struct.unpack(">Q", data[pos:pos + 8])
        if pos + 8 + m > len(data):
            raise WireError("truncated array frame")
        arrays.append(_array_from_bytes(view[pos + 8:pos + 8 + m]))  # no copy until .copy()
        pos += 8 + m

    def array(i):
        if type(i) is not int or not 0 <= i < len(arrays):
            raise WireError("bad array reference")
        return arrays[i]

    def dec(x, depth):
        if depth > MAX_DEPTH + 2:
            raise WireError("value nested too deeply")
        if x is None or type(x) in (bool, str, int):
            return x
        if type(x) is list:
            return [dec(v, depth + 1) for v in x]
        if type(x) is not dict or len(x) not in (1, 2):
            raise WireError("bad skeleton node")
        if "__float__" in x:
            return float(x["__float__"])
        if "__nd__" in x:
            return array(x["__nd__"])
        if "__npscalar__" in x:
            return array(x["__npscalar__"])[()]
        if "__tuple__" in x:
            return tuple(dec(v, depth + 1) for v in x["__tuple__"])
        if "__dict__" in x and type(x["__dict__"]) is dict:
            return {str(k): dec(v, depth + 1) for k, v in x["__dict__"].items()}
        if "__unsupported__" in x:
            return Unsupported(str(x["__unsupported__"])[:200])
        if "__callable__" in x:
            arrs = dec(x["arrays"], depth + 1)
            if make_callable is None:
                return {"__callable__": str(x["__callable__"]), "arrays": arrs}
            return make_callable(str(x["__callable__"]), arrs)
        raise WireError("unknown skeleton node")

    return dec(skeleton, 0)


class CallableArg:
    """Zygote-side stand-in for ``autograder.cases.spec.CallableArg`` (re-encoded for the child)."""

    def __init__(self, name: str, arrays: dict):
        self.name, self.arrays = name, arrays


class Unsupported:
    """Stands for a returned object that cannot cross the data channel (e.g. a custom class)."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self):
        return f"<object of type {self.type_name}>"


def read_exact(fd: int, n: int, deadline: float | None = None) -> bytes | None:
    """Read exactly ``n`` bytes from ``fd``; None on EOF or when ``deadline`` passes."""
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# --------------------------------------------------------------------------- child side
def _limit(resource_mod, name, value):
    try:
        resource_mod.setrlimit(getattr(resource_mod, name), (value, value))
    except (ValueError, OSError):
        pass


def _child(job, which, limits, ready_w, inputs_r, make_callable):
    """Runs in the forked child: never returns (exits with os._exit).

    The child executes the setup and the student's cells (``which="cells"``) or only the setup
    (``which="baseline"``, to run a trusted baseline), says "ready", then answers calls one
    after another: each call is a frame ``{"function", "baseline", "inputs"}`` that the zygote
    sends only after the previous answer came back; the child exits when its input closes.
    ``job`` is the zygote's copy of the whole job: the child wipes it in its own memory first,
    so code run here cannot find other cases' inputs or the baseline's source.
    """
    import builtins
    import resource

    cells, setup = (list(job["cells"]) if which == "cells" else []), list(job["setup"])
    baselines = {}
    if which == "baseline":
        baselines = {k: v for k, v in _TESTFUNCS.items() if k.startswith("baseline")}
    for name in [k for k in _TESTFUNCS if k.startswith("baseline")]:
        del _TESTFUNCS[name]  # student code must not find the baseline (nor its answer)
    for other in job["cases"]:
        other.clear()
    job["cells"].clear()
    del job

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
    namespace = {"__name__": "__main__", "__builtins__": builtins, "np": np}
    errors = []
    for code in setup:
        try:
            exec(code, namespace)
        except BaseException:
            pass
    for code in cells:  # compiled by the zygote; a str is the cell's compile error
        if isinstance(code, str):
            errors.append(code)
            continue
        try:
            exec(code, namespace)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included
            errors.append(f"{type(exc).__name__}: {exc}")
        sys.stdout = sys.stderr = quiet
    write_all(ready_w, b"R")
    while True:
        header = read_exact(inputs_r, 8)
        if header is None:
            os._exit(0)
        call = decode_value(read_exact(inputs_r, struct.unpack(">Q", header)[0]) or b"",
                            make_callable=make_callable)
        name = call["function"]
        func = baselines.get(str(call["baseline"])) if which == "baseline" else namespace.get(name)
        try:
            if not callable(func):
                why = "; ".join(errors)[:400]
                raise NameError(f"function {name!r} is not defined"
                                + (f" (a cell raised {why})" if why else ""))
            value = {"ok": func(**call["inputs"])}
        except BaseException as exc:
            value = {"error": f"{type(exc).__name__}: {str(exc)[:400]}"}
        del call
        try:
            payload = encode_value(value)
        except BaseException as exc:
            payload = encode_value({"error": f"result could not be encoded: "
                                             f"{type(exc).__name__}"})
        del value
        sys.stdout = sys.stderr = quiet
        write_all(ready_w, frame(payload))
        del payload


# --------------------------------------------------------------------------- zygote side
def _sweep(own_pid: int) -> None:
    """Kill every process of this pid namespace except pid 1 and ourselves (sandbox only)."""
    for _ in range(20):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, own_pid)]
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
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


def _call_frame(case: dict, inputs_key: str = "inputs") -> bytes:
    """One call for a child: the function, the baseline's name and the case's inputs."""
    return frame(encode_value({"function": case["function"], "baseline": case.get("baseline"),
                               "inputs": case[inputs_key]}))


def _run_child(job, which, cases, make_callable, max_output, sweep, emit, begin=None):
    """Fork one child running the cells (``which="cells"``) or a baseline, and let it answer
    ``cases`` one after another. A timing case first makes an untimed call on its
    ``warmup_inputs``.

    ``begin(case)`` (optional) is called as each case starts, and ``emit(case, result)`` with a
    result dict per case (``status``, ``message``, ``value``: the child's answer as raw bytes,
    ``elapsed``, ``cpu`` for timing cases) as soon as it is known. The child is
    stopped at the first case that times out, crashes or answers too much; that case is the
    last one emitted. Returns the number of cases emitted (at least 1).
    """
    limits = {"memory_mb": cases[0]["memory_mb"], "cpu": sum(int(c["cpu"]) for c in cases)}
    begin = begin or (lambda case: None)
    begin(cases[0])
    ready_r, ready_w = os.pipe()
    inputs_r, inputs_w = os.pipe()
    pid = _fork_with_retry()
    if pid is None:
        for fd in (ready_r, ready_w, inputs_r, inputs_w):
            os.close(fd)
        emit(cases[0], {"status": "sandbox_error", "value": None, "elapsed": None,
                        "message": "no test process could be started (process limit reached)"})
        return 1
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(inputs_w)
            _child(job, which, limits, ready_w, inputs_r, make_callable)
        finally:
            os._exit(4)
    os.close(ready_w)
    os.close(inputs_r)
    done, failed, result, start = 0, None, None, time.monotonic()
    try:
        if read_exact(ready_r, 1, start + float(cases[0]["timeout"])) is None:
            failed = cases[0]
            raise _Stop
        for case in cases:
            if case is not cases[0]:
                begin(case)
            failed, timeout = case, float(case["timeout"])
            result = {"status": "ok", "message": "", "elapsed": None, "value": None}
            timed = case["kind"] == "timing"  # CPU accounting only where it is used
            try:
                if case.get("warmup_inputs") is not None:  # untimed call: warm the caches
                    write_all(inputs_w, _call_frame(case, "warmup_inputs"))
                    _read_answer(ready_r, start + timeout, max_output, result)
                call = _call_frame(case)
                sent, cpu_start = time.perf_counter(), _cpu_seconds(pid) if timed else None
                write_all(inputs_w, call)
                del call
            except OSError:
                raise _Stop from None
            payload = _read_answer(ready_r, start + timeout, max_output, result)
            result["elapsed"] = time.perf_counter() - sent
            if timed:  # scheduler counters; wall-clock time only if /proc cannot be read
                cpu_end = _cpu_seconds(pid)
                result["cpu"] = (cpu_end - cpu_start if cpu_start is not None
                                 and cpu_end is not None else result["elapsed"])
            if sweep and timed:  # work handed to another process is not in the child's CPU
                result["helpers"] = _other_processes(os.getpid(), pid)
            result["value"] = payload
            emit(case, result)
            done += 1
            failed, start = None, time.monotonic()
    except _Stop:
        if result is None or result["status"] == "ok":
            result = {"status": "timeout" if time.monotonic() - start >= float(failed["timeout"])
                      else "crash", "message": "", "elapsed": None, "value": None}
    finally:
        os.close(ready_r)
        os.close(inputs_w)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        _, status, usage = os.wait4(pid, 0)
        if sweep:
            _sweep(os.getpid())
        else:
            _reap()
    if failed is None:
        return done
    if result["status"] == "timeout":
        result["message"] = f"stopped after the {float(failed['timeout']):g} s time limit"
    elif result["status"] == "crash":
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
            why = {"SIGXCPU": " (CPU time limit)", "SIGSEGV": " (segmentation fault)"}
            result["message"] = f"the process died with {name}{why.get(name, '')}"
        else:
            result["message"] = (f"the process exited (status {os.WEXITSTATUS(status)}) "
                                 "without returning a result")
    if failed["kind"] == "timing":
        result.setdefault("cpu", usage.ru_utime + usage.ru_stime)
    emit(failed, result)
    return done + 1


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
    payload = read_exact(fd, size, deadline)
    if payload is None:
        raise _Stop
    return payload


def _fork_with_retry(attempts: int = 40) -> int | None:
    """``os.fork()``, retried for ~2 s while the uid's process limit is exhausted (e.g. by
    the leftovers of a fork bomb being swept); None if it never succeeds."""
    for _ in range(attempts):
        try:
            return os.fork()
        except BlockingIOError:
            time.sleep(0.05)
    return None


def _cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by all threads of ``pid`` (``/proc/<pid>/task/*/schedstat``, ns)
    plus that of its children it waited for (``cutime + cstime`` of ``/proc/<pid>/stat``)."""
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as fh:
                total += int(fh.read().split()[0])
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        waited = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
        return total / 1e9 + waited
    except (OSError, ValueError, IndexError):
        return None


def _other_processes(*known: int) -> int:
    """Processes in this pid namespace besides pid 1 and ``known`` (sandbox only)."""
    return sum(1 for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, *known))


class _Stop(Exception):
    pass


_LIBC = None


def _set_not_dumpable() -> None:
    """Forbid ptrace and /proc/<pid>/mem access to the zygote (children are the same uid)."""
    global _LIBC
    try:
        import ctypes

        _LIBC = ctypes.CDLL(None, use_errno=True)
        _LIBC.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except Exception:
        _LIBC = None


def _process_limits() -> None:
    """RLIMIT_NPROC of the sandbox uid (``FNN_NPROC``, 0 = none) and no core files."""
    import resource

    nproc = int(os.environ.get("FNN_NPROC", "0") or 0)
    if nproc:
        _limit(resource, "RLIMIT_NPROC", nproc)
    _limit(resource, "RLIMIT_CORE", 0)


def read_job(fd: int) -> bytearray | None:
    """Read one frame from ``fd`` into a new bytearray (None at end of input).

    Reading straight into one buffer leaves no other copy of the job in the reader's memory, so
    the template can wipe it (see :func:`template_main`).
    """
    header = read_exact(fd, 8)
    if header is None:
        return None
    buffer = bytearray(struct.unpack(">Q", header)[0])
    view, got = memoryview(buffer), 0
    while got < len(buffer):
        count = os.readv(fd, [view[got:]])
        if count == 0:
            return None
        got += count
    return buffer


def zygote_main(argv) -> int:
    """Entry point of a one-job sandbox process (``--sweep``); see the module docstring."""
    sweep = "--sweep" in argv and os.getpid() < 10  # never sweep outside a fresh pid namespace
    _set_not_dumpable()
    _process_limits()
    job = read_job(0)
    return 2 if job is None else run_job(job, sweep)


def run_job(data: bytes | bytearray, sweep: bool) -> int:
    """Run every case of one encoded job; frames go to fd 1, which then points to /dev/null.

    ``sweep`` kills every other process of the pid namespace after each test (only where this
    process owns a pid namespace of its own).
    """
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    job = decode_value(bytes(data), make_callable=CallableArg)
    make_callable = _load_testfuncs(job.get("testfuncs", ""))
    job["setup"] = [c for c in _compile_all(job["setup"], "setup") if not isinstance(c, str)]
    job["cells"] = _compile_all(job["cells"], "cell")
    import gc

    gc.freeze()  # children never scan (and so never copy) the zygote's objects
    max_output = int(job.get("max_output", 64 << 20))

    def begin(case):
        write_all(out, frame(encode_value({"start": case["id"]})))

    def emit(case, result):
        value = result.pop("value", None)
        write_all(out, frame(encode_value({"result": case["id"], **result})))
        write_all(out, frame(value or b""))

    pending = list(job["cases"])
    while pending:
        case = pending[0]
        if case["kind"] == "timing":
            begin(case)
            emit(case, _timing(job, case, make_callable, max_output, sweep))
            pending.pop(0)
            continue
        group = 1  # the consecutive cases of one test cell share a child
        while (group < len(pending) and case.get("group") is not None
               and pending[group].get("group") == case["group"]
               and pending[group]["kind"] != "timing"):
            group += 1
        done = _run_child(job, "cells", pending[:group], make_callable, max_output, sweep,
                          emit, begin)
        del pending[:done]
    times = os.times()  # this sandbox's CPU, children included, for the grader's statistics
    write_all(out, frame(encode_value({"stats": {"cpu": times.user + times.system
                                                  + times.children_user
                                                  + times.children_system}})))
    return 0


# --------------------------------------------------------------------------- warm template
_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWPID, _CLONE_NEWNET = 0x20000, 0x8000000, 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MNT_DETACH = 2
_PR_SET_NO_NEW_PRIVS = 38
TMP_SIZE = "size=16m,nr_inodes=1024,mode=1777"
"""Options of each submission's private, writable /tmp (a tmpfs)."""


def _check(result: int, what: str) -> None:
    """Raise OSError naming ``what`` when a libc call returned non-zero."""
    if result != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def template_main(argv) -> int:
    """Entry point of a warm sandbox (``--template``): one per grading worker, many jobs.

    Runs inside bubblewrap with CAP_SYS_ADMIN, CAP_SYS_RESOURCE and CAP_SETPCAP in the sandbox's
    own user namespace. It imports NumPy once, never decodes a job and never runs student code. For
    each job (a frame on stdin) it forks a submission process that gets new mount, pid, IPC and
    network namespaces; that process's child, pid 1 of the new pid namespace, mounts its own
    /proc and a private /tmp, drops every capability and runs the job like a one-job zygote.
    When it exits the kernel kills whatever is left in its pid namespace, and only then does the
    template read the next job: nothing of one submission (processes, files, shared memory,
    sockets) is there for the next, which starts from the template's pristine memory.
    """
    _set_not_dumpable()
    _process_limits()
    try:
        if _LIBC is None:
            raise OSError("ctypes is not available")
        _prepare_template()
    except OSError as exc:
        write_all(1, frame(encode_value({"template": False, "why": str(exc)[:300]})))
        return 3
    write_all(1, frame(encode_value({"template": True})))
    while True:
        job = read_job(0)
        if job is None:
            return 0
        pid = _fork_with_retry()
        if pid == 0:
            _submission_process(job)  # never returns
        job[:] = bytes(len(job))  # wipe: the next submission's processes are forks of this one
        del job
        if pid is None:
            write_all(1, frame(encode_value({"error": "could not fork"})))
            continue
        os.waitpid(pid, 0)


def _prepare_template() -> None:
    """Own mount namespace with a fully visible /proc (so that submissions can mount theirs),
    and no user namespaces for anything started below (``max_user_namespaces`` = 0)."""
    libc = _LIBC
    _check(libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    for point in sorted((p for p in points if p.startswith("/proc/")), reverse=True):
        _check(libc.umount2(point.encode(), _MNT_DETACH), f"umount {point}")
    with open("/proc/sys/user/max_user_namespaces", "w") as fh:
        fh.write("0")


def _submission_process(job: bytearray) -> None:
    """Forked from the template: new namespaces, then a child that is pid 1 there and runs the
    job. Never returns."""
    code = 5
    try:
        _check(_LIBC.unshare(_CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWIPC | _CLONE_NEWNET),
               "unshare")
        pid = _fork_with_retry()
        if pid is None:
            raise OSError("fork: process limit reached")
        if pid == 0:
            try:
                _enter_fresh_sandbox()
                code = run_job(job, sweep=True)
            except BaseException as exc:
                write_all(1, frame(encode_value({"error": f"sandbox set-up failed: {exc}"})))
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status != 0:  # the parent learns it now instead of at its deadline
            write_all(1, frame(encode_value({"error": f"the zygote stopped (status {status})"})))
        code = 0
    except BaseException as exc:
        try:
            write_all(1, frame(encode_value({"error": f"sandbox set-up failed: {exc}"})))
        except OSError:
            pass
    finally:
        os._exit(code)


def _enter_fresh_sandbox() -> None:
    """In pid 1 of a new pid namespace: own /proc (/proc/sys read-only), a private writable
    /tmp, no new privileges and no capabilities. Raises OSError if any step fails."""
    import signal as signals

    libc = _LIBC
    signals.signal(signals.SIGINT, signals.SIG_IGN)  # pid 1 must not die of a stray Ctrl-C
    _check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    hardened = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    _check(libc.mount(b"proc", b"/proc", b"proc", hardened, None), "mount /proc")
    _check(libc.mount(b"/proc/sys", b"/proc/sys", None, _MS_BIND | _MS_REC, None),
           "bind /proc/sys")
    _check(libc.mount(None, b"/proc/sys", None,
                      _MS_BIND | _MS_REMOUNT | _MS_RDONLY | hardened, None),
           "read-only /proc/sys")
    _check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, TMP_SIZE.encode()),
           "mount /tmp")
    os.chdir("/tmp")
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _drop_capabilities()


def _drop_capabilities() -> None:
    """Empty every capability set (bounding, effective, permitted, inheritable, ambient) and
    check that they are empty."""
    import ctypes

    for cap in range(64):  # PR_CAPBSET_DROP (needs CAP_SETPCAP, dropped last of all)
        if _LIBC.prctl(24, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # EINVAL: no such cap
            _check(-1, f"drop capability {cap} from the bounding set")

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    _check(_LIBC.capset(ctypes.byref(header), data), "capset")
    with open("/proc/self/status") as fh:
        caps = {k: v.strip() for k, v in (line.split(":", 1) for line in fh if line[:3] == "Cap")}
    for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(caps.get(name, "1"), 16) != 0:
            raise OSError(f"capabilities are still held ({name} {caps.get(name)})")


def _compile_all(sources, label):
    """Compile once in the zygote (compiling runs no code); errors become messages."""
    out = []
    for index, source in enumerate(sources):
        try:
            out.append(compile(source, f"<{label} {index}>", "exec"))
        except BaseException as exc:  # SyntaxError, RecursionError, MemoryError, ...
            out.append(f"{type(exc).__name__}: {str(exc)[:300]}")
    return out


def _timing(job, case, make_callable, max_output, sweep):
    """Alternate baseline and student children; report the best CPU time of each.

    The zygote measures both as the CPU time (all threads, from the scheduler's nanosecond
    counters) the test process uses between its "ready" signal (code executed, inputs not yet
    sent) and its answer: student code cannot fake it, cannot have started before the inputs
    existed in the process, and unlike wall-clock time it does not grow when the machine is
    busy. The small fixed costs (decoding inputs, encoding the answer) are the same for both.
    Every run is a fresh child, so nothing can be cached between runs. Work moved to another
    process is counted when the child waited for it; a process still alive when the answer
    arrives (inside bubblewrap's pid namespace, where the zygote sees every process) fails the
    timing test.
    """
    student_times, baseline_times, report = [], [], None
    for _ in range(int(case.get("repeats", 3))):
        runs = []
        _run_child(job, "baseline", [case], make_callable, max_output, sweep,
                   lambda _, result: runs.append(result))
        base = runs.pop()
        base.pop("value", None)  # the baseline's answer must not linger where code can look
        if base["status"] == "ok":
            baseline_times.append(base["cpu"])
        _run_child(job, "cells", [case], make_callable, max_output, sweep,
                   lambda _, result: runs.append(result))
        report = runs.pop()
        if report["status"] == "ok" and report.pop("helpers", 0):
            report.update(status="error", value=None, message=(
                "the function started other processes during a timing test"))
        if report["status"] != "ok":
            break
        student_times.append(report["cpu"])
    report["elapsed"] = min(student_times) if student_times else None
    report["baseline_elapsed"] = min(baseline_times) if baseline_times else None
    return report


_TESTFUNCS: dict = {}
"""Namespace of ``testfuncs.py`` (trusted source sent with the job), loaded by the zygote."""


def _load_testfuncs(source: str):
    """Execute the plain-NumPy ``testfuncs`` source; return the CallableArg builder or None."""
    _TESTFUNCS.clear()
    if not source:
        return None
    _TESTFUNCS["__name__"] = "testfuncs"
    exec(compile(source, "testfuncs.py", "exec"), _TESTFUNCS)
    builder = _TESTFUNCS.get("build")
    return builder if callable(builder) else None


if __name__ == "__main__":
    sys.exit(template_main(sys.argv) if "--template" in sys.argv else zygote_main(sys.argv))
