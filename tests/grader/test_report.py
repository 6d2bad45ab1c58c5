"""The class report (``fnn-grade report``) on a generated class with known mistakes and copies.

The class: 40 ``forward_pass`` results written as result files, as the grader writes them. Every
failed case carries the message that the assignment's real comparison gives for a typical wrong
answer (transposed output, no bias, unstable sigmoid, |z| for ReLU, biases not counted), so the
misconception counts below are known exactly. The solution cells are generated: honest students
combine common ways of writing each function, eight hand in the textbook solution, and three
pairs are copies disguised by renamed variables, new comments and docstrings and another layout.
"""
from __future__ import annotations

import argparse
import copy
import functools
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from autograder.cases import misconceptions
from autograder.cases.compare import redact_values
from autograder.cases.tasks import get_spec
from autograder.engine import runner
from autograder.outputs import report, similarity
from autograder.outputs.safe import inert
from tests import submissions as subs

ASSIGNMENT = "forward_pass"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
XSS_ID = "<img src=x onerror=alert(1)>"
XSS_MESSAGE = "<script>alert('message')</script> ZeroDivisionError"
ESC_ID = "s39\x1b[31mred\u202e"

FORGOT_BIAS = set(range(0, 5))
TRANSPOSED = set(range(5, 19))
SIGMOID_OVERFLOW = set(range(19, 25))
RELU_ABS = {0, 25, 26, 27}
UNCOUNTED = set(range(28, 32))
TEXTBOOK = set(range(26, 34))
GRADER_ERROR, TIMEOUT, INVALID = 36, 37, 38
COPIES = {7: 21, 12: 24, 3: 35}
"""Copied pairs: source student -> copier."""


def student_id(i: int) -> str:
    return {24: XSS_ID, 39: ESC_ID}.get(i, f"s{i:02d}")


# --------------------------------------------------------------------------- solution cells
SOURCE_CELLS = {gid: code for gid, code in subs.solution_code(ASSIGNMENT).items()}


@functools.lru_cache(maxsize=None)
def starter(gid: str) -> str:
    """The source cell up to its solution region (signature and docstring)."""
    for cell in subs.source_notebook(ASSIGNMENT).cells:
        if subs.grade_id(cell) == gid:
            return cell.source.split("    ### BEGIN SOLUTION")[0]
    raise KeyError(gid)


def cell(gid: str, body: str) -> str:
    return starter(gid) + body.strip("\n") + "\n"


RELU = ["    return np.maximum(z, 0.0)", "    return np.maximum(0, z)",
        "    return np.where(z > 0, z, 0.0)", "    return z * (z > 0)",
        "    out = z.copy()\n    out[out < 0] = 0.0\n    return out"]
SIGMOID_WHOLE = ["    return 0.5 * (1.0 + np.tanh(0.5 * z))",
                 "    return np.exp(-np.logaddexp(0.0, -z))",
                 "    e = np.exp(-np.abs(z))\n"
                 "    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))"]
SIGMOID_PREP = ["    out = np.empty_like(z)", "    out = np.zeros(z.shape)"]
SIGMOID_POS = ["    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))",
               "    out[pos] = 1 / (1 + np.exp(-z[pos]))"]
SIGMOID_NEG = ["    e = np.exp(z[~pos])\n    out[~pos] = e / (1.0 + e)",
               "    out[~pos] = np.exp(z[~pos]) / (1 + np.exp(z[~pos]))"]
AFFINE = ["    return x @ W.T + b", "    return np.dot(x, W.T) + b",
          "    return np.einsum('bi,oi->bo', x, W) + b",
          "    z = x @ W.T\n    z += b\n    return z"]
AUGMENTED = ["    x_tilde = np.hstack([np.ones((x.shape[0], 1)), x])\n"
             "    return x_tilde @ W_tilde.T",
             "    ones = np.ones((len(x), 1))\n"
             "    return np.concatenate([ones, x], axis=1) @ W_tilde.T",
             "    return x @ W_tilde[:, 1:].T + W_tilde[:, 0]"]
COUNT = ["    return (N + 1) * K + (K + 1) * J + J + 1",
         "    weights = N * K + K * J + J\n    biases = K + J + 1\n    return weights + biases",
         "    sizes = [N, K, J, 1]\n"
         "    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))"]
PREDICT = ["    return (y_hat >= threshold).astype(np.int64)",
           "    return np.where(y_hat >= threshold, 1, 0).astype(np.int64)",
           "    labels = np.zeros(y_hat.shape, dtype=np.int64)\n"
           "    labels[y_hat >= threshold] = 1\n"
           "    return labels"]
LAYER = ["    h{l} = relu(affine_forward({a}, params['W{l}'], params['b{l}']))",
         "    z{l} = affine_forward({a}, params['W{l}'], params['b{l}'])\n"
         "    h{l} = relu(z{l})",
         "    h{l} = np.maximum({a} @ params['W{l}'].T + params['b{l}'], 0.0)",
         "    W, b = params['W{l}'], params['b{l}']\n    h{l} = relu({a} @ W.T + b)",
         "    h{l} = relu(np.dot({a}, params['W{l}'].T) + params['b{l}'])"]
