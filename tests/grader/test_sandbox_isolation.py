"""The sandbox against a white-box attacker: what a test process holds, timing, isolation.

Each test runs code in real sandboxes through ``launcher.run_cases`` (the kinds that exist
here: plain rlimits, one-job bubblewrap and the warm template) and asserts the exact outcome.
"""
from __future__ import annotations

import errno
import inspect
import os
import platform

import numpy as np
import pytest

from autograder.cases import testfuncs
from autograder.cases.spec import CallableArg
from autograder.cases.tasks import get_spec
from autograder.engine import runner
from autograder.sandbox import launcher as sandbox
from tests.grader.fixtures import LOOP_BACKPROP

needs_bwrap = pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap not installed")
KINDS = [pytest.param(False, False, id="rlimits"),
         pytest.param(True, False, id="one-job-bwrap", marks=needs_bwrap),
         pytest.param(True, True, id="warm-template", marks=needs_bwrap)]
X86_64 = pytest.mark.skipif(platform.machine() != "x86_64",
                            reason="the probes use x86_64 system-call numbers")


def _limits(use_bwrap, warm, **extra):
    """Limits of these tests: no process limit (tests running in parallel share the uid)."""
    return sandbox.Limits(timeout=10.0, use_bwrap=use_bwrap, warm=warm,
                          **{"nproc": 0, **extra})


# --------------------------------------------------------------------------- memory of a child
MEMORY_PROBE = '''
import os

def _counts(patterns):
    """Occurrences of each pattern in every readable mapping of this process (but the one
    buffer it reads into, so that nothing read is counted twice)."""
    import ctypes
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: makes /proc/self/mem readable
    buffer = bytearray(8 << 20)
    view = memoryview(buffer)
    low = ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))
    high = low + len(buffer)
    counts = [0] * len(patterns)
    longest = max(len(p) for p in patterns)
    with open("/proc/self/maps") as fh:
        maps = [line.split() for line in fh]
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    for fields in maps:
        if fields[1][0] != "r" or fields[-1] in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        for first, last in ((start, min(end, low)), (max(start, high), end)):
            pos = first
            while pos < last:
                step = min(last - pos, len(buffer) - longest)
                try:
                    got = os.preadv(fd, [view[:min(last - pos, step + longest - 1)]], pos)
                except OSError:
                    break
                for i, pattern in enumerate(patterns):
                    counts[i] += buffer.count(pattern, 0, min(got, step + len(pattern) - 1))
                pos += step
    os.close(fd)
    return counts

def probe(negated, reversed_text):
    """negated: arrays whose negation is what to look for; reversed_text: strings reversed."""
    made = [-a for a in negated] + [t[::-1] for t in reversed_text]  # kept: two copies each
    patterns = [m.tobytes() if isinstance(m, np.ndarray) else m.encode() for m in made]
    return np.array(_counts(patterns))

def backprop(X, Y, params, activations, loss):
    return {k: np.zeros_like(v) for k, v in params.items()}

def other(x):
    return x
'''


def _marked(seed: int, size: int = 6) -> np.ndarray:
    """Distinctive float64 values that appear nowhere else."""
    return np.random.default_rng(seed).uniform(1e3, 2e3, size) + 0.123456789


def _timing_case():
    """The timed case of the backprop assignment and the variant (network) it is timed on: that
    of a student with narrow hidden layers, so that a loop over the examples is far slower than
    the baseline."""
    spec = get_spec("backprop")
    return next(c for c in spec.cases if c.kind == "timing"), spec.variant_of("bob")


