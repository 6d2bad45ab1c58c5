"""The ``forward_pass`` assignment: its cases, its feedback, its notebook and its grading.

Fast tests judge the cases and messages in-process. The ``slow`` tests build a temporary
course: the release made by ``nbgrader generate_assignment``, fixture submissions with typical
mistakes graded by ``fnn-grade`` (the batch grader's command line) and by stock
``nbgrader autograde``.
"""
from __future__ import annotations

import re
import sys
import warnings

import nbformat
import numpy as np
import pytest

from autograder.cases.spec import public_inputs
from autograder.cases.tasks import get_spec
from autograder.checks import VISIBLE_SEED, materialize, run_case
from tests import submissions as subs

NAME = "forward_pass"
SPEC = get_spec(NAME)
CASES_MODULE = sys.modules[f"fnn_assignment_{NAME}"]


SOL = subs.solution_namespace(NAME)


def _failure(function, fn, **kwargs) -> str:
    return subs.check_failure(NAME, function, fn, **kwargs)


def _sig(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# --------------------------------------------------------------------------- the spec
def test_points_and_the_share_of_reasoning():
    assert SPEC.max_score == 20.0
    assert SPEC.written == {"written_zero_one": 2.0, "written_bce_vs_mse": 3.0,
                            "written_augmented": 2.0, "written_one_vs_rest": 3.0}
    written = sum(SPEC.written.values())
    assert written / (written + SPEC.max_score) >= 0.30


def test_the_seven_original_functions_are_kept():
    for function in ("relu", "sigmoid", "affine_forward", "affine_forward_augmented",
                     "network_forward", "count_parameters", "predict"):
        assert function in SPEC.functions
        assert SPEC.cases_for(function=function, hidden=False)
        assert SPEC.cases_for(function=function, hidden=True)


def test_notebook_cells_agree_with_the_spec():
    nb = subs.source_notebook(NAME)
    meta = {subs.grade_id(c): (c, c.metadata["nbgrader"]) for c in nb.cells if subs.grade_id(c)}
    for function in SPEC.functions:
        cell, m = meta[function]
        assert cell.cell_type == "code" and m["solution"] and not m["grade"]
        assert f"def {function}(" in cell.source and "### BEGIN SOLUTION" in cell.source
    for gid, points in SPEC.points_by_grade_id().items():
        cell, m = meta[gid]
        assert m["grade"] and m["points"] == points and m["locked"]
        assert "hidden=True" in cell.source and "### BEGIN HIDDEN TESTS" in cell.source
    for gid, points in SPEC.written.items():
        cell, m = meta[gid]
        assert cell.cell_type == "markdown" and m["solution"] and m["grade"]
        assert m["points"] == points and "**Rubric" in cell.source
    intro = nb.cells[0].source
    assert "30 points: 20 are checked" in intro and "10 (the four written answers)" in intro


def test_every_case_draws_its_inputs_from_its_rng():
    """No case has fixed inputs a student could answer with a literal."""
    for case in SPEC.cases:
        a = case.make_inputs(np.random.default_rng(1))
        b = case.make_inputs(np.random.default_rng(2))
        differs = []
        for key, value in a.items():
            other = b[key]
            if type(value) is np.ndarray:
                differs.append(value.shape != other.shape or not np.array_equal(value, other))
            elif type(value) is dict:
                differs.append(any(not np.array_equal(v, other[k]) for k, v in value.items()))
            else:
                differs.append(value != other)
        assert any(differs), case.name


def test_sizes_differ_so_a_transposed_weight_is_caught():
    for function in ("affine_forward", "affine_forward_augmented", "network_forward",
                     "forward_cache"):
        for case in SPEC.cases_for(function=function):
            for seed in range(20):
                inputs = case.make_inputs(np.random.default_rng(seed))
                if "W" in inputs:
                    sizes = {inputs["x"].shape[0], *inputs["W"].shape}
                    assert len(sizes) == 3, case.name
                elif "W_tilde" in inputs:
                    assert inputs["W_tilde"].shape[0] != inputs["W_tilde"].shape[1] - 1
                else:
                    B, N = inputs["X"].shape
                    assert len({B, N, *inputs["params"]["W2"].shape}) == 4, case.name


# --------------------------------------------------------------------------- the solution
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_source_solution_passes_every_case_without_warnings(seed):
    for case in SPEC.cases:
        credit, message, warned = run_case(case, SOL[case.function], np.random.default_rng(seed))
        assert credit == 1.0, f"{case.name} (seed {seed}): {message}"
        assert not warned, (case.name, warned)


def test_the_references_are_the_library_with_the_stated_conventions():
    """What the notebook states: derivative 0 at z = 0, clipping at float64's eps, no 1/2."""
    from course import activations, losses

    z = np.array([-2.0, 0.0, 3.0])
    assert np.array_equal(SOL["relu_derivative"](z), activations.relu_derivative(z))
    assert SOL["relu_derivative"](z)[1] == 0.0
    eps = np.finfo(np.float64).eps
    assert CASES_MODULE.EPS == eps
    y_hat, y = np.array([1.0, 0.0, 0.3]), np.array([0.0, 1.0, 1.0])
    expected = (-np.log(eps) * 2 - np.log(0.3)) / 3
    assert SOL["bce_loss"](y_hat, y) == pytest.approx(expected, rel=1e-12)
    assert losses.binary_cross_entropy(y_hat, y)[0] == pytest.approx(expected, rel=1e-12)
    assert SOL["mse_loss"](np.ones((2, 3)), np.zeros((2, 3))) == 3.0


def test_the_sigmoid_text_is_honest():
    """1c says: e^z / (1 + e^z) fails, 1 / (1 + e^-z) passes but overflows inside."""
    ratio = _failure("sigmoid", lambda z: np.exp(z) / (1.0 + np.exp(z)))
    assert "sigmoid must be finite for |z| ~ 1000" in ratio.replace("\n  ", " ")
    for case in SPEC.cases_for(function="sigmoid"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            credit, _, _ = run_case(case, lambda z: 1.0 / (1.0 + np.exp(-z)),
                                    np.random.default_rng(VISIBLE_SEED))
        assert credit == 1.0
    case = SPEC.cases_for(function="sigmoid", hidden=False)[1]
    _, _, warned = run_case(case, lambda z: 1.0 / (1.0 + np.exp(-z)), np.random.default_rng(0))
    assert any("overflow" in w for w in warned)


def test_the_real_data_part_holds_what_the_rubric_says():
    """Part 5 of the notebook: a trained network near 1, 'never a 2' near 0.90, the counts."""
    from course.data import load_digits, train_test_split, two_vs_rest
    from course.network import MLP
    from course.optim import fit

    X, labels = load_digits()
    v = two_vs_rest(labels)
    X_train, X_test, v_train, v_test = train_test_split(X, v, test_fraction=0.25, seed=0)
    model = MLP([64, 16, 8, 1], output="sigmoid", rng=np.random.default_rng(0))
    fit(model, X_train, v_train, epochs=30, lr=0.1, batch_size=32, rng=np.random.default_rng(1),
        progress=False)
    params = {}
    for layer, p in enumerate(model.params, start=1):
        params[f"W{layer}"], params[f"b{layer}"] = np.array(p["W"]), np.array(p["b"])
    y_hat = SOL["network_forward"](X_test, params)
    assert np.allclose(y_hat, np.asarray(model.forward(X_test)).reshape(-1))
    assert SOL["accuracy"](SOL["predict"](y_hat), v_test) >= 0.97
    assert SOL["accuracy"](np.zeros(len(v_test), dtype=np.int64), v_test) == \
        pytest.approx(0.90, abs=0.02)
    assert SOL["count_parameters"](64, 16, 8) == 1185 == model.num_parameters()
    assert MLP([64, 16, 8, 10]).num_parameters() == 1266


# --------------------------------------------------------------------------- hints
def _cache(**wrong):
    def forward(X, params):
        z1 = X @ params["W1"].T + params["b1"]
        a1 = np.maximum(z1, 0)
        z2 = a1 @ params["W2"].T + params["b2"]
        a2 = np.maximum(z2, 0)
        z3 = (a2 @ params["W3"].T + params["b3"])[:, 0]
        out = {"z1": z1, "a1": a1, "z2": z2, "a2": a2, "z3": z3, "y_hat": _sig(z3)}
        for key, make in wrong.items():
            out[key] = make(out)
        return out
    return forward


def _bce(eps=np.finfo(np.float64).eps, only_positive=False):
    def loss(y_hat, y):
        p = np.clip(y_hat, eps, 1 - eps)
        if only_positive:
            return float(-np.mean(y * np.log(p)))
        return float(np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)))
    return loss


