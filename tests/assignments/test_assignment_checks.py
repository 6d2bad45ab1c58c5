"""The in-notebook checks: deliberately wrong student functions get messages a student can act on."""
from __future__ import annotations

import re
import sys
import warnings

import numpy as np
import pytest

from autograder.cases import testfuncs
from autograder.checks import check, run_case
from autograder.cases.compare import check_array, check_dict, check_int, redact_values
from autograder.cases.tasks import get_spec, list_assignments

from tests import submissions as subs

ASSIGNMENTS = list_assignments()
BACKPROP = get_spec("backprop")
BACKPROP_CASES = sys.modules["fnn_assignment_backprop"]
NARROW = "bob"
"""A student whose network (hidden widths 64, 48, 32) makes the timed case cheap for the
vectorized baseline, so that a loop over the examples is many times slower."""


@pytest.fixture(scope="module")
def fp():
    return subs.solution_namespace("forward_pass")


@pytest.fixture(scope="module")
def sb():
    return subs.solution_namespace("softmax_backward")


@pytest.fixture(scope="module")
def bp():
    return subs.solution_namespace("backprop")


def _flat(message: str) -> str:
    """``message`` with every run of white space (line breaks of wrapped lines and of hints
    included) made one space, so that a test reads it as one sentence."""
    return " ".join(message.split())


# ----------------------------------------------------------------------------- reference solutions
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solutions_pass_every_case_for_several_seeds(assignment, capsys):
    spec = get_spec(assignment)
    namespace = subs.solution_namespace(assignment)
    mine = spec.variant_of("instructor-demo") if spec.variant_of is not None else None
    for case in spec.cases:
        seeds = [0] if case.kind != "value" else [0, 1, 2]
        for seed in seeds:
            credit, message, _ = run_case(case, namespace[case.function],
                                          np.random.default_rng(seed), mine)
            assert credit == 1.0, f"{case.name} (seed {seed}): {message}"


def test_check_prints_a_short_passed_line(fp, capsys):
    assert check("forward_pass", "relu", fp["relu"]) is None
    assert check("forward_pass", "relu", fp["relu"], hidden=True, seed=7) is None
    out = capsys.readouterr().out
    assert "relu: 1 test passed" in out and "relu: 1 hidden test passed" in out


# ----------------------------------------------------------------------------- common mistakes
def test_transposed_gradient_is_named(bp):
    def backprop(X, Y, params, activations, loss):
        grads = bp["backprop"](X, Y, params, activations, loss)
        grads["W1"] = grads["W1"].T.copy()
        return grads
    msg = subs.check_failure("backprop", "backprop", backprop)
    assert "grads['W1'] has shape (6, 5), expected (5, 6)\nHint: transposed?" in msg


def test_bias_gradient_that_kept_the_batch_axis(bp):
    def backprop(X, Y, params, activations, loss):
        grads = bp["backprop"](X, Y, params, activations, loss)
        grads["b3"] = np.tile(grads["b3"], (X.shape[0], 1)) / X.shape[0]
        return grads
    msg = _flat(subs.check_failure("backprop", "backprop", backprop))
    assert "grads['b3'] has shape (7, 3), expected (3,) Hint: it kept the batch axis" in msg


def test_output_that_lost_the_batch_axis(fp):
    msg = _flat(subs.check_failure("forward_pass", "network_forward", lambda X, params: np.mean(fp["network_forward"](X, params), keepdims=True)[0, ...]))
    assert "y_hat has shape (), expected (7,) Hint: it lost the batch axis" in msg
    msg = _flat(subs.check_failure("forward_pass", "network_forward", lambda X, params: fp["network_forward"](X, params)[:, None]))
    assert "y_hat has shape (7, 1), expected (7,) Hint: an extra or missing axis of length 1" in msg
    msg = _flat(subs.check_failure("forward_pass", "affine_forward", lambda x, W, b: (x @ W.T + b)[0]))
    assert "z has shape (3,), expected (7, 3) Hint: it lost the batch axis" in msg