@pytest.mark.parametrize("use_bwrap, warm", KINDS)
def test_a_test_process_holds_no_hidden_or_timed_inputs_nor_the_baseline(use_bwrap, warm):
    timing, variant = _timing_case()
    timed = timing.inputs_for(np.random.default_rng(5), variant)
    before, after, control = _marked(1), _marked(2), _marked(3)
    source = inspect.getsource(getattr(testfuncs, timing.baseline))
    baseline_line = max((line.strip() for line in source.splitlines()), key=len)
    text_control = "".join(reversed(baseline_line.upper())) + "#"
    cases = [
        {"id": "timed", "function": "backprop", "kind": "timing", "baseline": timing.baseline,
         "inputs": timed,
         "warmup_inputs": timing.inputs_for(np.random.default_rng(6), variant)},
        {"id": "before", "function": "other", "kind": "value",
         "hidden": True, "inputs": {"x": before}},
        {"id": "probe", "function": "probe", "kind": "value",
         "inputs": {"negated": [-before, -after, -timed["X"][0, :8].copy(), -control],
                    "reversed_text": [baseline_line[::-1], text_control[::-1]]}},
        {"id": "after", "function": "other", "kind": "value", "hidden": True,
         "inputs": {"x": after}},
    ]
    out = sandbox.run_cases([runner.SETUP], [MEMORY_PROBE], cases,
                            _limits(use_bwrap, warm, timing_repeats=1))
    assert out["probe"]["status"] == "ok", out["probe"]["message"]
    found = out["probe"]["value"]
    # each pattern exists as many times as the probe itself made it (its control's count)
    assert list(found[:3]) == [found[3]] * 3, f"other cases' inputs found: {found}"
    assert found[4] == found[5], f"the baseline's source was found: {found}"
    assert out["timed"]["status"] == out["before"]["status"] == out["after"]["status"] == "ok"


ECHO = '''
import gc
SEEN = []
def echo(x):
    """Return every (5,) float array this process has seen: its inputs and any it can find."""
    SEEN.append(x.copy())
    found = [o for o in gc.get_objects() if isinstance(o, dict)
             for v in o.values() if isinstance(v, np.ndarray) and v.shape == (5,)]
    return np.concatenate(SEEN + found)
'''


@pytest.mark.parametrize("use_bwrap, warm", KINDS)
def test_hidden_inputs_never_reach_a_visible_answer(use_bwrap, warm):
    hidden, visible = _marked(7, 5), _marked(8, 5)
    cases = [{"id": "h", "function": "echo", "kind": "value", "hidden": True,
              "inputs": {"x": hidden}},
             {"id": "v", "function": "echo", "kind": "value", "hidden": False,
              "inputs": {"x": visible}}]
    out = sandbox.run_cases([runner.SETUP], [ECHO], cases, _limits(use_bwrap, warm))
    assert out["h"]["status"] == out["v"]["status"] == "ok"
    assert not np.isin(hidden, out["v"]["value"]).any(), "the hidden inputs were echoed"
    assert np.isin(visible, out["v"]["value"]).all()


FORKS = '''
import os
def forks(x):
    """The copy that fork() makes comes back from this call too, with another answer."""
    pid = os.fork()
    return x * (2.0 if pid == 0 else 1.0)
def echo(x):
    return x + 0.0
'''


@pytest.mark.parametrize("use_bwrap, warm", KINDS)
def test_a_forked_copy_never_answers_in_the_childs_place(use_bwrap, warm):
    """The visible cases share one test process: a copy forked by one function must not answer
    (or read) the calls of the cases after it."""
    xs = {name: _marked(seed, 5) for seed, name in enumerate(("f", "a", "b", "h"), start=20)}
    cases = [{"id": "f", "function": "forks", "kind": "value", "inputs": {"x": xs["f"]}},
             {"id": "a", "function": "echo", "kind": "value", "inputs": {"x": xs["a"]}},
             {"id": "b", "function": "echo", "kind": "value", "inputs": {"x": xs["b"]}},
             {"id": "h", "function": "echo", "kind": "value", "hidden": True,
              "inputs": {"x": xs["h"]}}]
    out = sandbox.run_cases([runner.SETUP], [FORKS], cases, _limits(use_bwrap, warm))
    for name, x in xs.items():
        assert out[name]["status"] == "ok", (name, out[name]["message"])
        assert np.array_equal(out[name]["value"], x), name


