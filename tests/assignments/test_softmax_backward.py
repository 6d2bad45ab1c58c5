"""The ``softmax_backward`` assignment: its cases, its feedback, its notebook and its grading.

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

NAME = "softmax_backward"
SPEC = get_spec(NAME)
CASES_MODULE = sys.modules[f"fnn_assignment_{NAME}"]


SOL = subs.solution_namespace(NAME)


def _failure(function, fn, **kwargs) -> str:
    return subs.check_failure(NAME, function, fn, **kwargs)


def _softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- the spec
def test_points_and_the_share_of_reasoning():
    assert SPEC.max_score == 14.0
    assert SPEC.written == {"written_softmax_jacobian": 4.0, "written_softmax_vjp": 2.0,
                            "written_softmax_ce": 3.0, "written_gradcheck": 3.0}
    written = sum(SPEC.written.values())
    assert written / (written + SPEC.max_score) >= 0.30


def test_notebook_cells_agree_with_the_spec():
    nb = subs.source_notebook(NAME)
    meta = {subs.grade_id(c): (c, c.metadata["nbgrader"]) for c in nb.cells if subs.grade_id(c)}
    for function in SPEC.functions:
        cell, m = meta[function]
        assert cell.cell_type == "code" and m["solution"] and not m["grade"]
        assert f"def {function}(" in cell.source
    for gid, points in SPEC.points_by_grade_id().items():
        cell, m = meta[gid]
        assert m["grade"] and m["points"] == points and m["locked"]
        assert "hidden=True" in cell.source and "### BEGIN HIDDEN TESTS" in cell.source
    for gid, points in SPEC.written.items():
        cell, m = meta[gid]
        assert cell.cell_type == "markdown" and m["solution"] and m["grade"]
        assert m["points"] == points and "**Rubric" in cell.source


def test_every_case_draws_its_inputs_from_its_rng():
    """No input is a fixed value a student could answer with a literal."""
    for case in SPEC.cases:
        a = case.make_inputs(np.random.default_rng(1))
        b = case.make_inputs(np.random.default_rng(2))
        for key, value in a.items():
            if type(value) is np.ndarray and value.size > 1 and key not in ("Y",):
                assert value.shape != b[key].shape or not np.array_equal(value, b[key]), \
                    (case.name, key)
        arrays = [v for v in a.values() if type(v) is np.ndarray]
        assert arrays, case.name


def test_sizes_differ_so_a_transposed_answer_is_caught():
    for case in SPEC.cases_for(function="linear_softmax_backward"):
        for seed in range(20):
            inputs = case.make_inputs(np.random.default_rng(seed))
            B, D = inputs["X"].shape
            assert len({B, D, inputs["W"].shape[0]}) == 3


# --------------------------------------------------------------------------- the solution
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_source_solution_passes_every_case(seed):
    for case in SPEC.cases:
        credit, message, warned = run_case(case, SOL[case.function], np.random.default_rng(seed))
        assert credit == 1.0, f"{case.name} (seed {seed}): {message}"
        assert not warned, (case.name, warned)


def test_numerical_gradient_contract_maps_to_the_library():
    """The notebook's claim: numerical_gradient(f, x, h) equals
    course.gradcheck.numerical_gradient(lambda: f(x), x, h), and x is left unchanged."""
    from course import gradcheck

    rng = np.random.default_rng(4)
    c = rng.uniform(0.5, 2.0, (3, 4))
    x = rng.standard_normal((3, 4))
    before = x.copy()
    f = lambda v: float(np.sum(c * np.sin(v)))  # noqa: E731
    ours = SOL["numerical_gradient"](f, x, 1e-5)
    assert np.array_equal(x, before)
    assert np.array_equal(ours, gradcheck.numerical_gradient(lambda: f(x), x, h=1e-5))


def test_the_notebook_rel_error_is_the_library_one():
    from course import gradcheck

    nb = subs.source_notebook(NAME)
    (cell,) = [c for c in nb.cells if c.get("id") == "experiment"]
    namespace = {"np": np}
    exec(cell.source.split("rng = ")[0], namespace)  # the two helper definitions only
    rng = np.random.default_rng(3)
    for a, b in [(rng.standard_normal(5), rng.standard_normal(5)), (np.zeros(3), np.zeros(3)),
                 (np.ones((2, 3)), 1.5 * np.ones((2, 3)))]:
        assert namespace["rel_error"](a, b) == pytest.approx(gradcheck.rel_error(a, b), abs=1e-15)


# --------------------------------------------------------------------------- hints
def _no_keepdims_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1)


def _per_column_softmax(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _naive_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _chained_ce_grad(z, Y):
    p = _softmax_rows(z)
    g = -Y / p / z.shape[0]
    return p * (g - np.sum(g * p, axis=1, keepdims=True))


def _layer(dw=None, db=None, dx=None, logits=False):
    def backward(X, W, b, Y):
        Z = X @ W.T + b
        dZ = ((Z if logits else _softmax_rows(Z)) - Y) / X.shape[0]
        return {"dW": dw(dZ, X, W) if dw else dZ.T @ X,
                "db": db(dZ) if db else dZ.sum(axis=0),
                "dX": dx(dZ, X, W) if dx else dZ @ W}
    return backward


def _one_sided(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = x.copy()
        step[i] += h
        grad[i] = (f(step) - f(x)) / h
    return grad


HINTS = [  # (function, wrong implementation, hidden, text the message must contain)
    ("softmax", _per_column_softmax, False, "Hint: normalise each ROW (one example per row)"),
    ("softmax", lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(), False,
     "Hint: normalise each row separately, not the whole batch at once"),
    ("softmax", _naive_softmax, False, "Hint: output contains NaN/inf for logits of 1000: "
                                       "subtract the max"),
    ("softmax", _naive_softmax, True, "Hint: output contains NaN/inf for logits of 1000"),
    ("softmax", lambda z: _softmax_rows(z).T, False, "Hint: transposed?"),
    ("softmax_jacobian", lambda y: -np.outer(y, y), False, "Hint: the diagonal needs the extra y_i"),
    ("softmax_jacobian", lambda y: np.diag(y * (1 - y)), False,
     "Hint: off-diagonal entries are -y_i y_j, not 0"),
    ("softmax_jacobian", lambda y: np.diag(y) - y @ y, False,
     "y @ y is the number sum_k y_k^2"),
    ("softmax_jacobian", lambda y: np.diag(y) - (y * y)[:, None], False,
     "depends on both y_i and y_j"),
    ("softmax_jacobian", lambda y: np.diag(y) + np.outer(y, y), False,
     "the off-diagonal entries are negative"),
    ("softmax_jacobian", lambda y: y * (1 - y), False, "is a K x K matrix"),
    ("softmax_jacobian", lambda y: np.diag(y) - y[None, :] @ y[:, None], False,
     "(1, 1)"),
    ("softmax_vjp", lambda y, g: y * (g - np.sum(g * y)), False,
     "Hint: sum g * y per example (axis=1, keepdims=True), not over the batch"),
    ("softmax_vjp", lambda y, g: y * (g - np.sum(g * y, axis=0, keepdims=True)), False,
     "Hint: sum g * y per example (axis=1, keepdims=True), not over the batch"),
    ("softmax_vjp", lambda y, g: y * g, False, "Hint: missing the - sum_k g_k y_k term"),
    ("softmax_vjp", lambda y, g: g - np.sum(g * y, axis=1, keepdims=True), False,
     "carries the factor y_j"),
    ("softmax_vjp", lambda y, g: (y * (g - np.sum(g * y, axis=1, keepdims=True))).T, False,
     "transposed?"),
    ("cross_entropy_grad", lambda y_hat, Y: -Y / y_hat, False,
     "Hint: the loss is the MEAN over the batch: divide by B"),
    ("cross_entropy_grad", lambda y_hat, Y: -Y / y_hat / y_hat.shape[1], False,
     "not by the number of classes K"),
    ("cross_entropy_grad", lambda y_hat, Y: Y / y_hat / y_hat.shape[0], False, "Hint: sign:"),
    ("cross_entropy_grad", lambda y_hat, Y: -1.0 / y_hat / y_hat.shape[0], False,
     "multiply by Y"),
    ("cross_entropy_grad", lambda y_hat, Y: (y_hat - Y) / y_hat.shape[0], False,
     "with respect to the logits z"),
    ("cross_entropy_grad", lambda y_hat, Y: -Y * np.log(y_hat) / y_hat.shape[0], False,
     "not its derivative"),
    ("softmax_ce_grad", lambda z, Y: _softmax_rows(z) - Y, False,
     "Hint: the loss is the MEAN over the batch: divide by B"),
    ("softmax_ce_grad", lambda z, Y: (_softmax_rows(z) - Y) / z.shape[1], False,
     "not by the number of classes K"),
    ("softmax_ce_grad", lambda z, Y: (Y - _softmax_rows(z)) / z.shape[0], False, "Hint: sign:"),
    ("softmax_ce_grad", lambda z, Y: (z - Y) / z.shape[0], False, "not from the logits z"),
    ("softmax_ce_grad", lambda z, Y: (_per_column_softmax(z) - Y) / z.shape[0], False,
     "normalises each ROW"),
    ("softmax_ce_grad", lambda z, Y: _softmax_rows(z) / z.shape[0], False, "target Y is missing"),
    ("softmax_ce_grad", _chained_ce_grad, True, "never divide by a probability"),
    ("linear_softmax_backward", _layer(dw=lambda dZ, X, W: X.T @ dZ), False,
     "grads['dW'] has shape (5, 3), expected (3, 5)\nHint: transposed?"),
    ("linear_softmax_backward", _layer(db=lambda dZ: dZ.sum(axis=1)), False,
     "db has one entry per class"),
    ("linear_softmax_backward", _layer(db=lambda dZ: dZ.sum(axis=0, keepdims=True)), False,
     "an extra or missing axis of length 1"),
    ("linear_softmax_backward", _layer(db=lambda dZ: dZ.mean(axis=0)), False,
     "Hint: divided by B twice? dz already carries the 1/B"),
    ("linear_softmax_backward", _layer(dw=lambda dZ, X, W: dZ.T @ X / X.shape[0]), False,
     "Hint: divided by B twice? dz already carries the 1/B"),
    ("linear_softmax_backward", _layer(dx=lambda dZ, X, W: dZ @ W * X.shape[0]), False,
     "Hint: the loss is the MEAN over the batch: divide by B"),
    ("linear_softmax_backward", _layer(dx=lambda dZ, X, W: (dZ @ W).T), False,
     "grads['dX'] has shape (5, 6), expected (6, 5)\nHint: transposed?"),
    ("linear_softmax_backward", _layer(dw=lambda dZ, X, W: X.T @ X), False,
     "dW has the shape of W, (K, D)"),
    ("linear_softmax_backward", _layer(dx=lambda dZ, X, W: dZ), False,
     "dX has the shape of X, (B, D)"),
    ("linear_softmax_backward", _layer(logits=True), False, "where you used the logits z"),
    ("linear_softmax_backward", _layer(dx=lambda dZ, X, W: -(dZ @ W)), False, "Hint: sign"),
    ("linear_softmax_backward", lambda X, W, b, Y: None, False,
     "did you forget a return statement?"),
    ("linear_softmax_backward", lambda X, W, b, Y: {"dW": X}, False,
     "grads is missing the keys ['db', 'dX']"),
    ("numerical_gradient", _one_sided, False, "Hint: that is a one-sided difference;"),
    ("numerical_gradient", lambda f, x, h=1e-5: 2 * SOL["numerical_gradient"](f, x, h), False,
     "Hint: divide by 2 h, not h"),
]


@pytest.mark.parametrize("function, wrong, hidden, text", HINTS,
                         ids=[f"{h[0]}-{i}" for i, h in enumerate(HINTS)])
def test_each_typical_mistake_gets_its_hint(function, wrong, hidden, text):
    message = _failure(function, wrong, hidden=hidden, seed=11 if hidden else None)
    assert text in message, message


def test_messages_wrap_at_word_boundaries():
    """Every line fits in the width (words whole), and each hint starts its own line."""
    width = CASES_MODULE.WIDTH
    for function, wrong, hidden, _ in HINTS:
        message = _failure(function, wrong, hidden=hidden, seed=11 if hidden else None)
        for line in message.split("\n")[1:]:  # the first line is the check's own summary
            assert len(line) <= width, line
            assert "Hint:" not in line or line.startswith("Hint:"), line


def test_hidden_messages_never_show_the_reference_numbers():
    message = _failure("softmax_ce_grad", lambda z, Y: (_softmax_rows(z) - Y) * 2.0,
                       hidden=True, seed=5)
    assert "expected value hidden" in message
    assert not re.search(r"expected\s+-?\d", message), message


def test_the_hints_are_the_ones_the_class_report_counts():
    """The class report recognises a hint at the end of a line (autograder.cases.misconceptions)."""
    from autograder.cases import misconceptions

    found = {
        "softmax_axis": _failure("softmax", _per_column_softmax),
        "softmax_overflow": _failure("softmax", _naive_softmax),
        "jacobian": _failure("softmax_jacobian", lambda y: -np.outer(y, y)),
        "vjp_axis": _failure("softmax_vjp", lambda y, g: y * (g - np.sum(g * y))),
        "vjp_term": _failure("softmax_vjp", lambda y, g: y * g),
        "gradient_sign": _failure("cross_entropy_grad", lambda y_hat, Y: Y / y_hat / len(Y)),
        "missing_mean": _failure("softmax_ce_grad", lambda z, Y: _softmax_rows(z) - Y),
        "double_mean": _failure("linear_softmax_backward", _layer(db=lambda dZ: dZ.mean(0))),
        "transposed": _failure("linear_softmax_backward", _layer(dw=lambda dZ, X, W: X.T @ dZ)),
        "one_sided": _failure("numerical_gradient", _one_sided),
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


def test_a_matmul_with_a_transposed_factor_is_explained():
    case = SPEC.cases_for(function="linear_softmax_backward")[0]
    for wrong in (_layer(dw=lambda dZ, X, W: dZ @ X), _layer(dx=lambda dZ, X, W: dZ @ W.T),
                  _layer(dw=lambda dZ, X, W: np.dot(dZ, X))):
        raw, inputs = _raised("linear_softmax_backward", wrong)
        assert "matmul: Input operand 1 has a mismatch" in raw or "not aligned" in raw
        message = case.explain_error(raw, inputs)
        assert "Hint: a matrix product A @ B needs the last size of A to equal the first size" \
            in message, message
        assert "X (6, 5), W (3, 5), b (3,), Y (6, 3)" in message.replace("\n  ", " ")
        assert all(len(line) <= CASES_MODULE.WIDTH for line in message.split("\n")[1:])


def test_a_sum_without_keepdims_is_explained():
    case = SPEC.cases_for(function="softmax")[0]
    raw, inputs = _raised("softmax", _no_keepdims_softmax)
    assert "could not be broadcast together with shapes (6,4) (6,)" in raw
    message = case.explain_error(raw, inputs)
    assert "keepdims=True" in message and "Hint:" in message
    other = case.explain_error("raised ValueError: operands could not be broadcast together "
                               "with shapes (6,4) (3,5) ", inputs)
    assert "NumPy lines up shapes from the right" in other


def test_the_in_notebook_check_shows_the_matmul_hint():
    message = _failure("linear_softmax_backward", _layer(dw=lambda dZ, X, W: dZ @ X))
    assert "Hint: a matrix product A @ B" in message


# --------------------------------------------------------------------------- nbgrader and fnn-grade
FIXTURES = {  # student -> (solution cells replaced, fnn-grade score, nbgrader score)
    "sb_source": ({}, 14.0, 14.0),
    # a raising softmax breaks the two functions that call it as well
    "sb_no_keepdims": ({"softmax": _no_keepdims_softmax}, 6.5, 6.5),
    "sb_matmul_transposed": ({"linear_softmax_backward": _layer(dw=lambda dZ, X, W: dZ @ X)},
                             10.5, 10.5),
    "sb_missing_mean": ({"cross_entropy_grad": lambda y_hat, Y: -Y / y_hat}, 13.0, 13.0),
    "sb_one_sided": ({"numerical_gradient": _one_sided}, 12.0, 12.0),
    # fnn-grade scores each case, nbgrader each test cell (visible and hidden together):
    # the visible case that passes keeps its points only under fnn-grade
    "sb_no_max_shift": ({"softmax": _naive_softmax}, 11.5, 10.0),
    "sb_chained": ({"softmax_ce_grad": _chained_ce_grad}, 13.0, 12.0),
}
FIXTURE_CODE = {
    _no_keepdims_softmax: "def softmax(z):\n    e = np.exp(z - z.max(axis=1, keepdims=True))\n"
                          "    return e / e.sum(axis=1)\n",
    _naive_softmax: "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=1, keepdims=True)\n",
    _one_sided: "def numerical_gradient(f, x, h=1e-5):\n    grad = np.zeros_like(x)\n"
                "    for i in np.ndindex(x.shape):\n        step = x.copy()\n        step[i] += h\n"
                "        grad[i] = (f(step) - f(x)) / h\n    return grad\n",
    _chained_ce_grad: "def softmax_ce_grad(z, Y):\n    p = softmax(z)\n    g = -Y / p / z.shape[0]\n"
                      "    return p * (g - np.sum(g * p, axis=1, keepdims=True))\n",
}
SOURCE_EDITS = {
    "sb_matmul_transposed": ("linear_softmax_backward", '"dW": dZ.T @ X', '"dW": dZ @ X'),
    "sb_missing_mean": ("cross_entropy_grad", "return -Y / y_hat / y_hat.shape[0]",
                        "return -Y / y_hat"),
}


def _fixture_notebook(student, source):
    if student in SOURCE_EDITS:
        gid, old, new = SOURCE_EDITS[student]
        code = subs.solution_code(NAME)[gid]
        assert old in code
        return subs.with_solutions(source, {gid: code.replace(old, new)})
    code = {gid: FIXTURE_CODE[fn] for gid, fn in FIXTURES[student][0].items()}
    return subs.with_solutions(source, code)


def test_fixture_scores_match_the_in_process_checks_for_every_seed():
    """The expected fnn-grade scores follow from the cases, whatever seed the grader draws."""
    for student, (replaced, fnn_score, _) in FIXTURES.items():
        funcs = dict(SOL)
        funcs.update(replaced)
        if "softmax" in replaced:  # the solution's softmax_ce_grad calls the student's softmax
            funcs["softmax_ce_grad"] = lambda z, Y, sm=replaced["softmax"]: (sm(z) - Y) / z.shape[0]
            funcs["linear_softmax_backward"] = _layer_with(funcs["softmax_ce_grad"])
        totals = subs.scores_over_seeds(SPEC, funcs, range(40))
        assert sorted(totals) == pytest.approx([fnn_score]), student


def _layer_with(ce_grad):
    def backward(X, W, b, Y):
        dZ = ce_grad(X @ W.T + b, Y)
        return {"dW": dZ.T @ X, "db": dZ.sum(axis=0), "dX": dZ @ W}
    return backward


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course with the fixtures, graded by fnn-grade and by nbgrader autograde."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = subs.make_course_copy(tmp_path_factory.mktemp("sb_course"), [NAME])
        release = subs.release_notebook(root, NAME)
        source = subs.source_notebook(NAME)
        for student in FIXTURES:
            subs.write_submission(root, student, NAME, _fixture_notebook(student, source))
        subs.write_submission(root, "sb_release", NAME, release)
    return {"root": root, "release": release, **subs.grade_both_ways(root, NAME)}


@pytest.mark.slow
def test_release_has_no_solution_hidden_test_or_rubric(course):
    text = nbformat.writes(course["release"])
    for leak in ("### BEGIN SOLUTION", "HIDDEN TESTS", "hidden=True", "Rubric", "Model answer",
                 'np.diag(y) - np.outer(y, y)', "dZ.T @ X", "(softmax(z) - Y)"):
        assert leak not in text, leak
    for gid in SPEC.written:
        assert subs.find_cell(course["release"], gid).source.strip() == "YOUR ANSWER HERE"
    for function in SPEC.functions:
        assert "raise NotImplementedError" in subs.find_cell(course["release"], function).source


@pytest.mark.slow
def test_release_holds_no_case_code(course):
    assert not (course["root"] / "release" / NAME / "cases.py").exists()


@pytest.mark.slow
def test_fnn_grade_scores_every_fixture_exactly(course):
    got = {student: result["total"] for student, result in course["fnn"].items()}
    expected = {s: v[1] for s, v in FIXTURES.items()} | {"sb_release": 0.0}
    assert got == pytest.approx(expected), got


@pytest.mark.slow
def test_nbgrader_autograde_scores_every_fixture_exactly(course):
    max_score = SPEC.max_score + sum(SPEC.written.values())  # written answers: 0 until graded
    expected = {s: v[2] for s, v in FIXTURES.items()} | {"sb_release": 0.0}
    got = course["nbgrader"]
    assert {s: score for s, (score, _) in got.items()} == pytest.approx(expected), got
    assert {top for _, top in got.values()} == {max_score}


@pytest.mark.slow
def test_fnn_grade_feedback_names_the_mistake(course):
    records = {c["name"]: c for c in course["fnn"]["sb_chained"]["cases"]}
    hidden = records["softmax_ce_grad, random sizes and logits of +-1000"]
    assert hidden["status"] == "failed" and "never divide by a probability" in hidden["message"]
    missing = {c["name"]: c for c in course["fnn"]["sb_missing_mean"]["cases"]}
    assert "divide by B" in missing["cross_entropy_grad, B=6, K=4"]["message"]