def _bce_unclipped(y_hat, y):
    return float(np.mean(-y * np.log(y_hat) - (1 - y) * np.log(1 - y_hat)))


def _network_without_sigmoid(X, params):
    a1 = np.maximum(X @ params["W1"].T + params["b1"], 0)
    a2 = np.maximum(a1 @ params["W2"].T + params["b2"], 0)
    return (a2 @ params["W3"].T + params["b3"])[:, 0]


HINTS = [  # (function, wrong implementation, hidden, text the message must contain)
    ("relu", lambda z: np.abs(z), False,
     "Hint: relu(z) = max(z, 0) keeps 0 for negative z (not |z|)"),
    ("relu_derivative", lambda z: (z >= 0).astype(float), False,
     "Hint: at exactly z = 0 this assignment uses the subgradient 0"),
    ("relu_derivative", lambda z: np.where(z == 0, 0.5, (z > 0) * 1.0), False, "not 0.5"),
    ("relu_derivative", lambda z: z > 0, False,
     "expected dtype float64, got bool\nHint: convert with .astype(np.float64)"),
    ("relu_derivative", lambda z: np.maximum(z, 0.0), False, "Hint: that is relu itself"),
    ("sigmoid", lambda z: np.exp(z) / (1.0 + np.exp(z)), False,
     "Hint: sigmoid must be finite for |z| ~ 1000"),
    ("sigmoid", lambda z: 1.0 / (1.0 + np.exp(np.clip(z, -700, 700))), False,
     "Hint: sign: sigmoid(z) = 1 / (1 + exp(-z))"),
    ("sigmoid_derivative", lambda z: _sig(z) * (1 - _sig(z)), False,
     "Hint: s (1 - s) loses every digit where s rounds to 1"),
    ("sigmoid_derivative", lambda z: _sig(z) * (1 - _sig(z)), True,
     "Hint: s (1 - s) loses every digit where s rounds to 1"),
    ("sigmoid_derivative", _sig, False, "Hint: that is sigma(z) itself, not its slope"),
    ("sigmoid_derivative", lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2, False,
     "Hint: never take exp of a large positive number"),
    ("affine_forward", lambda x, W, b: x @ W.T, False, "Hint: did you forget to add the bias b?"),
    ("affine_forward", lambda x, W, b: (x @ W.T + b).T, False, "Hint: transposed?"),
    ("affine_forward", lambda x, W, b: (x @ W.T + b)[0], False,
     "Hint: it lost the batch axis: keep one row per example"),
    ("affine_forward_augmented", lambda x, W_tilde: x @ W_tilde[:, :-1].T + W_tilde[:, -1], False,
     "Hint: the bias is the FIRST column of W_tilde = [b | W]"),
    ("affine_forward_augmented", lambda x, W_tilde: x @ W_tilde[:, 1:].T, False,
     "Hint: did you forget the dummy input x0 = 1"),
    ("augment_params", lambda W, b: np.hstack([W, b[:, None]]), False,
     "Hint: the bias is the FIRST column of W_tilde = [b | W]"),
    ("augment_params", lambda W, b: np.vstack([np.zeros((1, W.shape[1])), W]), False,
     "one more COLUMN than W"),
    ("split_augmented", lambda W_tilde: (W_tilde[:, 0], W_tilde[:, 1:]), False,
     "returned (b, W): return the pair in the order (W, b)"),
    ("split_augmented", lambda W_tilde: (W_tilde[:, :-1], W_tilde[:, -1]), False,
     "Hint: the bias is the FIRST column of W_tilde = [b | W]"),
    ("split_augmented", lambda W_tilde: (W_tilde[:, 1:], W_tilde[:, :1]), False,
     "b has shape (3, 1), expected (3,)\nHint: an extra or missing axis of length 1"),
    ("split_augmented", lambda W_tilde: None, False, "did you forget a return statement?"),
    ("bce_loss", lambda y_hat, y: _bce()(y_hat, y) * len(y), False,
     "Hint: the loss is the MEAN over the batch: divide by B"),
    ("bce_loss", _bce(only_positive=True), False, "Hint: missing the (1 - y) log(1 - y_hat) term"),
    ("bce_loss", lambda y_hat, y: -_bce()(y_hat, y), False, "Hint: sign:"),
    ("bce_loss", _bce_unclipped, True, "Hint: clip y_hat before the log, as stated"),
    ("bce_loss", _bce(eps=1e-12), True, "Hint: clip with eps = np.finfo(np.float64).eps"),
    ("bce_loss", lambda y_hat, y: -y * np.log(y_hat) - (1 - y) * np.log(1 - y_hat), False,
     "did you forget to average over the examples?"),
    ("ce_loss", lambda y_hat, Y: float(np.mean(-Y * np.log(y_hat))), False,
     "Hint: the per-example loss SUMS over the output units"),
    ("ce_loss", lambda y_hat, Y: float(-np.sum(Y * np.log(y_hat))), False,
     "Hint: the loss is the MEAN over the batch: divide by B"),
    ("ce_loss", lambda y_hat, Y: float(-np.mean(np.sum(np.log(y_hat), axis=1))), False,
     "Hint: only the true class counts"),
    ("ce_loss", lambda y_hat, Y: float(-np.sum(Y * np.log(y_hat)) / len(Y)), True,
     "Hint: clip y_hat before the log"),
    ("mse_loss", lambda y_hat, y: float(np.mean((y_hat - y) ** 2)), True,
     "Hint: the per-example loss SUMS over the output units"),
    ("mse_loss", lambda y_hat, y: float(np.sum((y_hat - y) ** 2) / len(y) / 2), False,
     "Hint: no factor 1/2 here"),
    ("mse_loss", lambda y_hat, y: float(np.sqrt(np.sum((y_hat - y) ** 2) / len(y))), False,
     "Hint: no square root"),
    ("mse_loss", lambda y_hat, y: int(np.sum((y_hat - y) ** 2)), False,
     "should be a float, got int: convert it with float(...)"),
    ("network_forward", _network_without_sigmoid, False,
     "Hint: did you forget the sigmoid on the output layer?"),
    ("network_forward", lambda X, params: _sig(_network_without_sigmoid(X, params))[:, None], False,
     "Hint: an extra or missing axis of length 1"),
    ("forward_cache", _cache(a1=lambda o: o["z1"]), False,
     "Hint: a1 = relu(z1): did you forget the activation?"),
    ("forward_cache", _cache(z3=lambda o: o["z3"][:, None]), False,
     "cache['z3'] has shape (7, 1), expected (7,)"),
    ("forward_cache", _cache(z3=lambda o: o["y_hat"]), False,
     "Hint: z3 is the pre-activation, before the sigmoid"),
    ("forward_cache", lambda X, params: {"y_hat": X}, False, "the dict is missing the keys"),
    ("count_parameters", lambda N, K, J: N * K + K * J + J, False,
     "Hint: did you forget the biases (weights of the dummy inputs)?"),
    ("count_parameters", lambda N, K, J: N * K + K * J + J + K + J, False,
     "Hint: the output neuron has a bias too"),
    ("count_parameters", lambda N, K, J: float((N + 1) * K + (K + 1) * J + J + 1), False,
     "wrap it in int(...)"),
    ("predict", lambda y_hat, threshold=0.5: (y_hat > threshold).astype(np.int64), False,
     "Hint: y_hat exactly at the threshold counts as class 1"),
    ("predict", lambda y_hat, threshold=0.5: (y_hat >= 0.5).astype(np.int64), True,
     "Hint: use the threshold argument, not 0.5"),
    ("predict", lambda y_hat, threshold=0.5: y_hat >= threshold, False,
     "convert with .astype(np.int64)"),
    ("accuracy", lambda labels, y: int(np.sum(labels == y)), False,
     "Hint: that is the number of correct labels"),
    ("accuracy", lambda labels, y: float(np.mean(labels != y)), False,
     "Hint: that is the error rate"),
    ("accuracy", lambda labels, y: float(100 * np.mean(labels == y)), False,
     "Hint: return a fraction in [0, 1], not a percentage"),
]