# --------------------------------------------------------------------------- timing
TIMING_ATTACKS = LOOP_BACKPROP.replace("def backprop(", "def one_loop(") + '''
import os, sys, threading

def loop_backprop(X, Y, params, activations, loss):
    """The loop over the examples, three times over: well past the allowed slowdown."""
    for _ in range(3):
        grads = one_loop(X, Y, params, activations, loss)
    return grads

def honest(X, Y, params, activations, loss):
    """Vectorized, as the course teaches it (softmax-CE output, the timed case's loss)."""
    L = len(activations) + 1
    B = X.shape[0]
    a, zs = [X], []
    for l in range(1, L + 1):
        z = a[-1] @ params[f"W{l}"].T + params[f"b{l}"]
        zs.append(z)
        if l < L:
            name = activations[l - 1]
            a.append(np.maximum(z, 0.0) if name == "relu" else
                     np.tanh(z) if name == "tanh" else 1.0 / (1.0 + np.exp(-z)))
    e = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
    delta = (e / e.sum(axis=1, keepdims=True) - Y) / B
    grads = {}
    for l in range(L, 0, -1):
        grads[f"W{l}"] = delta.T @ a[l - 1]
        grads[f"b{l}"] = delta.sum(axis=0)
        if l > 1:
            name, h = activations[l - 2], a[l - 1]
            slope = (zs[l - 2] > 0) * 1.0 if name == "relu" else (
                1.0 - h * h if name == "tanh" else h * (1.0 - h))
            delta = (delta @ params[f"W{l}"]) * slope
    return grads

def thread_that_exits(X, Y, params, activations, loss):
    """The per-example loop in a thread that has exited before the answer."""
    out = {}
    worker = threading.Thread(
        target=lambda: out.update(loop_backprop(X, Y, params, activations, loss)))
    worker.start()
    worker.join()
    return out

def reaped_grandchild(X, Y, params, activations, loss):
    """The per-example loop in a forked process that is reaped before the answer."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        grads = loop_backprop(X, Y, params, activations, loss)
        data = b"".join(grads[k].tobytes() for k in sorted(grads))
        while data:
            data = data[os.write(write_end, data):]
        os._exit(0)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.waitpid(pid, 0)
    data, out, pos = b"".join(chunks), {}, 0
    for k in sorted(params):
        n = params[k].size * 8
        out[k] = np.frombuffer(data[pos:pos + n]).reshape(params[k].shape).copy()
        pos += n
    return out

# a thread started by the cells: it looks everywhere (frames of every thread, the objects
# the garbage collector tracks) for encoded or decoded inputs and answers them in advance
PRECOMPUTED = {}
def _key(X):
    return X[:2].tobytes()

def _inputs_in(value, depth=0):
    if depth > 6:
        return
    if isinstance(value, dict):
        if {"X", "Y", "params", "activations", "loss"} <= set(value) and \
                isinstance(value["X"], np.ndarray):
            yield value
        for v in list(value.values()):
            yield from _inputs_in(v, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in list(value):
            yield from _inputs_in(v, depth + 1)

def _hunt():
    import gc
    decoders = [m.decode_value for m in list(sys.modules.values())
                if callable(getattr(m, "decode_value", None))]
    places = []
    for top in sys._current_frames().values():
        frame = top
        while frame is not None:
            places.extend(frame.f_locals.values())
            frame = frame.f_back
    places += [o for o in gc.get_objects() if isinstance(o, dict)]
    for value in places:
        candidates = [value]
        if isinstance(value, (bytes, bytearray, memoryview)) and len(value) > 4096:
            for decode in decoders:
                try:
                    candidates.append(decode(bytes(value)))
                except Exception:
                    pass
        for candidate in candidates:
            for inputs in _inputs_in(candidate):
                if _key(inputs["X"]) not in PRECOMPUTED:
                    PRECOMPUTED[_key(inputs["X"])] = loop_backprop(
                        inputs["X"], inputs["Y"], inputs["params"], inputs["activations"],
                        inputs["loss"])

_hunter = threading.Thread(target=_hunt)
_hunter.start()
_hunter.join()

def precomputed(X, Y, params, activations, loss):
    """Answers from the table filled before timing started, else the slow loop."""
    if _key(X) in PRECOMPUTED:
        return PRECOMPUTED[_key(X)]
    return loop_backprop(X, Y, params, activations, loss)
'''


