"""Fixture submissions for the batch-grader tests: honest, wrong, malicious and broken notebooks.

Each ``forward_pass`` fixture is the source notebook (13 points) with the ``predict`` cell (worth 1
point: two cases of 0.5) replaced by the code below, so the exact expected score is 12 when the
attack only ruins ``predict``, and 13 when the code returns the right answer *only if* the sandbox
held (e.g. every attempt to write or read a file failed). Attacks live inside ``predict`` so that
the other functions, graded in the same sandbox, keep their points.
"""
from __future__ import annotations

import copy
import json

import numpy as np

from tests import submissions as subs

FULL = 13.0


RIGHT = "(y_hat >= threshold).astype(np.int64)"


def _predict(body: str, prelude: str = "") -> str:
    """Source of a ``predict`` cell: ``prelude`` lines, then the function with ``body``."""
    lines = body.strip("\n").split("\n")
    return (prelude + "\ndef predict(y_hat, threshold=0.5):\n"
            + "".join(f"    {line}\n" for line in lines))


def _guarded(checks: str) -> str:
    """A predict that is right only if every attempt in ``checks`` (which sets ``leaks``) failed."""
    return _predict(f"leaks = 0\n{checks.strip()}\nreturn {RIGHT} if leaks == 0 else y_hat",
                    "import os\n")


def attacks(course_root, port: int) -> dict[str, tuple[str, float]]:
    """``{student: (predict cell code, expected total)}`` for the code-level attacks."""
    root = str(course_root)
    visible = _visible_predict_answer()
    return {
        "eq_always_true": (_predict("return Anything()", (
            "class Anything:\n    def __eq__(self, other):\n        return True\n\n"
            "    def __ne__(self, other):\n        return False\n")), 12.0),
        "patched_numpy_and_builtins": (_predict("return y_hat", (
            "import builtins\nnp.allclose = lambda *a, **k: True\n"
            "np.isclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n"
            "builtins.all = lambda *a, **k: True\n")), 12.0),
        "redefined_test_helpers": (_predict("return -y_hat", (
            "import sys, types\n\ndef check(*args, **kwargs):\n    return None\n\n"
            "fake = types.ModuleType('autograder.checks')\nfake.check = check\n"
            "sys.modules['autograder.checks'] = fake\n")), 12.0),
        "sys_exit": (_predict("sys.exit(0)", "import sys\n"), 12.0),
        "os_exit": (_predict("os._exit(0)", "import os\n"), 12.0),
        "segfault": (_predict("return ctypes.string_at(0)", "import ctypes\n"), 12.0),
        "infinite_loop_ignoring_signals": (_predict(
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass",
            "import signal\n"), 12.0),
        "memory_bomb": (_predict(f"hog = [np.ones(10**9) for _ in range(100)]\nreturn {RIGHT}"),
                        12.0),
        "fork_bomb": (_predict("while True:\n    os.fork()", "import os\n"), 12.0),
        "output_line_100mb": (_predict(f"print('x' * 100_000_000)\nreturn {RIGHT}"), FULL),
        "answer_too_large": (_predict("return np.zeros(20_000_000)"), 12.0),
        "nan_and_inf": (_predict("out = (y_hat >= threshold).astype(np.float64)\n"
                                 "out[0] = np.nan\nout[-1] = np.inf\nreturn out"), 12.0),
        "kills_the_zygote": (_predict("os.kill(-1, signal.SIGKILL)\n"
                                      "os.kill(os.getppid(), signal.SIGKILL)",
                                      "import os, signal\n"), 12.0),
        "imports_reference_library": (_predict("from course.activations import relu as r\n"
                                               "return r(y_hat)"), 12.0),
        "hard_coded_visible_answer": (_predict(f"return np.array({visible.tolist()!r})"), 12.0),
        "writes_files": (_guarded(f"""
for path in ['/tmp/fnn_pwned', 'fnn_pwned']:  # the sandbox's own /tmp (also the working
    try:                                         # folder): allowed, must not reach the host
        with open(path, 'w') as fh:
            fh.write('x')
    except OSError:
        pass
for path in ['../fnn_pwned', '/dev/shm/fnn_pwned', '/fnn_pwned', '/usr/fnn_pwned',
             {root + '/fnn_pwned'!r}, {root + '/gradebook.db'!r},
             {root + '/grading/forward_pass/correct.json'!r}]:
    try:
        with open(path, 'a') as fh:
            fh.write('x')
        leaks += 1
    except Exception:
        pass
"""), FULL),
        "reads_course_files": (_guarded(f"""
for path in ['assignments/forward_pass/forward_pass.ipynb',
             '../assignments/forward_pass/forward_pass.ipynb',
             '../../../../assignments/forward_pass/forward_pass.ipynb',
             {root + '/assignments/forward_pass/forward_pass.ipynb'!r}, {root + '/gradebook.db'!r},
             {root + '/.grader-secret'!r},
             {root + '/submitted/correct/forward_pass/forward_pass.ipynb'!r},
             {str(subs.REPO / 'autograder' / 'tasks' / 'forward_pass.py')!r},
             {str(subs.REPO / 'course' / 'activations.py')!r},
             '/etc/shadow', '/etc/passwd', '/root']:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, 'rb').read(1)
        leaks += 1
    except Exception:
        pass
"""), FULL),
        "reads_environment_and_zygote": (_guarded("""
allowed = ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'FNN_NPROC', 'LC_CTYPE', 'PWD')
leaks += len([k for k in os.environ if k not in allowed])
for path in [f'/proc/{os.getppid()}/mem', f'/proc/{os.getppid()}/environ']:
    try:
        open(path, 'rb').read(1)
        leaks += 1
    except Exception:
        pass
"""), FULL),
        "socket_to_loopback": (_guarded(f"""
import socket
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=0.5).close()
    leaks += 1
except Exception:
    pass
"""), FULL),
        "escapes_with_setsid": (_predict(
            f"if os.fork() == 0:\n    os.setsid()\n    time.sleep(3600)\n    os._exit(0)\n"
            f"return {RIGHT}", "import os, time\n"), FULL),
    }