OUTPUT = ["    return sigmoid(affine_forward(h2, params['W3'], params['b3']))[:, 0]",
          "    z3 = h2 @ params['W3'].T + params['b3']\n    return sigmoid(z3).ravel()",
          "    logits = affine_forward(h2, params['W3'], params['b3'])\n"
          "    return sigmoid(logits[:, 0])",
          "    return sigmoid(h2 @ params['W3'][0] + params['b3'][0])"]
COMMENTS = ["", "    # my solution\n", "    # vectorized, no loops\n", "    # see the lecture\n"]


def honest_code(i: int) -> dict[str, str]:
    """Student ``i``'s own solution cells: common ways of writing each function, combined at
    random (seeded by ``i``)."""
    rng = np.random.default_rng(1000 + i)

    def pick(options):
        return options[int(rng.integers(len(options)))]

    if rng.random() < 0.4:
        sigmoid = pick(SIGMOID_WHOLE)
    else:
        sigmoid = "\n".join([pick(SIGMOID_PREP), "    pos = z >= 0", pick(SIGMOID_POS),
                             pick(SIGMOID_NEG), "    return out"])
    network = "\n".join([pick(LAYER).format(l=1, a="X"), pick(LAYER).format(l=2, a="h1"),
                         pick(OUTPUT)])
    bodies = {"relu": pick(RELU), "sigmoid": sigmoid, "affine_forward": pick(AFFINE),
              "affine_forward_augmented": pick(AUGMENTED), "network_forward": network,
              "count_parameters": pick(COUNT), "predict": pick(PREDICT)}
    return {gid: cell(gid, pick(COMMENTS) + body) for gid, body in bodies.items()}


DISTINCT = {
    7: {"sigmoid": '''
    # split the input by sign so that exp never overflows
    result = np.zeros_like(z, dtype=np.float64)
    flat_in = z.reshape(-1)
    flat_out = result.reshape(-1)
    for idx in range(flat_in.size):
        value = flat_in[idx]
        if value >= 0:
            flat_out[idx] = 1.0 / (1.0 + math.exp(-value))
        else:
            ev = math.exp(value)
            flat_out[idx] = ev / (1.0 + ev)
    return result''', "network_forward": '''
    layers = [("W1", "b1", relu), ("W2", "b2", relu), ("W3", "b3", sigmoid)]
    activation = X
    for w_key, b_key, fn in layers:
        pre = activation @ params[w_key].T + params[b_key]
        activation = fn(pre)
    return activation.reshape(activation.shape[0])'''},
    12: {"count_parameters": '''
    widths = [N, K, J, 1]
    n_weights = 0
    n_biases = 0
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        n_weights += fan_in * fan_out
        n_biases += fan_out
    return int(n_weights + n_biases)''', "network_forward": '''
    def layer(inputs, idx, act):
        W = params["W%d" % idx]
        b = params["b%d" % idx]
        return act(np.dot(inputs, W.T) + b)
    hidden = layer(layer(X, 1, relu), 2, relu)
    probs = layer(hidden, 3, sigmoid)
    return probs[:, 0].copy()''', "predict": '''
    decisions = []
    for p in y_hat:
        decisions.append(1 if p >= threshold else 0)
    return np.array(decisions, dtype=np.int64)'''},
    3: {"sigmoid": '''
    z = np.asarray(z, dtype=np.float64)
    neg_abs = -np.abs(z)
    small = np.exp(neg_abs)
    big_side = 1.0 / (1.0 + small)
    small_side = small / (1.0 + small)
    return np.where(z >= 0, big_side, small_side)''', "affine_forward_augmented": '''
    batch = x.shape[0]
    bias_col = W_tilde[:, :1].T
    weights = W_tilde[:, 1:]
    return np.repeat(bias_col, batch, axis=0) + x.dot(weights.T)''', "network_forward": '''
    a = X
    for i in (1, 2, 3):
        a = affine_forward(a, params[f"W{i}"], params[f"b{i}"])
        a = relu(a) if i < 3 else sigmoid(a)
    return np.squeeze(a, axis=1)'''},
}