def test_gradient_mean_without_division_by_B(bp):
    def backprop(X, Y, params, activations, loss):
        grads = bp["backprop"](X, Y, params, activations, loss)
        return {k: v * X.shape[0] for k, v in grads.items()}
    msg = subs.check_failure("backprop", "backprop", backprop)
    assert "Hint: the cost is the MEAN over the batch: divide by B" in msg


def test_softmax_without_the_max_shift_gives_nan_and_the_fix(sb):
    def softmax(z):
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    msg = subs.check_failure("softmax_backward", "softmax", softmax)
    assert "softmax(z) contains NaN" in msg
    assert "output contains NaN/inf for logits of 1000: subtract the max" in msg
    assert "1 of 2 tests failed" in msg  # the ordinary logits still pass


def test_unstable_sigmoid_is_caught_and_its_warnings_are_not_failures():
    def sigmoid(z):
        return np.exp(z) / (1.0 + np.exp(z))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping the check would raise here
        msg = subs.check_failure("forward_pass", "sigmoid", sigmoid)
    assert "sigmoid(z) contains NaN" in msg and "|z| ~ 1000" in msg
    assert "RuntimeWarning" in msg  # reported, not raised


def test_warnings_alone_do_not_fail(capsys):
    def sigmoid(z):  # correct values, but overflows in exp for z = -1000
        return 1.0 / (1.0 + np.exp(-z))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check("forward_pass", "sigmoid", sigmoid) is None
    assert "warning(s), e.g. RuntimeWarning" in capsys.readouterr().out


def test_in_place_modification_of_the_input():
    def relu(z):
        z[z < 0] = 0.0
        return z
    msg = subs.check_failure("forward_pass", "relu", relu)
    assert "your function changed its input z in place" in msg


def test_sgd_step_that_updates_params_in_place(bp):
    def sgd_step(params, grads, lr):
        for key in params:
            params[key] -= lr * grads[key]
        return params
    msg = subs.check_failure("backprop", "sgd_step", sgd_step)
    assert "changed its input params['W1']" in msg

    def pops(params, grads, lr):
        new = bp["sgd_step"](params, grads, lr)
        params.pop("b2")
        return new
    assert "changed its input params['b2']" in subs.check_failure("backprop", "sgd_step", pops)


def test_wrong_dtypes_are_named():
    msg = subs.check_failure("forward_pass", "relu", lambda z: np.maximum(z, 0).astype(np.int64))
    assert "expected dtype float64, got int64" in msg
    msg = _flat(subs.check_failure("forward_pass", "predict", lambda y_hat, threshold=0.5: y_hat >= threshold))
    assert "expected dtype int64, got bool Hint: convert with .astype(np.int64)" in msg


def test_worst_offending_index_and_max_error_are_reported(fp):
    def affine_forward(x, W, b):
        z = x @ W.T + b
        z[4, 2] += 0.5
        return z
    msg = _flat(subs.check_failure("forward_pass", "affine_forward", affine_forward))
    assert re.search(r"max abs error 0\.5, worst at index \(4, 2\) \(example 4 of the batch\)", msg)
    assert "1 of 21 entries off" in msg
    assert re.search(r"got -?\d[\d.e+-]*, expected -?\d", msg)  # visible: both values shown
    def off_at_the_end(x, W, b):
        z = x @ W.T + b
        z[-1, -1] += 0.5
        return z
    hidden = subs.check_failure("forward_pass", "affine_forward", off_at_the_end, hidden=True, seed=5)
    assert "expected value hidden" in hidden and not re.search(r"expected -?\d", hidden)


def test_forgotten_bias_and_augmented_bias_column_hints():
    msg = subs.check_failure("forward_pass", "affine_forward", lambda x, W, b: x @ W.T)
    assert "Hint: did you forget to add the bias b?" in msg
    msg = subs.check_failure("forward_pass", "affine_forward_augmented",
                   lambda x, W_tilde: x @ W_tilde[:, :-1].T + W_tilde[:, -1])
    assert "the bias is the FIRST column of W_tilde" in msg


