"""Unit tests of the batch grader's parts: wire codec, policy scan, notebook extraction, seeds,
the sandbox with and without bubblewrap."""
from __future__ import annotations

import io
import json
import os
import struct

import numpy as np
import pytest

from autograder.engine import config
from autograder.sandbox.inside import wire as harness
from autograder.engine import notebook_io
from autograder.engine import policy
from autograder.engine import runner
from autograder.sandbox import launcher as sandbox
from autograder.cases.spec import CallableArg

# --------------------------------------------------------------------------- wire codec


def test_values_round_trip_through_the_wire():
    value = {"a": np.arange(6.0).reshape(2, 3), "b": [1, 2.5, None, True, "x"],
             "c": (np.int64(3), np.float32(1.5)), "d": {"e": np.zeros((0, 4), dtype=np.int32)}}
    back = harness.decode_value(harness.encode_value(value))
    assert back["a"].dtype == np.float64 and np.array_equal(back["a"], value["a"])
    assert back["b"] == value["b"]
    assert type(back["c"]) is tuple and type(back["c"][0]) is np.int64
    assert back["d"]["e"].shape == (0, 4) and back["d"]["e"].dtype == np.int32


def test_objects_that_are_not_plain_data_do_not_cross():
    class Sneaky(np.ndarray):
        def __eq__(self, other):
            return True

    back = harness.decode_value(harness.encode_value({
        "obj": object(), "sub": np.zeros(3).view(Sneaky), "objarr": np.array([1, None])}))
    assert all(isinstance(v, harness.Unsupported) for v in back.values())


def test_pickled_arrays_and_malformed_bytes_are_refused():
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    skeleton = json.dumps({"__nd__": 0}).encode()
    forged = struct.pack(">I", len(skeleton)) + skeleton + harness.frame(buf.getvalue())
    with pytest.raises(harness.WireError, match="bad array"):
        harness.decode_value(forged)
    for junk in [b"", b"\x00\x00\x00\x05{}", b"\xff" * 20, forged[:-3]]:
        with pytest.raises(harness.WireError):
            harness.decode_value(junk)
    deep = json.dumps(json.loads("[" * 40 + "]" * 40)).encode()
    with pytest.raises(harness.WireError, match="deeply"):
        harness.decode_value(struct.pack(">I", len(deep)) + deep)


# --------------------------------------------------------------------------- policy, seeds, config
@pytest.mark.parametrize("code, rules", [
    ("import numpy as np\nx = np.ones(3)", []),
    ("from course.activations import relu", ["reference_library"]),
    ("import autograder.checks as c", ["reference_library"]),
    ("import torch", ["ml_framework"]),
    ("from jax import numpy", ["ml_framework"]),
    ("from scipy.special import softmax", ["scipy_special"]),
    ("import scipy.special", ["scipy_special"]),
    ("__import__('subprocess').run(['ls'])", ["system_access"]),
    ("import importlib\nimportlib.import_module('socket')", ["system_access"]),
    ("import os\nos.system('ls')\nimport ctypes", ["system_access"]),
    ("def f(:\n", []),
])
def test_policy_scan(code, rules):
    assert sorted({rule for rule, _ in policy.scan(code)}) == rules


def test_case_seeds_depend_on_secret_student_and_case():
    s1, s2 = b"a" * 32, b"b" * 32
    base = runner.case_seed(s1, "forward_pass", "alice", 0, "relu")
    assert base == runner.case_seed(s1, "forward_pass", "alice", 0, "relu")
    others = {runner.case_seed(s2, "forward_pass", "alice", 0, "relu"),
              runner.case_seed(s1, "forward_pass", "bob", 0, "relu"),
              runner.case_seed(s1, "forward_pass", "alice", 1, "relu")}
    assert base not in others and len(others) == 3