DISGUISED = {
    21: {"sigmoid": '''
    """Logistic function, stable version."""
    out = np.zeros_like(z, dtype = np.float64)   # output buffer
    zz = z.reshape(-1)
    oo = out.reshape(-1)
    for k in range(zz.size):
        t = zz[k]
        if t >= 0:
            oo[k] = 1.0/(1.0+math.exp(-t))
        else:
            # negative side
            q = math.exp(t)
            oo[k] = q/(1.0+q)
    return out''', "network_forward": '''
    # go through the three layers
    spec = [
        ("W1", "b1", relu),
        ("W2", "b2", relu),
        ("W3", "b3", sigmoid),
    ]
    cur = X
    for wk, bk, f in spec:
        lin = cur @ params[wk].T + params[bk]
        cur = f(lin)
    return cur.reshape(cur.shape[0])'''},
    24: {"count_parameters": '''
    # </pre><script>alert('code')</script>
    sizes = [N, K, J, 1]
    w_total = 0
    b_total = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w_total += n_in*n_out
        b_total += n_out
    return int(w_total + b_total)''', "network_forward": '''
    def dense(x_in, number, activation):
        W = params["W%d" % number]
        b = params["b%d" % number]
        return activation(np.dot(x_in, W.T) + b)
    h = dense(dense(X, 1, relu), 2, relu)
    out = dense(h, 3, sigmoid)
    return out[:, 0].copy()''', "predict": '''
    labels = []
    for prob in y_hat:
        labels.append(1 if prob >= threshold else 0)   # class 1 at the threshold
    return np.array(labels, dtype=np.int64)'''},
    35: {"sigmoid": '''
    z = np.asarray(z, dtype = np.float64)
    m = -np.abs(z)          # never positive
    e = np.exp(m)
    pos_part = 1.0 / (1.0 + e)
    neg_part = e / (1.0 + e)
    return np.where(z >= 0, pos_part, neg_part)''', "affine_forward_augmented": '''
    n = x.shape[0]
    bias = W_tilde[:, :1].T
    w = W_tilde[:, 1:]
    return np.repeat(bias, n, axis = 0) + x.dot(w.T)''', "network_forward": '''
    out = X
    for layer in (1, 2, 3):
        out = affine_forward(out, params[f"W{layer}"], params[f"b{layer}"])
        out = relu(out) if layer < 3 else sigmoid(out)
    return np.squeeze(out, axis = 1)'''},
}


def solution_cells(i: int) -> dict[str, str]:
    if i in TEXTBOOK:
        return dict(SOURCE_CELLS)
    cells = honest_code(i)
    for gid, body in {**DISTINCT.get(i, {}), **DISGUISED.get(i, {})}.items():
        cells[gid] = cell(gid, body)
    return cells


# --------------------------------------------------------------------------- case records
def judged(case, answer, rng) -> dict:
    """The record the grader stores for ``answer(inputs, expected)`` (None: the reference)."""
    inputs = case.make_inputs(rng)
    expected = case.reference(**copy.deepcopy(inputs))
    actual = expected if answer is None else answer(inputs, expected)
    credit, message = case.compare(actual, expected, inputs)
    if case.hidden:
        message = redact_values(message)
    earned = case.score(credit)
    return runner._case_record(case, "passed" if earned > 0 else "failed", message, earned)


def no_bias(inputs, expected):
    return inputs["x"] @ inputs["W"].T


def transposed(inputs, expected):
    return np.ascontiguousarray(expected.T)


def exp_ratio(inputs, expected):
    with np.errstate(all="ignore"):
        return np.exp(inputs["z"]) / (1.0 + np.exp(inputs["z"]))


def absolute(inputs, expected):
    return np.abs(inputs["z"])


def weights_only(inputs, expected):
    N, K, J = inputs["N"], inputs["K"], inputs["J"]
    return N * K + K * J + J


def constant(inputs, expected):
    return np.full(expected.shape, 0.123)


def wrong_answers(i: int) -> dict[str, object]:
    """``{function: answer}`` of student ``i``'s known mistakes."""
    wrong = {}
    if i in FORGOT_BIAS:
        wrong.update(affine_forward=no_bias, network_forward=constant)
    if i in TRANSPOSED:
        wrong.update(affine_forward=transposed, network_forward=constant)
    if i in SIGMOID_OVERFLOW:
        wrong["sigmoid"] = exp_ratio
    if i in RELU_ABS:
        wrong["relu"] = absolute
    if i in UNCOUNTED:
        wrong["count_parameters"] = weights_only
    return wrong


def make_result(i: int, spec) -> dict:
    student = student_id(i)
    if i == GRADER_ERROR:
        return runner.grader_error_result(ASSIGNMENT, student, "grader error: KeyError: 'x'")
    result = {"assignment": ASSIGNMENT, "student": student, "notebook": None, "cases": [],
              "total": 0.0, "max_total": spec.max_score, "flags": [], "errors": [],
              "written": {}, "solutions": {}, "sandbox": "bwrap", "fingerprint": "f",
              "sandbox_cpu_s": round(0.5 + 0.01 * i, 4), "graded_at": "2026-12-01T00:00:00+00:00"}
    if i == INVALID:
        reason = "the notebook file is empty"
        result["flags"].append({"rule": "invalid_notebook", "function": None, "detail": reason,
                                "action": "zero"})
        result["cases"] = [runner._case_record(c, "invalid_notebook", reason) for c in spec.cases]
        return result
    rng = np.random.default_rng(i)
    wrong = wrong_answers(i)
    for case in spec.cases:
        if i == TIMEOUT and case.function == "network_forward":
            result["cases"].append(runner._case_record(case, "timeout", "stopped after 10 s"))
        elif i == TIMEOUT and case.function == "predict" and case.hidden:
            result["cases"].append(runner._case_record(case, "error", XSS_MESSAGE))
        else:
            result["cases"].append(judged(case, wrong.get(case.function), rng))
    if i == TIMEOUT:
        result["flags"].append({"rule": "notebook_changed", "function": None,
                                "detail": "a test cell <b>was</b> deleted", "action": "report"})
    result["solutions"] = solution_cells(i)
    result["total"] = float(sum(c["points"] for c in result["cases"]))
    return result


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course copy whose ``grading/forward_pass/`` holds the generated class's 40 results."""
    root = subs.make_course_copy(tmp_path_factory.mktemp("report_course"), [ASSIGNMENT])
    spec = get_spec(ASSIGNMENT, root)
    for i in range(40):
        runner.write_result(root, make_result(i, spec))
    return root