@pytest.mark.parametrize("function, wrong, hidden, text", HINTS,
                         ids=[f"{h[0]}-{i}" for i, h in enumerate(HINTS)])
def test_each_typical_mistake_gets_its_hint(function, wrong, hidden, text):
    message = _failure(function, wrong, hidden=hidden, seed=11 if hidden else None)
    assert text in message or text in message.replace("\n  ", " "), message


def test_messages_wrap_at_word_boundaries():
    """Every line fits in the width (words whole), and each hint starts its own line."""
    width = CASES_MODULE.WIDTH
    for function, wrong, hidden, _ in HINTS:
        message = _failure(function, wrong, hidden=hidden, seed=11 if hidden else None)
        for line in message.split("\n")[1:]:  # the first line is the check's own summary
            assert len(line) <= width, line
            assert "Hint:" not in line or line.startswith("Hint:"), line


def test_hidden_messages_never_show_the_reference_numbers():
    for function, wrong in (("bce_loss", lambda y_hat, y: 2 * _bce()(y_hat, y)),
                            ("affine_forward", lambda x, W, b: 2 * (x @ W.T + b))):
        message = _failure(function, wrong, hidden=True, seed=5)
        assert "expected value hidden" in message
        assert not re.search(r"expected\s+-?\d", message), message