@pytest.mark.parametrize("use_bwrap, warm", KINDS)
def test_timing_counts_every_thread_and_reaped_child_and_nothing_is_precomputed(use_bwrap, warm):
    case, variant = _timing_case()
    names = ("honest", "thread_that_exits", "reaped_grandchild", "precomputed")
    prepared, jobs = {}, []
    for seed, name in enumerate(names):
        inputs = case.inputs_for(np.random.default_rng(20 + seed), variant)
        prepared[name] = (inputs, case.reference(**inputs))
        jobs.append({"id": name, "function": name, "kind": "timing", "baseline": case.baseline,
                     "inputs": inputs,
                     "warmup_inputs": case.inputs_for(np.random.default_rng(40 + seed), variant)})
    out = sandbox.run_cases([runner.SETUP], [TIMING_ATTACKS], jobs,
                            _limits(use_bwrap, warm, timing_repeats=2))
    points = {}
    for name in names:
        errors = []
        record = runner._judge(case, out[name], *prepared[name], errors)
        assert not errors
        points[name] = record["points"]
    assert points == {"honest": case.points, "thread_that_exits": 0.0,
                      "reaped_grandchild": 0.0, "precomputed": 0.0}, out


# --------------------------------------------------------------------------- kernel objects
KEYRING = '''
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -4, -5
def add_keys(x):
    """Try to leave a key in the uid's user and user-session keyrings (add_key = 248)."""
    out = []
    for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
        serial = _libc.syscall(248, b"user", b"fnn-covert-channel", b"1", 1, ring)
        out.append([serial, ctypes.get_errno() if serial < 0 else 0])
    return out
def find_keys(x):
    """Look for that key (keyctl = 250, KEYCTL_SEARCH = 10) in both keyrings."""
    out = []
    for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
        serial = _libc.syscall(250, 10, ring, b"user", b"fnn-covert-channel", 0)
        out.append([serial, ctypes.get_errno() if serial < 0 else 0])
    return out
'''


@X86_64
@pytest.mark.parametrize("use_bwrap, warm", KINDS)
def test_a_key_left_by_one_submission_is_not_there_for_the_next(use_bwrap, warm):
    limits = _limits(use_bwrap, warm)
    first = sandbox.run_cases([runner.SETUP], [KEYRING], [
        {"id": "add", "function": "add_keys", "kind": "value", "inputs": {"x": 1}}], limits)
    template = sandbox._IDLE.get(sandbox._pool_key(limits), [None])[-1] if warm else None
    second = sandbox.run_cases([runner.SETUP], [KEYRING], [
        {"id": "find", "function": "find_keys", "kind": "value", "inputs": {"x": 1}}], limits)
    if warm:  # the same warm template served both submissions
        assert sandbox._IDLE[sandbox._pool_key(limits)][-1] is template
    assert first["add"]["value"] == [[-1, errno.EPERM], [-1, errno.EPERM]]
    assert second["find"]["value"] == [[-1, errno.EPERM], [-1, errno.EPERM]]