@pytest.fixture(scope="module")
def results(course) -> list[dict]:
    return runner.load_results(course, ASSIGNMENT)


@pytest.fixture(scope="module")
def written(course) -> tuple[Path, str]:
    return report.write_report(course, ASSIGNMENT)


# --------------------------------------------------------------------------- the table
def _case(assignment, function, which=False, kind=None):
    """The first case of ``function`` that is hidden or not (``which`` a bool) or whose name
    holds ``which`` (a str), of ``kind`` if given."""
    spec = get_spec(assignment)
    return next(c for c in spec.cases if c.function == function
                and (which in c.name if type(which) is str else c.hidden == which)
                and (kind is None or c.kind == kind))


def _numgrad_forward(inputs, expected):
    from autograder.cases import testfuncs

    f, x, h = testfuncs.build(inputs["f"].name, inputs["f"].arrays), inputs["x"].copy(), inputs["h"]
    f0, out = f(x), np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        out[idx] = (f(x) - f0) / h
        x[idx] = old
    return out


def _naive_softmax(inputs, expected):
    with np.errstate(all="ignore"):
        e = np.exp(inputs["z"])
        return e / e.sum(axis=1, keepdims=True)


def _softmax_axis0(inputs, expected):
    z = inputs["z"]
    e = np.exp(z - z.max())
    return e / e.sum(axis=0, keepdims=True)


def _slow_timing(inputs, expected):
    return {"student_s": 1.0, "baseline_s": 0.01, "output": expected}


def _diverged(inputs, expected):
    """Trained parameters of the right shapes, with NaN in W1, from the student's own functions."""
    widths = [inputs["X_train"].shape[1]] + list(inputs["hidden_sizes"]) + [10]
    params = {}
    for l in range(1, len(widths)):
        params[f"W{l}"] = np.zeros((widths[l], widths[l - 1]))
        params[f"b{l}"] = np.zeros(widths[l])
    params["W1"][0, 0] = np.nan
    return {"output": params, "calls": {"backprop": 100, "sgd_step": 100}}


def _backprop(mistake):
    """Gradients with one of the backprop assignment's typical mistakes built in."""
    def answer(inputs, expected):
        get_spec("backprop")
        module = sys.modules["fnn_assignment_backprop"]
        return module.mistaken_grads(**inputs, mistake=mistake)
    return answer


def _counted(grads):
    """``numerical_grads``' answer as the grader sees it: the output and the functions it
    called (the cost through network_loss, never backprop)."""
    return {"calls": {"network_loss": 1, "backprop": 0, "backprop_example": 0}, "output": grads}


def _numerical(factor):
    return lambda i, e: _counted({k: factor * v for k, v in e["numerical"].items()})


def _numerical_mistake(mistake):
    """Finite differences with one of the backprop assignment's typical mistakes."""
    def answer(inputs, expected):
        get_spec("backprop")
        module = sys.modules["fnn_assignment_backprop"]
        return _counted(module.reference_numerical_grads(**inputs, mistake=mistake))
    return answer


def _graph(**how):
    """``evaluate``'s answer with a mistake of the computational-graphs assignment built in."""
    def answer(inputs, expected):
        get_spec("computational_graphs")
        module = sys.modules["fnn_assignment_computational_graphs"]
        if "op" in how:
            how["wrong"] = next((op, fn) for op, fn, _ in module.WRONG_LOCALS if op == how["op"])
        kwargs = {k: v for k, v in how.items() if k != "op"}
        return expected[0], module.backward(inputs["nodes"], expected[0], **kwargs)
    return answer