def _visible_predict_answer() -> np.ndarray:
    """Answer of the first visible predict case for the in-notebook inputs (what students see)."""
    from autograder.checks import VISIBLE_SEED
    from autograder.cases.tasks import get_spec

    case = get_spec("forward_pass").cases_for(function="predict", hidden=False)[0]
    inputs = case.make_inputs(np.random.default_rng(VISIBLE_SEED))
    return case.reference(**inputs)


def _set_meta(nb, gid: str, **changes):
    new = copy.deepcopy(nb)
    cell = subs.find_cell(new, gid)
    for key, value in changes.items():
        if key == "cell_type":
            cell.cell_type = value
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        else:
            cell.metadata.nbgrader[key] = value
    return new


def write_forward_pass_class(course_root, port: int) -> dict[str, float]:
    """Write every forward_pass fixture under ``submitted/``; return the expected totals."""
    src = subs.source_notebook("forward_pass", course_root)
    expected = {"correct": FULL}
    subs.write_submission(course_root, "correct", "forward_pass", src)
    subs.write_submission(course_root, "wrong_predict", "forward_pass",
                          subs.with_solutions(src, {"predict": _predict("return y_hat")}))
    expected["wrong_predict"] = 12.0
    for student, (code, total) in attacks(course_root, port).items():
        subs.write_submission(course_root, student, "forward_pass",
                              subs.with_solutions(src, {"predict": code}))
        expected[student] = total
    stubs = {f: f"def {f}(*args, **kwargs):\n    raise NotImplementedError\n"
             for f in subs.solution_code("forward_pass", course_root)}
    broken = {
        "not_implemented": (subs.with_solutions(src, stubs), 0.0),
        "deleted_predict_cell": (subs.delete_cells(src, ["predict"]), 12.0),
        "duplicated_predict_cell": (subs.duplicate_cells(src, ["predict"]), 12.0),
        "predict_cell_made_markdown": (_set_meta(src, "predict", cell_type="markdown"), 12.0),
        "predict_cell_metadata_changed": (_set_meta(src, "predict", solution=False), 12.0),
        "deleted_test_cell": (subs.delete_cells(src, ["test_predict"]), FULL),
        "test_points_changed": (_set_meta(src, "test_predict", points=100.0), FULL),
        "empty_file": (b"", 0.0),
        "invalid_json": (b'{"cells": [', 0.0),
        "not_utf8": ("caf\u00e9".encode("latin-1") + b" \xff\xfe", 0.0),
        "not_a_notebook": (json.dumps({"hello": "world"}), 0.0),
    }
    for student, (nb, total) in broken.items():
        subs.write_submission(course_root, student, "forward_pass", nb)
        expected[student] = total
    subs.write_submission(course_root, "renamed_file", "forward_pass", src,
                          filename="forward_pass_final.ipynb")
    expected["renamed_file"] = 0.0
    return expected


LOOP_BACKPROP = '''def backprop(X, Y, params):
    """Right values, one example at a time (no vectorization)."""
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    B = X.shape[0]
    for i in range(B):
        x, y = X[i:i + 1], Y[i:i + 1]
        z1 = x @ params["W1"].T + params["b1"]
        a1 = np.maximum(z1, 0.0)
        z2 = a1 @ params["W2"].T + params["b2"]
        a2 = np.maximum(z2, 0.0)
        z3 = a2 @ params["W3"].T + params["b3"]
        e = np.exp(z3 - z3.max())
        d3 = (e / e.sum() - y) / B
        d2 = (d3 @ params["W3"]) * (z2 > 0)
        d1 = (d2 @ params["W2"]) * (z1 > 0)
        grads["W3"] += d3.T @ a2
        grads["b3"] += d3[0]
        grads["W2"] += d2.T @ a1
        grads["b2"] += d2[0]
        grads["W1"] += d1.T @ x
        grads["b1"] += d1[0]
    return grads
'''


GIVEN_LOOP_BACKPROP = '''
def backprop(X, Y, params):
    return backprop_per_example(X, Y, params)
'''


def write_vectorized_class(course_root) -> dict[str, float]:
    """vectorized_gradients fixtures: the source (full marks) and a Python loop over examples."""
    from autograder.cases.tasks import get_spec

    spec = get_spec("vectorized_gradients")
    src = subs.source_notebook("vectorized_gradients", course_root)
    subs.write_submission(course_root, "correct", "vectorized_gradients", src)
    subs.write_submission(course_root, "python_loop", "vectorized_gradients",
                          subs.with_solutions(src, {"backprop": LOOP_BACKPROP}))
    # calls the locked, given per-example loop of the notebook: it must exist in the sandbox
    subs.write_submission(course_root, "given_loop", "vectorized_gradients",
                          subs.with_solutions(src, {"backprop": GIVEN_LOOP_BACKPROP}))
    timing = sum(c.points for c in spec.cases if c.kind == "timing")
    return {"correct": spec.max_score, "python_loop": spec.max_score - timing,
            "given_loop": spec.max_score - timing}