SYSCALLS = '''
import ctypes, os, socket, tempfile, threading
_libc = ctypes.CDLL(None, use_errno=True)
def _call(nr, *args):
    result = _libc.syscall(nr, *args)
    return ctypes.get_errno() if result < 0 else 0
def blocked(x):
    """errno of each call the filter refuses (x86_64 numbers); 0 = it worked."""
    fd = os.open("/usr/bin/env", os.O_RDONLY)
    out = {
        "add_key": _call(248, b"user", b"k", b"v", 1, -4),
        "request_key": _call(249, b"user", b"k", None, 0),
        "keyctl": _call(250, 0, -4, 0),
        "perf_event_open": _call(298, None, 0, -1, -1, 0),
        "userfaultfd": _call(323, 0),
        "bpf": _call(321, 0, None, 0),
        "io_uring_setup": _call(425, 1, None),
        "syslog": _call(103, 10, None, 0),
        "personality": _call(135, 0xFFFFFFFF),
        "sethostname": _call(170, b"x", 1),
        "ptrace": _call(101, 16, os.getppid(), 0, 0),
        "process_vm_readv": _call(310, os.getppid(), None, 0, None, 0, 0),
        "inotify_init1": _call(294, 0),
        "fanotify_init": _call(300, 0, 0),
        "flock": _call(73, fd, 1),
        "fcntl_setlk": _call(72, fd, 6, None),
        "fcntl_ofd_setlk": _call(72, fd, 37, None),
        "fcntl_notify": _call(72, fd, 1026, 0),
        "socket_vsock": _call(41, 40, 1, 0),
        "socket_netlink": _call(41, 16, 3, 0),
        "x32_getpid": _call(0x40000000 + 39),
    }
    os.close(fd)
    return out
def still_works(x):
    """What NumPy, SciPy and ordinary code need keeps working under the filter."""
    import scipy.special
    box = {}
    product = lambda: box.update(s=float((np.ones((64, 64)) @ np.ones(64)).sum()))
    worker = threading.Thread(target=product)
    worker.start()
    worker.join()
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    a, b = socket.socketpair()
    a.close(); b.close()
    with open("/proc/self/status") as fh:
        mode = [line.split()[1] for line in fh if line.startswith("Seccomp:")][0]
    fd = os.open("/usr/bin/env", os.O_RDONLY)
    flags = _call(72, fd, 3)  # F_GETFL is allowed
    os.close(fd)
    return {"thread": box["s"], "fork": os.waitstatus_to_exitcode(status),
            "expit": float(scipy.special.expit(0.0)), "seccomp": mode, "getfl": flags,
            "inet": socket.socket(socket.AF_INET).close() is None}
'''


@X86_64
@pytest.mark.parametrize("use_bwrap, warm", KINDS)
def test_the_system_call_filter_refuses_each_shared_kernel_object(use_bwrap, warm):
    out = sandbox.run_cases([runner.SETUP], [SYSCALLS], [
        {"id": "blocked", "function": "blocked", "kind": "value", "inputs": {"x": 1}},
        {"id": "works", "function": "still_works", "kind": "value", "inputs": {"x": 1}}],
        _limits(use_bwrap, warm))
    assert out["blocked"]["status"] == "ok", out["blocked"]["message"]
    refused = out["blocked"]["value"]
    assert refused == {name: errno.EPERM for name in refused}
    assert out["works"]["value"] == {"thread": 4096.0, "fork": 7, "expit": 0.5, "seccomp": "2",
                                     "getfl": 0, "inet": True}


# --------------------------------------------------------------------------- jobs and answers
@pytest.mark.parametrize("use_bwrap, warm", KINDS)
def test_a_large_solution_grades_and_the_inputs_come_back_as_left(use_bwrap, warm):
    padding = "# " + "x" * 98 + "\n"
    big = padding * 12_000 + "def f(x, f2):\n    x += 1\n    return f2(x)\n"  # 1.2 MB
    assert len(big) > 1 << 20
    out = sandbox.run_cases([runner.SETUP], [big], [
        {"id": "f", "function": "f", "kind": "value",
         "inputs": {"x": np.zeros(2), "f2": CallableArg("sine_sum", {"a": np.ones(2)})}}],
        _limits(use_bwrap, warm))
    assert out["f"]["status"] == "ok", out["f"]["message"]
    assert out["f"]["value"] == pytest.approx(2 * np.sin(1.0))
    assert np.array_equal(out["f"]["inputs_after"]["x"], [1.0, 1.0])  # changed in place