HINTS = [  # (misconception, assignment, function, hidden or name part, kind, wrong answer)
    ("transposed", "forward_pass", "affine_forward", False, None, transposed),
    ("batch_axis", "forward_pass", "affine_forward", False, None, lambda i, e: e[0]),
    ("unit_axis", "forward_pass", "predict", False, None, lambda i, e: e[:, None]),
    ("forgot_bias", "forward_pass", "affine_forward", True, None, no_bias),
    ("uncounted_biases", "forward_pass", "count_parameters", False, None, weights_only),
    ("bias_column", "forward_pass", "affine_forward_augmented", False, None,
     lambda i, e: i["x"] @ i["W_tilde"][:, :-1].T + i["W_tilde"][:, -1]),
    ("relu_not_max", "forward_pass", "relu", False, None, absolute),
    ("relu_not_max", "forward_pass", "relu", False, None, lambda i, e: (i["z"] > 0).astype(float)),
    ("sigmoid_overflow", "forward_pass", "sigmoid", "1000", None, exp_ratio),
    ("sigmoid_sign", "forward_pass", "sigmoid", False, None,
     lambda i, e: 1.0 / (1.0 + np.exp(np.clip(i["z"], -700, 700)))),
    ("output_activation", "forward_pass", "network_forward", False, None,
     lambda i, e: np.log(e / (1.0 - e))),
    ("softmax_axis", "softmax_backward", "softmax", False, None, _softmax_axis0),
    ("softmax_overflow", "softmax_backward", "softmax", True, None, _naive_softmax),
    ("jacobian", "softmax_backward", "softmax_jacobian", False, None,
     lambda i, e: -np.outer(i["y"], i["y"])),
    ("vjp_axis", "softmax_backward", "softmax_vjp", False, None,
     lambda i, e: i["y"] * (i["g"] - np.sum(i["g"] * i["y"]))),
    ("vjp_term", "softmax_backward", "softmax_vjp", False, None, lambda i, e: i["y"] * i["g"]),
    ("gradient_sign", "softmax_backward", "cross_entropy_grad", False, None, lambda i, e: -e),
    ("missing_mean", "softmax_backward", "softmax_ce_grad", False, None,
     lambda i, e: e * i["z"].shape[0]),
    ("missing_mean", "backprop", "backprop", True, "value",
     lambda i, e: {k: v * i["X"].shape[0] for k, v in e.items()}),
    ("double_mean", "backprop", "backprop", True, "value",
     lambda i, e: {k: v / i["X"].shape[0] for k, v in e.items()}),
    ("one_sided", "softmax_backward", "numerical_gradient", False, None, _numgrad_forward),
    ("half_step", "softmax_backward", "numerical_gradient", False, None, lambda i, e: 2.0 * e),
    ("python_loop", "backprop", "backprop", False, "timing", _slow_timing),
    ("ascent", "backprop", "sgd_step", False, None,
     lambda i, e: {k: i["params"][k] + i["lr"] * i["grads"][k] for k in i["params"]}),
    ("diverged", "backprop", "train_classifier", False, None, _diverged),
    ("gate_rules", "computational_graphs", "add_mul_by_hand", False, None,
     lambda i, e: dict(e, df_dx=1.0, df_dy=1.0)),
    ("sigmoid_local", "computational_graphs", "sigmoid_neuron_by_hand", False, None,
     lambda i, e: dict(e, df_dz=e["f"], df_dw0=i["x0"] * e["f"], df_dw2=e["f"])),
    ("local_gradient", "computational_graphs", "evaluate", "add, mul, pow", None, _graph(op="mul")),
    ("accumulate", "computational_graphs", "evaluate", "shared sub-expressions, every op", None,
     _graph(mistake="overwrite")),
    ("topological_order", "computational_graphs", "evaluate", "add, mul, pow", None,
     _graph(mistake="no_reverse")),
    ("no_seed", "computational_graphs", "evaluate", "add, mul, pow", None,
     _graph(mistake="no_seed")),
    ("no_activation_derivative", "backprop", "backprop", "softmax-CE, tanh-relu", None,
     _backprop("no_activation_derivative")),
    ("derivative_at_a", "backprop", "backprop", "softmax-CE, tanh-relu", None,
     _backprop("derivative_of_a")),
    ("output_derivative_twice", "backprop", "backprop", "softmax-CE, tanh-relu", None,
     _backprop("output_derivative_twice")),
    ("mse_without_2", "backprop", "backprop", "identity-MSE", None, _backprop("mse_without_2")),
    ("gradient_sign", "backprop", "backprop", "softmax-CE, tanh-relu", None, _backprop("sign")),
    ("missing_mean", "backprop", "backprop", "softmax-CE, tanh-relu", None, _backprop("no_mean")),
    ("double_mean", "backprop", "backprop", "softmax-CE, tanh-relu", None,
     _backprop("mean_twice")),
    ("unstable_loss", "backprop", "network_loss", "softmax-CE, relu-tanh", None,
     lambda i, e: float("inf")),
    ("sum_over_units", "backprop", "network_loss", "identity-MSE", None,
     lambda i, e: e / i["Y"].shape[1]),
    ("missing_mean", "backprop", "network_loss", "softmax-CE, relu-tanh", None,
     lambda i, e: e * i["X"].shape[0]),
    ("half_step", "backprop", "numerical_grads", "softmax-CE", None, _numerical(2.0)),
    ("gradient_sign", "backprop", "numerical_grads", "softmax-CE", None, _numerical(-1.0)),
    ("one_sided", "backprop", "numerical_grads", "softmax-CE", None,
     _numerical_mistake("one_sided")),
    ("perturbation", "backprop", "numerical_grads", "softmax-CE", None,
     _numerical_mistake("not_restored")),
    ("perturbation", "backprop", "numerical_grads", "softmax-CE", None, _numerical(0.3)),
]