def test_secret_is_created_once_with_mode_600(tmp_path):
    secret = config.load_secret(tmp_path)
    assert len(secret) == 32 and config.load_secret(tmp_path) == secret
    assert os.stat(tmp_path / ".grader-secret").st_mode & 0o777 == 0o600


# --------------------------------------------------------------------------- notebook extraction
def _layout():
    cells = [
        {"cell_type": "code", "source": "import numpy as np", "metadata": {}},
        {"cell_type": "code", "source": ["def f(x):\n", "    return x\n"],
         "metadata": {"nbgrader": {"grade_id": "f", "solution": True, "grade": False}}},
        {"cell_type": "code", "source": "check()", "metadata": {"nbgrader": {
            "grade_id": "test_f", "grade": True, "solution": False, "points": 2}}},
        {"cell_type": "markdown", "source": "answer", "metadata": {"nbgrader": {
            "grade_id": "written_a", "grade": True, "solution": True, "points": 1}}},
    ]
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def test_layout_and_extraction(tmp_path):
    nb = _layout()
    (tmp_path / "assignments" / "a").mkdir(parents=True)
    (tmp_path / "assignments" / "a" / "a.ipynb").write_text(json.dumps(nb))
    layout = notebook_io.load_layout(tmp_path, "a")
    assert (layout.solutions, layout.written, layout.tests) == (["f"], ["written_a"],
                                                                 {"test_f": 2.0})
    assert layout.setup == ["import numpy as np"]
    sub = tmp_path / "s.ipynb"
    nb["cells"][1]["source"] = "def f(x):\n    return 2 * x\n"
    nb["cells"][3]["source"] = "my answer"
    del nb["cells"][2]
    sub.write_text(json.dumps(nb))
    got = notebook_io.extract(sub, layout)
    assert got.fatal is None and got.problems == {}
    assert got.solutions == {"f": "def f(x):\n    return 2 * x\n"}
    assert got.answers == {"written_a": "my answer"}
    assert any("test_f" in n for n in got.notes)
    nb["cells"][1]["metadata"]["nbgrader"]["grade"] = True  # a solution cell made a test cell
    sub.write_text(json.dumps(nb))
    assert "metadata" in notebook_io.extract(sub, layout).problems["f"]
    sub.write_text(json.dumps(nb)[:-1] + "]")
    assert "JSON" in notebook_io.extract(sub, layout).fatal
    assert "more than the 10 allowed" in notebook_io.extract(sub, layout, max_bytes=10).fatal
    link = tmp_path / "link.ipynb"
    link.symlink_to(tmp_path / "assignments" / "a" / "a.ipynb")
    assert "symbolic link" in notebook_io.extract(link, layout).fatal


# --------------------------------------------------------------------------- sandbox
PROBE = '''
import gc, os
def probe(x):
    found = []
    try:
        import course
        found.append("course")
    except ImportError:
        pass
    try:
        import autograder
        found.append("autograder")
    except ImportError:
        pass
    names = {getattr(o, "__name__", "") for o in gc.get_objects() if callable(o)}
    found += sorted(n for n in names if n.startswith("baseline"))
    return found
def slow(x):
    while True:
        pass
def numgrad(f, x):
    return np.array([f(x), float(os.getpid() > 0)])
'''


needs_bwrap = pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap not installed")


@pytest.mark.parametrize("use_bwrap, warm", [
    (False, False), pytest.param(True, False, marks=needs_bwrap),
    pytest.param(True, True, marks=needs_bwrap)])
def test_sandbox_isolates_imports_and_enforces_limits(use_bwrap, warm):
    limits = sandbox.Limits(timeout=1.0, use_bwrap=use_bwrap, warm=warm)
    cases = [{"id": "p", "function": "probe", "kind": "value", "inputs": {"x": 1}},
             {"id": "s", "function": "slow", "kind": "value", "inputs": {"x": 1}},
             {"id": "g", "function": "numgrad", "kind": "value",
              "inputs": {"f": CallableArg("sine_sum", {"a": np.ones(2)}), "x": np.zeros(2)}}]
    out = sandbox.run_cases([runner.SETUP], [PROBE], cases, limits)
    assert out["p"]["status"] == "ok" and out["p"]["value"] == []
    assert out["s"]["status"] == "timeout"
    assert out["g"]["status"] == "ok" and np.allclose(out["g"]["value"], [0.0, 1.0])