def test_the_hints_are_the_ones_the_class_report_counts():
    """The class report recognises a hint at the end of a line (autograder.cases.misconceptions)."""
    from autograder.cases import misconceptions

    found = {
        "relu_not_max": _failure("relu", lambda z: np.abs(z)),
        "sigmoid_overflow": _failure("sigmoid", lambda z: np.exp(z) / (1.0 + np.exp(z))),
        "sigmoid_sign": _failure("sigmoid", lambda z: 1.0 / (1.0 + np.exp(np.clip(z, -700, 700)))),
        "forgot_bias": _failure("affine_forward", lambda x, W, b: x @ W.T),
        "transposed": _failure("affine_forward", lambda x, W, b: (x @ W.T + b).T),
        "bias_column": _failure("augment_params", lambda W, b: np.hstack([W, b[:, None]])),
        "output_activation": _failure("network_forward", _network_without_sigmoid),
        "uncounted_biases": _failure("count_parameters", lambda N, K, J: N * K + K * J + J),
        "missing_mean": _failure("bce_loss", lambda y_hat, y: _bce()(y_hat, y) * len(y)),
        "batch_axis": _failure("affine_forward", lambda x, W, b: (x @ W.T + b)[0]),
        "sum_over_units": _failure("ce_loss", lambda y_hat, Y: float(np.mean(-Y * np.log(y_hat)))),
    }
    for mid, message in found.items():
        assert mid in misconceptions.recognise(message), (mid, message)