@pytest.mark.parametrize("mid, assignment, function, which, kind, answer", HINTS,
                         ids=[f"{h[0]}-{h[2]}-{i}" for i, h in enumerate(HINTS)])
def test_table_recognises_the_real_hint(mid, assignment, function, which, kind, answer):
    """Each misconception is recognised in the message the real comparison writes.

    (The message as the comparison writes it: the grader stores at most 1000 characters of it,
    which can cut off a hint that follows six long per-key lines.)"""
    case = _case(assignment, function, which, kind)
    spec = get_spec(assignment)
    variant = spec.variant_of("s00") if spec.variant_of is not None else None
    inputs = case.inputs_for(np.random.default_rng(5), variant)
    expected = case.reference(**copy.deepcopy(inputs))
    credit, message = case.compare(answer(inputs, expected), expected, inputs)
    assert case.score(credit) == 0.0, message
    assert misconceptions.recognise(message) == [mid], message


def test_every_misconception_is_tested_and_links_to_a_real_heading():
    assert {h[0] for h in HINTS} == set(misconceptions.BY_ID)
    for m in misconceptions.MISCONCEPTIONS:
        lecture = json.loads((REPO / m.lecture).read_text(encoding="utf-8"))
        headings = {line.lstrip("#").strip() for c in lecture["cells"]
                    if c["cell_type"] == "markdown"
                    for line in "".join(c["source"]).splitlines() if line.startswith("#")}
        assert m.heading in headings, (m.id, m.lecture)


def test_a_hint_wrapped_over_indented_lines_is_recognised():
    message = ("dL/dz differs from the reference.\nHint: the loss is the MEAN over the batch:\n"
               "  divide by B")
    assert misconceptions.recognise(message) == ["missing_mean"]


def test_hint_text_elsewhere_in_a_message_is_not_counted():
    """A dict key chosen by the student sits inside the message, not at the end of a line."""
    message = "grads is missing the keys ['W1'] (it has ['did you forget to add the bias b?'])"
    assert misconceptions.recognise(message) == []
    assert misconceptions.recognise(None) == []


# --------------------------------------------------------------------------- the generated class
def test_misconceptions_are_counted_in_students(results):
    stats = report.class_statistics(results, [c.name for c in get_spec(ASSIGNMENT).cases])
    got = [(r["id"], r["count"], r["percent"]) for r in stats["misconceptions"]]
    assert got == [("transposed", 14, 35.0), ("sigmoid_overflow", 6, 15.0),
                   ("forgot_bias", 5, 12.5), ("uncounted_biases", 4, 10.0),
                   ("relu_not_max", 4, 10.0)]
    rows = {r["id"]: r for r in stats["misconceptions"]}
    assert rows["relu_not_max"]["students"] == ["s00", "s25", "s26", "s27"]


def test_pass_rates_and_cofailures(results):
    spec = get_spec(ASSIGNMENT)
    stats = report.class_statistics(results, [c.name for c in spec.cases])
    assert [t["name"] for t in stats["tests"]] == [c.name for c in spec.cases]
    rate = {t["name"]: (t["passed"], t["students"]) for t in stats["tests"]}
    # 19 wrong affine layers, the grader error and the empty notebook
    assert rate["affine_forward, B=7, n_in=5, n_out=3"] == (40 - 19 - 2, 40)
    count = spec.cases_for(function="count_parameters", hidden=False)[0].name
    assert rate[count] == (40 - 4 - 2, 40)
    affine = [c.name for c in spec.cases if c.function == "affine_forward"]
    network = [c.name for c in spec.cases if c.function == "network_forward"]
    top = stats["cofailures"][:6]
    assert {(r["a"], r["b"]) for r in top} == {(a, b) for a in affine for b in network}
    for row in top:  # 19 students fail both; the timeout fails only network_forward
        assert (row["both"], row["failed_a"], row["failed_b"]) == (19, 19, 20)
        assert row["rate_b_given_a"] == 1.0 and row["rate_a_given_b"] == 19 / 20
    assert len(stats["cofailures"]) == 6  # pairs failed together by one student are left out
    assert all(spec_function(r["a"]) != spec_function(r["b"]) for r in stats["cofailures"])


def spec_function(name: str) -> str:
    return next(c.function for c in get_spec(ASSIGNMENT).cases if c.name == name)


