"""Fixture submissions for the batch-grader tests: honest, wrong, malicious and broken notebooks.

Each ``forward_pass`` fixture is the source notebook (:data:`FULL` points) with the ``predict``
cell (worth :data:`PREDICT` points: two cases) replaced by the code below, so the exact expected
score is :data:`RUINED` when the attack only ruins ``predict``, and :data:`FULL` when the code
returns the right answer *only if* the sandbox held (e.g. every attempt to write or read a file
failed). Attacks live inside ``predict`` so that the other functions, graded in the same sandbox,
keep their points. The totals come from the assignment's spec, never from literals.
"""
from __future__ import annotations

import copy
import json

import numpy as np

from autograder.cases.tasks import get_spec
from tests import submissions as subs

_FORWARD = get_spec("forward_pass")
FULL = _FORWARD.max_score
"""Points of a perfect forward_pass submission."""
PREDICT = float(sum(c.points for c in _FORWARD.cases_for(function="predict")))
"""Points of the ``predict`` cases (visible and hidden)."""
RUINED = FULL - PREDICT
"""Total of a forward_pass submission that loses exactly the ``predict`` points."""
CASES = len(_FORWARD.cases)
"""Number of graded forward_pass cases (each one has a result)."""
PREDICT_CASES = len(_FORWARD.cases_for(function="predict"))
"""Number of ``predict`` cases (its visible and its hidden case)."""


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
            "    def __ne__(self, other):\n        return False\n")), RUINED),
        "patched_numpy_and_builtins": (_predict("return y_hat", (
            "import builtins\nnp.allclose = lambda *a, **k: True\n"
            "np.isclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n"
            "builtins.all = lambda *a, **k: True\n")), RUINED),
        "redefined_test_helpers": (_predict("return -y_hat", (
            "import sys, types\n\ndef check(*args, **kwargs):\n    return None\n\n"
            "fake = types.ModuleType('autograder.checks')\nfake.check = check\n"
            "sys.modules['autograder.checks'] = fake\n")), RUINED),
        "sys_exit": (_predict("sys.exit(0)", "import sys\n"), RUINED),
        "os_exit": (_predict("os._exit(0)", "import os\n"), RUINED),
        "segfault": (_predict("return ctypes.string_at(0)", "import ctypes\n"), RUINED),
        "infinite_loop_ignoring_signals": (_predict(
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass",
            "import signal\n"), RUINED),
        "memory_bomb": (_predict(f"hog = [np.ones(10**9) for _ in range(100)]\nreturn {RIGHT}"),
                        RUINED),
        "fork_bomb": (_predict("while True:\n    os.fork()", "import os\n"), RUINED),
        "output_line_100mb": (_predict(f"print('x' * 100_000_000)\nreturn {RIGHT}"), FULL),
        "answer_too_large": (_predict("return np.zeros(20_000_000)"), RUINED),
        "nan_and_inf": (_predict("out = (y_hat >= threshold).astype(np.float64)\n"
                                 "out[0] = np.nan\nout[-1] = np.inf\nreturn out"), RUINED),
        "kills_the_zygote": (_predict("os.kill(-1, signal.SIGKILL)\n"
                                      "os.kill(os.getppid(), signal.SIGKILL)",
                                      "import os, signal\n"), RUINED),
        "imports_reference_library": (_predict("from course.activations import relu as r\n"
                                               "return r(y_hat)"), RUINED),
        "hard_coded_visible_answer": (_predict(f"return np.array({visible.tolist()!r})"), RUINED),
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
             {str(subs.REPO / 'assignments' / 'forward_pass' / 'cases.py')!r},
             {str(subs.REPO / 'autograder' / 'cases' / 'testfuncs.py')!r},
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

    case = _FORWARD.cases_for(function="predict", hidden=False)[0]
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
    expected["wrong_predict"] = RUINED
    for student, (code, total) in attacks(course_root, port).items():
        subs.write_submission(course_root, student, "forward_pass",
                              subs.with_solutions(src, {"predict": code}))
        expected[student] = total
    stubs = {f: f"def {f}(*args, **kwargs):\n    raise NotImplementedError\n"
             for f in subs.solution_code("forward_pass", course_root)}
    broken = {
        "not_implemented": (subs.with_solutions(src, stubs), 0.0),
        "deleted_predict_cell": (subs.delete_cells(src, ["predict"]), RUINED),
        "duplicated_predict_cell": (subs.duplicate_cells(src, ["predict"]), RUINED),
        "predict_cell_made_markdown": (_set_meta(src, "predict", cell_type="markdown"), RUINED),
        "predict_cell_metadata_changed": (_set_meta(src, "predict", solution=False), RUINED),
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
    expected["renamed_file"] = FULL  # the only notebook of the submission: graded
    return expected


LOOP_BACKPROP = '''def backprop(X, Y, params, activations, loss):
    """Right values, one example at a time (no vectorization), any depth and loss."""
    L = len(activations) + 1
    B = X.shape[0]
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for i in range(B):
        a, zs = [X[i]], []
        for l in range(1, L + 1):
            z = params[f"W{l}"] @ a[-1] + params[f"b{l}"]
            zs.append(z)
            if l < L:
                name = activations[l - 1]
                if name == "relu":
                    a.append(np.maximum(z, 0.0))
                elif name == "tanh":
                    a.append(np.tanh(z))
                else:
                    a.append(1.0 / (1.0 + np.exp(-z)))
        z = zs[-1]
        if loss == "softmax_ce":
            e = np.exp(z - z.max())
            delta = e / e.sum() - Y[i]
        elif loss == "sigmoid_bce":
            delta = 1.0 / (1.0 + np.exp(-z)) - Y[i]
        else:
            delta = 2.0 * (z - Y[i])
        delta = delta / B
        for l in range(L, 0, -1):
            grads[f"W{l}"] += np.outer(delta, a[l - 1])
            grads[f"b{l}"] += delta
            if l > 1:
                name, h = activations[l - 2], a[l - 1]
                slope = (zs[l - 2] > 0) * 1.0 if name == "relu" else (
                    1.0 - h * h if name == "tanh" else h * (1.0 - h))
                delta = (params[f"W{l}"].T @ delta) * slope
    return grads
'''
"""A ``backprop`` of the backprop assignment that gets every value right with a Python loop
over the examples of the batch (self-contained: it uses no other function of the notebook)."""


EXAMPLE_LOOP_BACKPROP = '''
def backprop(X, Y, params, activations, loss):
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for i in range(X.shape[0]):
        for k, g in backprop_example(X[i], Y[i], params, activations, loss).items():
            grads[k] += g / X.shape[0]
    return grads
'''
"""A ``backprop`` that loops over the examples with the notebook's own ``backprop_example``
(another solution cell: it must exist in the sandbox)."""


NARROW_LOOPS = {"slow_loop": LOOP_BACKPROP, "loop": EXAMPLE_LOOP_BACKPROP}
"""Student -> the ``backprop`` cell of a loop fixture. The ids are chosen for their narrow networks
(hidden widths 48-32 and 48-48), where the timed case is cheapest for the vectorized baseline, so
that a loop over the examples is as far as it gets past the allowed slowdown."""


def write_backprop_class(course_root) -> dict[str, float]:
    """backprop fixtures: the source (full marks) and two Python loops over the examples, which
    lose exactly the points of the timing case (their values, and their training, are right)."""
    spec = get_spec("backprop")
    src = subs.source_notebook("backprop", course_root)
    subs.write_submission(course_root, "correct", "backprop", src)
    timing = sum(c.points for c in spec.cases if c.kind == "timing")
    expected = {"correct": spec.max_score}
    for student, code in NARROW_LOOPS.items():
        subs.write_submission(course_root, student, "backprop",
                              subs.with_solutions(src, {"backprop": code}))
        expected[student] = spec.max_score - timing
    return expected