# --------------------------------------------------------------------------- raised errors
def _raised(function, wrong) -> tuple[str, dict]:
    """The check's message for a function that raises, and the inputs it was called with."""
    case = SPEC.cases_for(function=function, hidden=False)[0]
    inputs = case.make_inputs(np.random.default_rng(VISIBLE_SEED))
    try:
        wrong(**materialize(public_inputs(inputs)))
    except ValueError as exc:
        return f"raised ValueError: {exc}", inputs
    raise AssertionError(f"{function}: the wrong implementation did not raise")


@pytest.mark.parametrize("function, wrong", [
    ("affine_forward", lambda x, W, b: x @ W + b),
    ("affine_forward", lambda x, W, b: W @ x + b),
    ("affine_forward", lambda x, W, b: np.dot(x, W) + b),
    ("affine_forward_augmented", lambda x, W_tilde: x @ W_tilde.T),
    ("network_forward", lambda X, params: X @ params["W1"]),
    ("forward_cache", lambda X, params: {"z1": X @ params["W1"]}),
])
def test_a_matmul_with_a_transposed_factor_is_explained(function, wrong):
    case = SPEC.cases_for(function=function, hidden=False)[0]
    raw, inputs = _raised(function, wrong)
    assert "matmul: Input operand 1 has a mismatch" in raw or "not aligned" in raw
    message = case.explain_error(raw, inputs)
    flat = message.replace("\n  ", " ")
    assert "Hint: a matrix product A @ B needs the last size of A to equal the first size of B" \
        in flat, message
    assert "needs a transpose (.T)" in flat and "The inputs are" in flat
    assert all(len(line) <= CASES_MODULE.WIDTH for line in message.split("\n")[1:])