def test_problems_and_cpu(results):
    stats = report.class_statistics(results)
    problems = {r["student"]: r for r in stats["problems"]}
    assert set(problems) == {"s36", "s37", "s38"}
    assert problems["s36"]["errors"] == ["grader error: KeyError: 'x'"]
    cases = len(get_spec(ASSIGNMENT).cases)
    assert problems["s36"]["statuses"] == {"grader_error": cases}
    assert problems["s37"]["statuses"] == {"error": 1, "timeout": 3}
    assert problems["s38"]["statuses"] == {"invalid_notebook": cases}
    assert stats["cpu"]["max"] == pytest.approx(0.5 + 0.01 * 39)
    assert stats["cpu"]["slowest"][0] == (pytest.approx(0.89), ESC_ID)


def test_exactly_the_copied_pairs_are_flagged(course, results):
    spec = get_spec(ASSIGNMENT)
    prints = similarity.fingerprints(results, similarity.starter_code(course, ASSIGNMENT),
                                 frozenset(spec.functions))
    found = similarity.similar_pairs(prints)
    flagged = {frozenset((p["a"], p["b"])) for p in found["pairs"]}
    assert flagged == {frozenset((student_id(a), student_id(b))) for a, b in COPIES.items()}
    assert found["compared"] == 38 * 37 // 2  # the grader error and the empty notebook have no code
    # the eight textbook solutions are identical, and common: no pair among them
    textbook = {student_id(i) for i in TEXTBOOK}
    assert not any({p["a"], p["b"]} <= textbook for p in found["pairs"])
    for pair in found["pairs"]:
        assert pair["score"] >= found["threshold"] >= similarity.MIN_SCORE
        assert pair["shared"] >= similarity.MIN_SHARED
        assert max(pair["cells"].values()) > 0.8


def test_bad_arguments_name_themselves(course):
    with pytest.raises(TypeError, match="results must be a list"):
        report.class_statistics({"student": "x"})
    with pytest.raises(TypeError, match="prints must be"):
        similarity.similar_pairs([])
    with pytest.raises(ValueError, match="name must be"):
        report.write_report(course, "no_such_assignment")
    assert not (course / "grading" / "no_such_assignment").exists()


def test_normalisation_ignores_names_comments_docstrings_and_layout():
    a = 'def f(x, y):\n    """Doc."""\n    total = x + y  # sum\n    return total * 2\n'
    b = ("def f(p,q):\n    '''Other doc'''\n    # a comment\n    s = (p +\n         q)\n"
         "    return s*2\n")
    keep = frozenset({"f"})
    assert similarity.normalised_tokens(a, keep) == similarity.normalised_tokens(b, keep)
    assert "f" in similarity.normalised_tokens(a, frozenset({"f"}))
    stub = 'def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("Write this")\n'
    assert similarity.normalised_tokens(stub, frozenset({"f"})) == ["def", "f", "(", "v0", ")", ":",
                                                                "pass"]


@pytest.mark.parametrize("code", [
    "x = " + "(" * 5000 + "1" + ")" * 5000,
    "def f(:\n    return )",
    "y = " + "-" * 100_000 + "1",
    "a = 1\n" * 20_000,
    "\ud800 = 1",
])
def test_hostile_code_never_raises(code):
    tokens = similarity.normalised_tokens(code)
    assert len(tokens) <= similarity.MAX_TOKENS


def test_really_graded_submissions(tmp_path):
    """Three notebooks through the real grader (sandbox included), then the report."""
    root = subs.make_course_copy(tmp_path / "course", [ASSIGNMENT])
    source = subs.source_notebook(ASSIGNMENT)
    right = subs.solution_code(ASSIGNMENT)
    bodies = {"alice": "return x @ W.T + b", "bob": "return (x @ W.T + b).T",
              "carol": "return x @ W.T"}
    for student, body in bodies.items():
        code = dict(right, affine_forward=right["affine_forward"].replace(
            "return x @ W.T + b", body))
        subs.write_submission(root, student, ASSIGNMENT, subs.with_solutions(source, code))
    runner.grade_all(root, ASSIGNMENT, list(bodies), {"jobs": 2}, progress=False)
    path, text = report.write_report(root, ASSIGNMENT)
    stats = report.class_statistics(runner.load_results(root, ASSIGNMENT))
    assert [(r["id"], r["students"]) for r in stats["misconceptions"]] == [
        ("transposed", ["bob"]), ("forgot_bias", ["carol"])]
    assert "33% (1)" in path.read_text(encoding="utf-8")
    assert "Similar pairs for a person to judge: 0" in text