@needs_bwrap
def test_a_rejected_job_does_not_switch_warm_templates_off(monkeypatch):
    monkeypatch.setattr(sandbox, "_NO_TEMPLATE", set())
    limits = sandbox.Limits(timeout=5.0, use_bwrap=True, nproc=9)  # a pool key of its own
    real_job = sandbox._job

    def broken_job(*args):
        job = real_job(*args)
        job["cells"] = "not a list of byte arrays"
        return job

    monkeypatch.setattr(sandbox, "_job", broken_job)
    out = sandbox.run_cases([runner.SETUP], ["def f(x):\n    return x\n"], [
        {"id": "a", "function": "f", "kind": "value", "inputs": {"x": 1}}], limits)
    assert out["a"]["status"] == "sandbox_error" and "could not read" in out["a"]["message"]
    assert sandbox._pool_key(limits) not in sandbox._NO_TEMPLATE
    monkeypatch.setattr(sandbox, "_job", real_job)
    again = sandbox.run_cases([runner.SETUP], ["def f(x):\n    return x\n"], [
        {"id": "a", "function": "f", "kind": "value", "inputs": {"x": 1}}], limits)
    assert again["a"]["value"] == 1
    assert sandbox._pool_key(limits) not in sandbox._NO_TEMPLATE


MAGICS = '''
get_ipython().run_line_magic('matplotlib', 'inline')
get_ipython().system('rm -rf /')
listing = get_ipython().getoutput('ls')
total = get_ipython().run_line_magic('time', '1 + 1')
get_ipython().run_line_magic('timeit', 'timed = 3')
get_ipython().run_cell_magic('capture', '', 'captured = 4\\n')
get_ipython().run_cell_magic('bash', '', 'echo nothing\\n')
import scipy.special
def f(x):
    return [total, timed, captured, listing, float(scipy.special.expit(x))]
'''


@pytest.mark.parametrize("use_bwrap, warm", KINDS)
def test_transformed_magics_and_scipy_work_inside(use_bwrap, warm):
    assert sandbox.SANDBOX_PACKAGES == ("numpy", "scipy")
    out = sandbox.run_cases([runner.SETUP], [MAGICS], [
        {"id": "f", "function": "f", "kind": "value", "inputs": {"x": 0.0}}],
        _limits(use_bwrap, warm))
    assert out["f"]["status"] == "ok", out["f"]["message"]
    assert out["f"]["value"] == [2, 3, 4, [], 0.5]


def test_the_inside_package_imports_without_course_or_autograder(tmp_path):
    import subprocess
    import sys

    files = sandbox.runtime()
    code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.path.append(sys.argv[2]); "
            "import inside.main, inside.template, inside.zygote, inside.seccomp, inside.shell; "
            "print(sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
            "('course', 'autograder')))")
    proc = subprocess.run([os.path.realpath(sys.executable), "-I", "-S", "-c", code,
                           str(files.lib), str(files.site)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


LINGER = '''
import os, time
def linger(x):
    """Leave a grandchild in a session of its own, and a double-forked orphan."""
    pids = []
    for double in (False, True):
        read_end, write_end = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if double and os.fork() != 0:
                os._exit(0)
            os.write(write_end, str(os.getpid()).encode().ljust(16))
            time.sleep(3600)
            os._exit(0)
        pids.append(int(os.read(read_end, 16)))
    return pids
'''


def test_processes_left_by_a_test_die_with_it_even_without_a_pid_namespace():
    out = sandbox.run_cases([runner.SETUP], [LINGER], [
        {"id": "l", "function": "linger", "kind": "value", "inputs": {"x": 1}}],
        _limits(False, False))
    assert out["l"]["status"] == "ok", out["l"]["message"]
    for pid in out["l"]["value"]:  # host pids: this sandbox has no pid namespace
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