def test_the_matmul_hint_names_the_sizes_and_the_inputs():
    case = SPEC.cases_for(function="affine_forward", hidden=False)[0]
    raw, inputs = _raised("affine_forward", lambda x, W, b: x @ W + b)
    flat = case.explain_error(raw, inputs).replace("\n  ", " ")
    assert "here they are 5 and 3" in flat
    assert "The inputs are x (7, 5), W (3, 5), b (3,)." in flat


def test_a_1d_column_of_ones_and_a_missing_axis_are_explained():
    message = " ".join(subs.check_failure(
        "forward_pass", "affine_forward_augmented",
        lambda x, W_tilde: np.hstack([np.ones(x.shape[0]), x]) @ W_tilde.T).split())
    assert "np.ones((B, 1)) a column of ones" in message, message
    summed_over_axis_2 = lambda y_hat, Y: float(-np.sum(Y * np.log(y_hat), axis=2))  # noqa: E731
    message = " ".join(subs.check_failure("forward_pass", "ce_loss", summed_over_axis_2).split())
    assert "raised AxisError" in message and "has axes 0 to 1" in message, message


def test_a_1d_bias_stacked_next_to_w_is_explained():
    case = SPEC.cases_for(function="augment_params", hidden=False)[0]
    raw, inputs = _raised("augment_params", lambda W, b: np.hstack([b, W]))
    message = case.explain_error(raw, inputs).replace("\n  ", " ")
    assert "Hint: np.hstack / np.concatenate joins arrays with the same number of axes" in message
    assert "b[:, None]" in message
    case = SPEC.cases_for(function="affine_forward_augmented", hidden=False)[0]
    raw, inputs = _raised("affine_forward_augmented",
                          lambda x, W_tilde: np.hstack([np.ones((1, 1)), x]) @ W_tilde.T)
    assert "a column of ones for a batch of B examples has shape (B, 1)" in \
        case.explain_error(raw, inputs).replace("\n  ", " ")


def test_the_in_notebook_check_shows_the_matmul_hint():
    message = _failure("affine_forward", lambda x, W, b: x @ W + b)
    assert "Hint: a matrix product A @ B" in message


# --------------------------------------------------------------------------- nbgrader and fnn-grade
SOURCE_EDITS = {  # student -> [(solution cell, old text, new text)]
    "fp_transposed_w": [("affine_forward", "return x @ W.T + b", "return x @ W + b")],
    "fp_naive_sigmoid_slope": [("sigmoid_derivative", "return sigmoid(z) * sigmoid(-z)",
                                "s = sigmoid(z)\n    return s * (1 - s)")],
    "fp_unclipped_bce": [("bce_loss", "p = np.clip(y_hat, eps, 1.0 - eps)", "p = y_hat")],
    "fp_ce_mean_over_entries": [("ce_loss", "return float(-np.sum(Y * np.log(p)) / y_hat.shape[0])",
                                 "return float(np.mean(-Y * np.log(p)))")],
    "fp_bias_last": [("affine_forward_augmented", "np.hstack([np.ones((x.shape[0], 1)), x])",
                      "np.hstack([x, np.ones((x.shape[0], 1))])")],
    "fp_no_output_sigmoid": [("network_forward", 'return sigmoid(affine_forward(y2, params["W3"], '
                              'params["b3"]))[:, 0]', 'return affine_forward(y2, params["W3"], '
                              'params["b3"])[:, 0]')],
}
EXPECTED = {  # student -> (fnn-grade score, nbgrader score)
    "fp_source": (20.0, 20.0),
    # a raising affine_forward also breaks network_forward and forward_cache, which call it
    "fp_transposed_w": (15.0, 15.0),
    # fnn-grade scores each case, nbgrader each test cell (visible and hidden together):
    # a visible case that passes keeps its points only under fnn-grade
    "fp_naive_sigmoid_slope": (19.0, 18.5),
    "fp_unclipped_bce": (19.5, 19.0),
    "fp_ce_mean_over_entries": (19.0, 19.0),
    "fp_bias_last": (18.5, 18.5),
    "fp_no_output_sigmoid": (18.5, 18.5),
}