# --------------------------------------------------------------------------- the page
def test_page_is_self_contained_and_inert(written, course):
    path, text = written
    assert path == course / "grading" / ASSIGNMENT / "report.html"
    page = path.read_text(encoding="utf-8")
    assert not list(path.parent.glob(".*.tmp"))
    assert "<script" not in page and "onerror=" not in page.replace("onerror=alert", "")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(&#x27;message&#x27;)&lt;/script&gt;" in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(&#x27;code&#x27;)&lt;/script&gt;" in page
    assert "a test cell &lt;b&gt;was&lt;/b&gt; deleted" in page
    assert "\x1b" not in page and "s39\\x1b[31mred\\u202e" in page
    for forbidden in ("http://", "https://", "<link", "<iframe", "@import", "src='http"):
        assert forbidden not in page
    assert page.count("src='data:image/png;base64,") == 2
    assert "35% (14)" in page and "transposed result" in page
    assert ("href='../../lectures/07_vector_calculus_and_layouts.ipynb"
            "#4.-The-affine-case,-in-three-layouts'") in page


def test_terminal_text_is_inert(written):
    _, text = written
    assert "\x1b" not in text and "\u202e" not in text
    assert "s39\\x1b[31mred\\u202e" in text
    assert " 35%  transposed result (W or dW in the other layout) (14)" in text
    assert f"{XSS_ID} ~ s12" in text or f"s12 ~ {XSS_ID}" in text
    assert all(line.isprintable() for line in text.splitlines())


def test_lone_surrogates_and_controls_in_results_are_written(tmp_path):
    root = subs.make_course_copy(tmp_path / "c", [ASSIGNMENT])
    spec = get_spec(ASSIGNMENT, root)
    result = make_result(TIMEOUT, spec)
    result["student"] = "bad\ud800id\x07"
    timed_out = next(c for c in result["cases"] if c["status"] == "timeout")
    timed_out["message"] = "lone \udfff surrogate\x1b[2J"
    result["errors"] = ["error \ud800"]
    path, text = report.write_report(root, ASSIGNMENT, tmp_path / "out" / "r.html",
                                     results=[result, make_result(1, spec)])
    page = path.read_text(encoding="utf-8")
    assert "bad\\ud800id\\x07" in page
    assert "lone \\udfff surrogate\\x1b[2J" in page and "error \\ud800" in page
    assert "\x1b" not in page and "\x07" not in page
    assert "  bad\\ud800id\\x07" in text.splitlines()
    assert all(line.isprintable() for line in text.splitlines())
    assert "href='../c/lectures/03_forward_pass.ipynb#" in page


def test_run_report_cli(course, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    report.add_report_command(parser.add_subparsers(dest="command"))
    out = tmp_path / "class.html"
    args = parser.parse_args(["report", ASSIGNMENT, "--course-root", str(course), "-o", str(out)])
    assert report.run_report(args) == 0
    captured = capsys.readouterr()
    assert f"wrote {out}" in captured.out and out.is_file()
    assert "Similar pairs for a person to judge: 3" in captured.out
    assert "\x1b" not in captured.out

    args = parser.parse_args(["report", "no_such_assignment", "--course-root", str(course)])
    assert report.run_report(args) == 2
    assert not (course / "grading" / "no_such_assignment").exists()
    empty = subs.make_course_copy(tmp_path / "empty", [ASSIGNMENT])
    args = parser.parse_args(["report", ASSIGNMENT, "--course-root", str(empty)])
    assert report.run_report(args) == 1
    assert not (empty / "grading").exists()


def test_report_command_fits_the_fnn_grade_parser(course, tmp_path):
    """``fnn-grade [--course-root DIR] report ASSIGNMENT [--course-root DIR] [-o OUT]``: the
    course root may come before or after the subcommand."""
    from autograder import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "report" not in sub.choices:  # until cli.py wires it in
        report.add_report_command(sub)
    out = tmp_path / "r.html"
    for argv in (["--course-root", str(course), "report", ASSIGNMENT, "-o", str(out)],
                 ["report", ASSIGNMENT, "--course-root", str(course), "-o", str(out)]):
        args = parser.parse_args(argv)
        assert args.course_root == str(course)
        assert args.func(args) == 0
        assert out.is_file()
        out.unlink()


def test_three_hundred_students_in_a_few_seconds(course, tmp_path):
    spec = get_spec(ASSIGNMENT, course)
    base = runner.load_results(course, ASSIGNMENT)
    results = []
    for k in range(300):
        result = copy.deepcopy(base[k % len(base)])
        result["student"] = f"student{k:03d}"
        if k >= len(base):  # the functions written in many ways are their own; the others
            # (the textbook code of the source, for the students who hand it in) stay
            result["solutions"] = {**result["solutions"], **honest_code(100 + k)}
        results.append(result)
    start = time.perf_counter()
    path, text = report.write_report(course, ASSIGNMENT, tmp_path / "big.html", results=results)
    elapsed = time.perf_counter() - start
    assert path.is_file()
    assert elapsed < 8.0, f"the report of 300 students took {elapsed:.1f} s"
    # 260 more honest students: still exactly the three copied pairs
    pairs = [line for line in text.splitlines() if " ~ " in line]
    assert len(pairs) == 3 and "Similar pairs for a person to judge: 3" in text


@pytest.mark.browser
def test_page_in_headless_chromium(written):
    """The page renders in Chromium with both figures and no script; a screenshot goes to
    artifacts/report.png."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    path, _ = written
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2400})
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            assert len(widths) == 2 and all(w > 100 for w in widths)
            assert page.locator("h2").count() >= 6
            assert page.get_by_text(XSS_ID, exact=False).count() >= 1  # shown as text
            assert dialogs == []
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