def test_untrusted_objects_are_never_compared_with_eq():
    class AlwaysEqual(np.ndarray):
        def __eq__(self, other):
            return True
    class Liar:
        def __eq__(self, other):
            return True
        shape, dtype = (7, 5), np.float64
    msg = _flat(subs.check_failure("forward_pass", "relu", lambda z: Liar()))
    assert "relu(z) should be a numpy ndarray, got" in msg and "Liar" in msg
    msg = subs.check_failure("forward_pass", "relu", lambda z: np.zeros_like(z).view(AlwaysEqual))
    assert "AlwaysEqual" in msg
    msg = _flat(subs.check_failure("forward_pass", "relu", lambda z: np.maximum(z, 0).tolist()))
    assert "got list Hint: convert it with np.asarray(...)" in msg
    msg = _flat(subs.check_failure("forward_pass", "count_parameters", lambda N, K, J: float((N + 1) * K + (K + 1) * J + J + 1)))
    assert "should be an int, got float: wrap it in int(...)" in msg
    msg = subs.check_failure("forward_pass", "count_parameters", lambda N, K, J: N * K + K * J + J)
    assert "did you forget the biases" in msg


def test_exceptions_and_missing_implementations_are_reported():
    def relu(z):
        raise NotImplementedError("write me")
    assert "relu is not implemented yet" in subs.check_failure("forward_pass", "relu", relu)
    msg = subs.check_failure("forward_pass", "affine_forward", lambda x, W, b: x @ W + b)
    assert "raised ValueError" in msg and "matmul" in msg