def _edited_solutions(student) -> dict[str, str]:
    code = dict(subs.solution_code(NAME))
    for gid, old, new in SOURCE_EDITS.get(student, []):
        assert old in code[gid], (student, gid)
        code[gid] = code[gid].replace(old, new)
    return code


def test_fixture_scores_match_the_in_process_checks_for_every_seed():
    """The expected fnn-grade scores follow from the cases, whatever seed the grader draws."""
    for student, (fnn_score, _) in EXPECTED.items():
        namespace = subs.solution_namespace(NAME, _edited_solutions(student))
        totals = subs.scores_over_seeds(SPEC, namespace, range(40))
        assert sorted(totals) == pytest.approx([fnn_score]), student


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course with the fixtures, graded by fnn-grade and by nbgrader autograde."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = subs.make_course_copy(tmp_path_factory.mktemp("fp_course"), [NAME])
        release = subs.release_notebook(root, NAME)
        source = subs.source_notebook(NAME)
        for student in EXPECTED:
            subs.write_submission(root, student, NAME,
                                  subs.with_solutions(source, _edited_solutions(student)))
        subs.write_submission(root, "fp_release", NAME, release)
    return {"root": root, "release": release, **subs.grade_both_ways(root, NAME)}


@pytest.mark.slow
def test_release_has_no_solution_hidden_test_or_rubric(course):
    text = nbformat.writes(course["release"])
    for leak in ("### BEGIN SOLUTION", "HIDDEN TESTS", "hidden=True", "Rubric", "Model answer",
                 "sigmoid(z) * sigmoid(-z)", "x_tilde @ W_tilde.T", "np.hstack([b[:, None], W])",
                 "np.clip(y_hat, eps, 1.0 - eps)", "11\\,850"):
        assert leak not in text, leak
    for gid in SPEC.written:
        assert subs.find_cell(course["release"], gid).source.strip() == "YOUR ANSWER HERE"
    for function in SPEC.functions:
        assert "raise NotImplementedError" in subs.find_cell(course["release"], function).source


@pytest.mark.slow
def test_release_holds_no_case_code(course):
    released = course["root"] / "release" / NAME
    assert (released / f"{NAME}.ipynb").is_file()
    assert not (released / "cases.py").exists()


@pytest.mark.slow
def test_fnn_grade_scores_every_fixture_exactly(course):
    got = {student: result["total"] for student, result in course["fnn"].items()}
    expected = {s: v[0] for s, v in EXPECTED.items()} | {"fp_release": 0.0}
    assert got == pytest.approx(expected), got


@pytest.mark.slow
def test_nbgrader_autograde_scores_every_fixture_exactly(course):
    max_score = SPEC.max_score + sum(SPEC.written.values())  # written answers: 0 until graded
    expected = {s: v[1] for s, v in EXPECTED.items()} | {"fp_release": 0.0}
    got = course["nbgrader"]
    assert {s: score for s, (score, _) in got.items()} == pytest.approx(expected), got
    assert {top for _, top in got.values()} == {max_score}


@pytest.mark.slow
def test_fnn_grade_feedback_names_the_mistake(course):
    records = {c["name"]: c for c in course["fnn"]["fp_naive_sigmoid_slope"]["cases"]}
    tail = records["sigmoid_derivative at z = +-30, +-40, +-745, +-1000"]
    assert tail["status"] == "failed" and "s (1 - s) loses every digit" in tail["message"]
    records = {c["name"]: c for c in course["fnn"]["fp_unclipped_bce"]["cases"]}
    hidden = records["bce_loss with y_hat exactly 0 and 1"]
    assert hidden["status"] == "failed" and "clip y_hat before the log" in hidden["message"]