TRACES = '''import ctypes, os, time
def leave_traces(x):
    with open("/tmp/trace", "w") as fh:
        fh.write("written by an earlier submission")
    if os.fork() == 0:  # a daemon that would like to watch the next student
        os.setsid()
        time.sleep(60)
        os._exit(0)
    return 1.0
def look_around(x):
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/self/status") as fh:
        caps = [int(line.split()[1], 16) for line in fh if line.startswith("Cap")]
    return {"tmp": sorted(os.listdir("/tmp")), "zygote_pid": os.getppid(),
            "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "caps": caps, "new_user_namespace": libc.unshare(0x10000000),
            "new_mount_namespace": libc.unshare(0x20000)}
'''


@needs_bwrap
def test_each_submission_gets_a_fresh_sandbox_from_the_warm_template():
    limits = sandbox.Limits(timeout=5.0, use_bwrap=True, nproc=0)
    key = sandbox._pool_key(limits)
    first = sandbox.run_cases([runner.SETUP], [TRACES], [
        {"id": "leave", "function": "leave_traces", "kind": "value", "inputs": {"x": 1}},
        {"id": "look", "function": "look_around", "kind": "value", "inputs": {"x": 1}}], limits)
    assert key not in sandbox._NO_TEMPLATE, "the warm template could not be set up"
    template = sandbox._IDLE[key][-1]
    second = sandbox.run_cases([runner.SETUP], [TRACES], [
        {"id": "look", "function": "look_around", "kind": "value", "inputs": {"x": 1}}], limits)
    assert sandbox._IDLE[key][-1] is template  # the same warm template served both
    inside, after = first["look"]["value"], second["look"]["value"]
    assert first["leave"]["status"] == "ok"
    assert inside["tmp"] == ["trace"]  # /tmp is writable and lasts for one submission
    assert after["tmp"] == []  # ... and the next submission gets a new one
    for seen in (inside, after):  # the daemon was swept before the next case; only the zygote
        # (pid 1) and the test process are left
        assert seen["zygote_pid"] == 1 and len(seen["processes"]) == 2
        assert seen["caps"] == [0, 0, 0, 0, 0]  # inheritable .. ambient: no capabilities
        assert seen["new_user_namespace"] == -1 and seen["new_mount_namespace"] == -1


BROKEN_TEMPLATE = """import sys
sys.path[:0] = ['/sandbox/lib', '/sandbox/site']
from inside import wire
say = lambda message: wire.write_all(1, wire.frame(wire.encode_value(message)))
say({'template': True})
while wire.read_frame_into(0, 1 << 31) is not None:  # as if the kernel refused the namespaces
    say({'error': 'sandbox set-up failed: unshare: Operation not permitted'})
"""


@needs_bwrap
def test_grading_falls_back_to_one_job_sandboxes_when_the_template_fails(monkeypatch):
    monkeypatch.setattr(sandbox, "_NO_TEMPLATE", set())
    real = sandbox._Launcher.command

    def broken_template(self, warm=False):
        cmd, env, cwd = real(self, warm)
        if warm:
            cmd = cmd[:cmd.index("-I")] + ["-I", "-S", "-c", BROKEN_TEMPLATE]
        return cmd, env, cwd

    monkeypatch.setattr(sandbox._Launcher, "command", broken_template)
    limits = sandbox.Limits(timeout=5.0, use_bwrap=True, nproc=7)  # a pool key of its own
    cases = [{"id": str(i), "function": "f", "kind": "value", "inputs": {"x": i}}
             for i in range(3)]
    with pytest.warns(RuntimeWarning, match="warm sandboxes are not available.*unshare"):
        out = sandbox.run_cases([runner.SETUP], ["def f(x):\n    return x + 1\n"], cases,
                                limits)
    assert [out[str(i)]["status"] for i in range(3)] == ["ok"] * 3
    assert [out[str(i)]["value"] for i in range(3)] == [1, 2, 3]
    assert sandbox._pool_key(limits) in sandbox._NO_TEMPLATE