def test_numerical_gradient_mistakes(sb):
    def one_sided(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            step = x.copy()
            step[i] += h
            grad[i] = (f(step) - f(x)) / h
        return grad
    assert "one-sided difference" in subs.check_failure("softmax_backward", "numerical_gradient", one_sided)

    def restores_inexactly(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            x[i] += h
            up = f(x)
            x[i] -= 2 * h
            down = f(x)
            x[i] += h  # x + h - 2h + h is not always x again
            grad[i] = (up - down) / (2 * h)
        return grad
    msg = subs.check_failure("softmax_backward", "numerical_gradient", restores_inexactly)
    assert "changed its input x in place" in msg


def test_hidden_cases_use_fresh_seeds_so_hard_coded_answers_fail(fp):
    spec = get_spec("forward_pass")
    visible = spec.cases_for(function="affine_forward", hidden=False)[0]
    from autograder.checks import VISIBLE_SEED
    inputs = visible.make_inputs(np.random.default_rng(VISIBLE_SEED))
    answer = visible.reference(**inputs)

    def hard_coded(x, W, b):
        return answer.copy()
    assert check("forward_pass", "affine_forward", hard_coded) is None
    msg = subs.check_failure("forward_pass", "affine_forward", hard_coded, hidden=True)
    assert "seed" in msg and ("has shape" in msg or "differs" in msg)
    seeds = {re.search(r"seed (\d+)", subs.check_failure("forward_pass", "relu", lambda z: z, hidden=True)).group(1)
             for _ in range(3)}
    assert len(seeds) == 3


def test_python_loop_over_examples_loses_the_vectorization_points(bp):
    def loop(X, Y, params, activations, loss):
        total = {k: np.zeros_like(v) for k, v in params.items()}
        for b in range(X.shape[0]):
            for k, g in bp["backprop_example"](X[b], Y[b], params, activations, loss).items():
                total[k] += g
        return {k: v / X.shape[0] for k, v in total.items()}
    assert check("backprop", "backprop", loop) is None  # the values are right
    msg = subs.check_failure("backprop", "backprop", loop, grade_id="test_backprop_vectorized",
                   student_id=NARROW)
    assert "this looks like a Python loop over examples" in _flat(msg)
    assert check("backprop", "backprop", bp["backprop"], grade_id="test_backprop_vectorized",
                 student_id=NARROW) is None


def test_fast_but_wrong_backprop_gets_no_vectorization_points():
    def zeros(X, Y, params, activations, loss):
        return {k: np.zeros_like(v) for k, v in params.items()}
    msg = subs.check_failure("backprop", "backprop", zeros, grade_id="test_backprop_vectorized",
                   student_id=NARROW)
    assert "wrong gradients on the B=2048 batch" in _flat(msg)


def _trainer(bp, code: str):
    """``train_classifier`` defined by ``code`` in a namespace with the solution's other
    functions (so that its calls of ``backprop`` and ``sgd_step`` are counted)."""
    namespace = {"np": np, **{k: v for k, v in bp.items() if k != "train_classifier"}}
    exec(code, namespace)
    return namespace["train_classifier"]


def test_train_classifier_partial_credit_is_linear_in_accuracy(bp, capsys):
    from autograder.checks import VISIBLE_SEED

    weak = _trainer(bp, subs.WEAK_TRAINING)
    student = subs.WEAK_TRAINING_STUDENT
    case, = BACKPROP.cases_for(function="train_classifier")
    inputs = case.inputs_for(np.random.default_rng(VISIBLE_SEED), BACKPROP.variant_of(student))
    params = weak(inputs["X_train"], inputs["y_train"], inputs["hidden_sizes"],
                  inputs["activations"])
    logits = BACKPROP_CASES.logits(inputs["_X_test"], params, inputs["activations"])
    accuracy = float(np.mean(np.argmax(logits, axis=1) == inputs["_y_test"]))
    assert 0.75 < accuracy < 0.86, accuracy  # inside the partial-credit band
    earned = check("backprop", "train_classifier", weak, student_id=student)
    assert earned == pytest.approx(case.points * BACKPROP_CASES.accuracy_credit(accuracy), abs=1e-3)
    assert "partial credit" in capsys.readouterr().out
    credit = BACKPROP_CASES.accuracy_credit
    assert credit(0.88) == credit(0.95) == 1.0 and credit(0.70) == credit(0.5) == 0.0
    assert credit(0.79) == pytest.approx(0.5)


def test_train_classifier_with_bad_parameters(bp):
    used = ("    grads = backprop(X_train[:2], np.eye(10)[y_train[:2]], PARAMS, activations, "
            "'softmax_ce')\n    sgd_step(PARAMS, grads, 0.1)\n")
    widths = [784] + BACKPROP.variant_of(NARROW)["hidden_sizes"] + [10]
    last = len(widths) - 1
    good = "".join(f"PARAMS['W{l}'] = np.zeros(({widths[l]}, {widths[l - 1]}))\n"
                   f"PARAMS['b{l}'] = np.zeros({widths[l]})\n" for l in range(1, last + 1))
    setup = "PARAMS = {}\n" + good
    returns_list = setup + ("def train_classifier(X_train, y_train, hidden_sizes, activations):\n"
                            + used + "    return [1, 2]\n")
    msg = subs.check_failure("backprop", "train_classifier", _trainer(bp, returns_list), student_id=NARROW)
    assert "should return a dict of parameters, got list" in _flat(msg)
    transposed = setup + ("def train_classifier(X_train, y_train, hidden_sizes, activations):\n"
                          + used + f"    bad = dict(PARAMS)\n    bad['W{last}'] = bad['W{last}'].T\n"
                          "    return bad\n")
    msg = subs.check_failure("backprop", "train_classifier", _trainer(bp, transposed), student_id=NARROW)
    assert (f"W{last} has shape ({widths[last - 1]}, 10), expected (10, {widths[last - 1]})"
            in _flat(msg))
    unused = setup + ("def train_classifier(X_train, y_train, hidden_sizes, activations):\n"
                      "    return dict(PARAMS)\n")
    msg = subs.check_failure("backprop", "train_classifier", _trainer(bp, unused), student_id=NARROW)
    assert "with your own backprop and sgd_step" in _flat(msg)


# ----------------------------------------------------------------------------- comparison helpers
def test_compare_helpers_directly():
    ok, msg = check_array(np.ones((2, 3)), np.ones((2, 3)))
    assert ok and msg == ""
    ok, msg = check_array(np.ones((3, 2)), np.ones((2, 3)), name="dW")
    assert not ok and msg == "dW has shape (3, 2), expected (2, 3): transposed?"
    ok, msg = check_array(np.full(3, np.inf), np.ones(3), nonfinite_hint="hint")
    assert not ok and msg == "output contains inf (first at index (0,)): hint"
    ok, msg = check_dict({"W": np.ones(2)}, {"W": np.ones(2), "b": np.ones(1)})
    assert not ok and "missing the keys ['b']" in msg
    assert check_int(np.int64(5), 5) == (True, "")
    assert redact_values("z is 3, expected 4; got 1.5e-3, expected -2.5e+07; expected (5, 6)") == (
        "z is 3, expected value hidden; got 1.5e-3, expected value hidden; expected (5, 6)")
    assert not check_int(True, 1)[0]  # bool is not an int answer


def test_testfuncs_registry_and_baseline():
    rng = np.random.default_rng(0)
    f = testfuncs.build("weighted_square", {"c": np.ones(3), "d": np.zeros(3)})
    assert f(np.array([1.0, 2.0, 3.0])) == pytest.approx(14.0)
    with pytest.raises(ValueError, match="name must be one of"):
        testfuncs.build("nope", {})
    from autograder.cases.helpers import one_hot_labels, random_params
    X, Y = rng.standard_normal((9, 6)), one_hot_labels(rng, 9, 4)
    params = random_params(rng, [6, 5, 3, 4])
    activations = ["tanh", "sigmoid"]
    fast = testfuncs.baseline_backprop_layers(X, Y, params, activations, "softmax_ce")
    ref = BACKPROP_CASES.reference_grads(X, Y, params, activations, "softmax_ce")
    assert sorted(fast) == sorted(ref)
    assert all(np.max(np.abs(fast[k] - ref[k])) < 1e-12 for k in ref)


# ----------------------------------------------------------------------------- spec and notebooks agree
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_cells_match_the_spec(assignment):
    spec = get_spec(assignment)
    nb = subs.source_notebook(assignment)
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    solutions = [m["grade_id"] for m, c in zip(meta, nb.cells)
                 if m.get("solution") and not m.get("grade") and c.cell_type == "code"]
    tests = {m["grade_id"]: m["points"] for m in meta if m.get("grade") and not m.get("solution")}
    written = {m["grade_id"]: m["points"] for m in meta if m.get("grade") and m.get("solution")}
    assert solutions == list(spec.functions)
    assert tests == spec.points_by_grade_id()
    assert written == spec.written
    assert all(gid.startswith("written_") for gid in written)
    for cell, m in zip(nb.cells, meta):
        if m.get("solution") and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and f"def {m['grade_id']}(" in cell.source
        assert not cell.get("outputs"), "notebooks are committed without outputs"


# ----------------------------------------------------------------------------- the spec itself
def _arrays(value):
    if type(value) is np.ndarray:
        yield value
    elif type(value) is dict:
        for item in value.values():
            yield from _arrays(item)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_value_case_uses_non_square_float64_inputs(assignment):
    for case in get_spec(assignment).cases:
        if case.kind != "value":
            continue
        for seed in range(5):
            inputs = case.make_inputs(np.random.default_rng(seed))
            for array in (a for v in inputs.values() for a in _arrays(v)):
                labels = array.dtype.kind in "iu" and array.ndim == 1  # class labels
                assert array.dtype == np.float64 or labels, (case.name, array.dtype)
                if array.ndim == 2:
                    assert array.shape[0] != array.shape[1], (case.name, array.shape)


def test_spec_helpers():
    spec = BACKPROP
    assert [c.grade_id for c in spec.cases_for(function="backprop", hidden=False)] == [
        "test_backprop"] * 3 + ["test_backprop_vectorized"]
    assert len(spec.cases_for(grade_id="test_backprop", hidden=True)) == 3
    case = spec.cases[0]
    assert case.score(True) == case.points and case.score(False) == 0.0
    assert case.score(0.5) == case.points / 2
    assert case.score(float("nan")) == 0.0 and case.score(2.0) == 0.0
    with pytest.raises(ValueError, match="name must be one of"):
        get_spec("nope")


def test_notebook_traceback_is_the_message_alone():
    """In a notebook IPython renders _render_traceback_: the student sees the message, not the
    frames of autograder/checks.py."""

    def relu(z):
        return np.maximum(z, 0).astype(int)

    with pytest.raises(AssertionError) as info:
        check("forward_pass", "relu", relu)
    rendered = info.value._render_traceback_()
    assert rendered[0].startswith("AssertionError: relu: 1 of 1 test failed")
    assert "expected dtype float64, got int64" in "\n".join(rendered)
    assert "checks.py" not in "\n".join(rendered)