def _timing_jobs(names, seed, student="alice"):
    """Timing jobs of the backprop assignment's timed case for the functions ``names``, on the
    inputs of ``student``'s network (that case is per student)."""
    from autograder.cases.tasks import get_spec

    spec = get_spec("backprop")
    case = next(c for c in spec.cases if c.kind == "timing")
    variant, rng = spec.variant_of(student), np.random.default_rng(seed)
    jobs = []
    for name in names:
        inputs = case.inputs_for(rng, variant)
        jobs.append({"id": name, "function": name, "kind": "timing", "baseline": case.baseline,
                     "inputs": inputs, "warmup_inputs": case.inputs_for(rng, variant)})
    return jobs


def test_timing_is_measured_by_the_zygote_against_the_baseline():
    code = ("import time\n"
            "def fast(X, Y, params, activations, loss):\n"
            "    return {k: np.zeros_like(v) for k, v in params.items()}\n"
            "def busy(X, Y, params, activations, loss):\n    end = time.thread_time() + 0.03\n"
            "    while time.thread_time() < end:\n        pass\n"
            "    return fast(X, Y, params, activations, loss)\n")
    jobs = _timing_jobs(("fast", "busy"), 0)
    out = sandbox.run_cases([runner.SETUP], [code], jobs, sandbox.Limits(timing_repeats=2))
    fast, busy = out["fast"], out["busy"]
    assert fast["status"] == busy["status"] == "ok"
    assert 0 < fast["elapsed"] < 0.03 <= busy["elapsed"] < 1.0
    assert fast["baseline_elapsed"] > 0 and busy["baseline_elapsed"] > 0
    assert set(busy["value"]) == set(jobs[1]["inputs"]["params"])


def test_a_timing_answer_over_the_output_limit_is_refused_at_the_warm_up():
    code = "def huge(X, Y, params, activations, loss):\n    return np.zeros(300_000)\n"  # 2.4 MB
    jobs = _timing_jobs(("huge",), 2)
    out = sandbox.run_cases([runner.SETUP], [code], jobs,
                            sandbox.Limits(timing_repeats=1, max_output_mb=1))
    assert out["huge"]["status"] == "too_large" and "bytes" in out["huge"]["message"]


OFFLOAD = '''import os, time
def fast(X, Y, params, activations, loss):
    return {k: np.zeros_like(v) for k, v in params.items()}
def _helper(wait):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        end = time.thread_time() + 0.05
        while time.thread_time() < end:
            pass
        os.write(w, b"x")
        if not wait:
            time.sleep(30)
        os._exit(0)
    os.read(r, 1)
    if wait:
        os.waitpid(pid, 0)
def hidden_helper(X, Y, params, activations, loss):
    _helper(wait=False)
    return fast(X, Y, params, activations, loss)
def waited_helper(X, Y, params, activations, loss):
    _helper(wait=True)
    return fast(X, Y, params, activations, loss)
'''


@needs_bwrap
def test_timing_counts_or_refuses_work_moved_to_other_processes():
    jobs = _timing_jobs(("hidden_helper", "waited_helper"), 1)
    out = sandbox.run_cases([runner.SETUP], [OFFLOAD], jobs, sandbox.Limits(timing_repeats=1))
    assert out["hidden_helper"]["status"] == "error"
    assert "other processes" in out["hidden_helper"]["message"]
    assert out["waited_helper"]["status"] == "ok"
    assert out["waited_helper"]["elapsed"] >= 0.04  # the helper's CPU time was counted
