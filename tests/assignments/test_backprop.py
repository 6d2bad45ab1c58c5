"""The ``backprop`` assignment: its cases, its reference solution and typical mistakes.

Most tests grade the source notebook's solution code (and copies of it with one mistake built
in) by running the cases of ``assignments/backprop/cases.py`` the way the graders do: inputs from
the case's rng and the student's variant, private inputs kept from the student's function, the
calls of ``backprop`` and ``sgd_step`` counted while ``train_classifier`` runs, the timing case
measured against the baseline with ``checks.time_against_baseline``. The helper :func:`grade`
does this in-process, so these tests do not depend on how the grader and the in-notebook checks
implement it.

The tests at the end run the notebook (with the per-student plumbing of ``autograder.checks``:
``variant`` and ``check(..., student_id=...)``), the batch grader and nbgrader.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from autograder import checks
from autograder.cases import testfuncs
from autograder.cases.compare import changed_inputs
from autograder.cases.spec import public_inputs
from autograder.cases.tasks import get_spec
from tests import submissions as subs

NAME = "backprop"
SPEC = get_spec(NAME)
CASES_MODULE = sys.modules[f"fnn_assignment_{NAME}"]
SOLUTIONS = subs.solution_code(NAME)
STUDENT = "alice"
FULL = SPEC.points_by_grade_id()


# ----------------------------------------------------------------------------- helpers
def namespace(overrides: dict[str, str] | None = None) -> dict:
    """The solution cells (with ``overrides`` by grade_id) run in one fresh namespace, as the
    batch grader runs a submission's solution cells."""
    ns: dict = {"__name__": "__submission__"}
    exec("import numpy as np", ns)
    for gid in SPEC.functions:
        code = (overrides or {}).get(gid, SOLUTIONS[gid])
        exec(compile(code, f"<{gid}>", "exec"), ns)
    return ns


def _call_counted(ns: dict, function: str, names: tuple[str, ...], inputs: dict):
    """Call ``ns[function](**inputs)`` while counting the calls of ``ns[name]`` for each name."""
    counts = {name: 0 for name in names}
    originals = {name: ns.get(name) for name in names}

    def counter(name, original):
        def wrapped(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)
        return wrapped

    for name, original in originals.items():
        if callable(original):
            ns[name] = counter(name, original)
    try:
        output = ns[function](**inputs)
    finally:
        ns.update(originals)
    return {"output": output, "calls": counts}


def grade(ns: dict, function: str, *, seed: int = 7, student_id: str = STUDENT,
          hidden: bool | None = None, timed: bool = True) -> tuple[dict[str, float], list[str]]:
    """Points per test cell and the messages of ``function``'s cases (visible and hidden;
    ``timed=False`` leaves the timed cases out)."""
    variant = SPEC.variant_of(student_id)
    points: dict[str, float] = {}
    messages: list[str] = []
    for index, case in enumerate(SPEC.cases_for(function=function, hidden=hidden)):
        if case.kind == "timing" and not timed:
            continue
        rng = np.random.default_rng([seed, index])
        pristine = case.inputs_for(rng, variant)
        expected = case.reference(**copy.deepcopy(pristine))
        public = public_inputs(pristine)
        call_inputs = copy.deepcopy(public)
        if case.kind == "timing":
            ok, output, student_s, baseline_s, err = checks.time_against_baseline(
                ns[function], getattr(testfuncs, case.baseline), public, [])
            actual = {"student_s": student_s, "baseline_s": baseline_s, "output": output}
            credit, message = (case.compare(actual, expected, pristine) if ok else (0.0, err))
        else:
            with threadpool_limits(limits=1):  # as in the grader's sandbox; spares a busy machine
                if case.count_calls:
                    actual = _call_counted(ns, function, case.count_calls, call_inputs)
                else:
                    actual = ns[function](**call_inputs)
            changed = changed_inputs(public, call_inputs)
            credit, message = ((0.0, f"changed {changed}") if changed
                               else case.compare(actual, expected, pristine))
        points[case.grade_id] = points.get(case.grade_id, 0.0) + case.score(credit)
        if message:
            messages.append(f"{case.name}: {message}")
    return points, messages


def replace(gid: str, old: str, new: str) -> dict[str, str]:
    """The solution of ``gid`` with ``old`` replaced by ``new`` (which must occur)."""
    code = SOLUTIONS[gid]
    assert old in code, (gid, old)
    return {gid: code.replace(old, new)}


# ----------------------------------------------------------------------------- the spec
def test_spec_points_and_written_share():
    assert SPEC.functions == ("network_loss", "backprop_example", "backprop", "numerical_grads",
                              "sgd_step", "train_classifier")
    assert FULL == {"test_network_loss": 2.0, "test_backprop_example": 5.0, "test_backprop": 4.0,
                    "test_backprop_vectorized": 2.0, "test_numerical_grads": 3.0,
                    "test_sgd_step": 1.0, "test_train_classifier": 5.0}
    written = sum(SPEC.written.values())
    assert (SPEC.max_score, written) == (22.0, 12.0)
    assert written / (SPEC.max_score + written) >= 0.30


def test_notebook_cells_match_the_spec():
    nb = subs.source_notebook(NAME)
    tests, written, solutions, rubrics = {}, {}, [], []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            tests[meta["grade_id"]] = meta["points"]
        elif meta.get("grade") and meta.get("solution"):
            written[meta["grade_id"]] = meta["points"]
            assert "### BEGIN SOLUTION" in cell.source and "Rubric" not in cell.source
        elif meta.get("solution"):
            solutions.append(meta["grade_id"])
        elif meta.get("task"):  # a question whose mark scheme holds the model answer and rubric
            assert meta["points"] == 0 and meta["locked"]
            scheme = cell.source.split("### BEGIN MARK SCHEME")[1].split("### END MARK SCHEME")[0]
            assert "**Model answer" in scheme and "**Rubric" in scheme
            rubrics.append(meta["grade_id"])
    assert tests == FULL
    assert written == SPEC.written
    assert sorted(rubrics) == sorted(f"rubric_{gid}" for gid in SPEC.written)
    assert tuple(solutions) == SPEC.functions


def test_variants_are_deterministic_and_differ_between_students():
    seen = set()
    for sid in ("alice", "bob", "carol", "dave", "erin", "frank", "instructor-demo", "s1234567"):
        v = SPEC.variant_of(sid)
        assert v == SPEC.variant_of(sid) == SPEC.variant_of(f"  {sid} ")
        assert len(v["hidden_sizes"]) == len(v["activations"]) in (2, 3)
        assert v["hidden_sizes"] == sorted(v["hidden_sizes"], reverse=True)
        assert set(v["activations"]) <= {"relu", "sigmoid", "tanh"}
        assert v["activations"].count("sigmoid") <= 1
        seen.add(json.dumps(v))
    assert len(seen) >= 6
    with pytest.raises(ValueError, match="student_id"):
        SPEC.variant_of("  ")


@pytest.mark.parametrize("loss", CASES_MODULE.LOSSES)
def test_reference_baseline_and_plain_numpy_agree_with_centred_differences(loss):
    rng = np.random.default_rng(3)
    inputs = CASES_MODULE._network_inputs(loss, ["relu", "sigmoid", "tanh"])(rng)
    ref = CASES_MODULE.reference_grads(**inputs)
    base = testfuncs.baseline_backprop_layers(**inputs)
    plain = CASES_MODULE.mistaken_grads(**inputs)
    numeric = CASES_MODULE.reference_numerical_grads(**inputs, eps=1e-6)
    for key in inputs["params"]:
        assert ref[key].shape == inputs["params"][key].shape
        np.testing.assert_allclose(base[key], ref[key], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(plain[key], ref[key], rtol=1e-12, atol=1e-14)
        assert CASES_MODULE._rel_error(numeric[key], ref[key]) < 1e-6, key


def test_every_mistake_changes_the_gradients_it_is_about():
    rng = np.random.default_rng(4)
    for loss in CASES_MODULE.LOSSES:
        inputs = CASES_MODULE._network_inputs(loss, ["tanh", "sigmoid"])(rng)
        ref = CASES_MODULE.reference_grads(**inputs)
        for mistake in CASES_MODULE.MISTAKES:
            wrong = CASES_MODULE.mistaken_grads(**inputs, mistake=mistake)
            differs = any(not np.allclose(wrong[k], ref[k]) for k in ref)
            unchanged = (mistake == "mse_without_2" and loss != "identity_mse") or (
                mistake == "output_derivative_twice" and loss == "identity_mse")
            assert differs != unchanged, (loss, mistake)


def test_large_logit_cases_break_a_naive_loss():
    """The hidden network_loss cases really have logits in the hundreds: a softmax without the
    max shift overflows, and a sigmoid-BCE through log(sigmoid) gives inf."""
    for case in SPEC.cases_for(function="network_loss", hidden=True):
        inputs = case.inputs_for(np.random.default_rng(0))
        z = CASES_MODULE.logits(inputs["X"], inputs["params"], inputs["activations"])
        assert np.abs(z).max() > 800
        with np.errstate(all="ignore"):
            if inputs["loss"] == "softmax_ce":
                naive = -np.mean(np.sum(inputs["Y"] * np.log(np.exp(z) / np.exp(z).sum(1, keepdims=True)), 1))
            else:
                p = 1.0 / (1.0 + np.exp(-z))
                naive = -np.mean(np.sum(inputs["Y"] * np.log(p) + (1 - inputs["Y"]) * np.log(1 - p), 1))
        assert not np.isfinite(naive)
        assert np.isfinite(case.reference(**inputs))


def test_private_inputs_hold_the_held_out_images_of_a_per_student_split():
    case, = SPEC.cases_for(function="train_classifier")
    assert case.per_student and case.kind == "accuracy"
    assert case.count_calls == ("backprop", "sgd_step")
    variant = SPEC.variant_of(STUDENT)
    one = case.inputs_for(np.random.default_rng(1), variant)
    two = case.inputs_for(np.random.default_rng(2), variant)
    public = public_inputs(one)
    assert sorted(public) == ["X_train", "activations", "hidden_sizes", "y_train"]
    assert public["hidden_sizes"] == variant["hidden_sizes"]
    assert one["X_train"].shape == (3750, 784) and one["_X_test"].shape == (1250, 784)
    assert sorted(np.bincount(one["_y_test"])) == [125] * 10
    assert not np.array_equal(one["X_train"], two["X_train"])  # another split and pixel order
    assert not np.array_equal(one["y_train"], two["y_train"])
    with pytest.raises(ValueError, match="variant"):
        case.inputs_for(np.random.default_rng(1))


# ----------------------------------------------------------------------------- the solution
@pytest.mark.parametrize("function", ["network_loss", "backprop_example", "backprop",
                                      "numerical_grads", "sgd_step"])
@pytest.mark.parametrize("seed", [7, 8])
def test_the_source_solution_earns_every_point(function, seed):
    points, messages = grade(namespace(), function, seed=seed)
    assert points == {gid: FULL[gid] for gid in points}, messages
    assert not any("Hint" in m for m in messages)


@pytest.fixture(scope="module")
def trained():
    """The source's train_classifier, graded once (a few seconds)."""
    return grade(namespace(), "train_classifier", seed=11)


def test_the_source_solution_trains_to_full_marks(trained):
    points, messages = trained
    assert points == {"test_train_classifier": 5.0}, messages
    assert "held-out accuracy" in messages[0]


def test_the_model_answer_trains_past_full_marks_with_room_on_a_hard_draw():
    """The draw (variant and split) where the model answer with a constant learning rate ended at
    85.2 %: a grade must not depend on where the last mini-batch steps land. With the rate shrinking
    to a tenth, the weakest of 240 draws was 90.5 % (``bench/training_margin.py``)."""
    variant = SPEC.variant_of("student83")
    assert variant == {"hidden_sizes": [64, 48], "activations": ["sigmoid", "tanh"]}
    split = CASES_MODULE.mnist_variant(np.random.default_rng(1083))
    with threadpool_limits(limits=1):
        params = namespace()["train_classifier"](split["X_train"], split["y_train"],
                                                 variant["hidden_sizes"], variant["activations"])
    logits = CASES_MODULE.logits(split["X_test"], params, variant["activations"])
    accuracy = np.mean(logits.argmax(axis=1) == split["y_test"])
    assert accuracy >= CASES_MODULE.FULL_MARKS_ACCURACY + 0.02, accuracy


def test_per_example_backprop_matches_the_batch_mean():
    ns = namespace()
    rng = np.random.default_rng(5)
    inputs = CASES_MODULE._network_inputs("sigmoid_bce", ["relu", "tanh"], (6, 5, 4, 3, 1))(rng)
    batch = ns["backprop"](**inputs)
    for key, value in batch.items():
        per = [ns["backprop_example"](inputs["X"][b], inputs["Y"][b], inputs["params"],
                                      inputs["activations"], inputs["loss"])[key] for b in range(6)]
        np.testing.assert_allclose(np.mean(per, axis=0), value, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- typical mistakes
MISTAKES = {
    # name: (function, overrides, expected points of its test cells, words of the hint)
    "transposed_outer": ("backprop_example", replace(
        "backprop_example", "np.outer(delta, a[l - 1])", "np.outer(a[l - 1], delta)"),
        {"test_backprop_example": 0.0}, "transposed?"),
    "bce_times_sigmoid_prime": ("backprop_example", replace(
        "backprop_example", "    if loss == \"identity_mse\":\n        delta = 2.0 * delta",
        "    if loss == \"identity_mse\":\n        delta = 2.0 * delta\n"
        "    if loss == \"sigmoid_bce\":\n        delta = delta * a[L] * (1 - a[L])"),
        {"test_backprop_example": 5.0 - 1.0 - 2.0 / 3.0}, "do not multiply it by the output's"),
    "example_no_activation_derivative": ("backprop_example", replace(
        "backprop_example", "hidden_derivative(activations[l - 2], z[l - 1]) * ", ""),
        {"test_backprop_example": 0.0}, "g'(z)"),
    "derivative_at_a": ("backprop", replace(
        "backprop", "hidden_derivative(activations[l - 2], Z[l - 1])",
        "hidden_derivative(activations[l - 2], A[l - 1])"),
        # relu'(relu(z)) = relu'(z): the one visible case with ReLU layers alone still passes
        {"test_backprop": 1.0, "test_backprop_vectorized": 0.0}, "not at a = g(z)"),
    "no_mean": ("backprop", replace("backprop", "dZ = (A[L] - Y) / B", "dZ = A[L] - Y"),
                {"test_backprop": 0.0, "test_backprop_vectorized": 0.0}, "MEAN over the batch"),
    "mean_twice": ("backprop", replace("backprop", "dZ = (A[L] - Y) / B", "dZ = (A[L] - Y) / B / B"),
                   {"test_backprop": 0.0, "test_backprop_vectorized": 0.0}, "divided by B twice"),
    "mse_without_2": ("backprop", replace(
        "backprop", "    if loss == \"identity_mse\":\n        dZ = 2.0 * dZ", ""),
        {"test_backprop": 3.0, "test_backprop_vectorized": 2.0}, "2 (y_hat - y)"),
    "wrong_sign": ("backprop", replace("backprop", "dZ = (A[L] - Y) / B", "dZ = (Y - A[L]) / B"),
                   {"test_backprop": 0.0, "test_backprop_vectorized": 0.0}, "not y - y_hat"),
    "naive_softmax_log": ("network_loss", replace(
        "network_loss", "shifted = z - z.max(axis=1, keepdims=True)", "shifted = z"),
        {"test_network_loss": 1.75}, "compute it stably"),
    "naive_bce_log": ("network_loss", replace(
        "network_loss", "per_entry = np.maximum(z, 0.0) - z * Y + np.log1p(np.exp(-np.abs(z)))",
        "p = 1 / (1 + np.exp(-z))\n        per_entry = -Y * np.log(p) - (1 - Y) * np.log(1 - p)"),
        {"test_network_loss": 1.75}, "compute it stably"),
    "loss_summed_over_batch": ("network_loss", replace(
        "network_loss", "per_entry.sum(axis=1).mean()", "per_entry.sum()"),
        {"test_network_loss": 0.0}, "MEAN over the batch"),
    "one_sided_difference": ("numerical_grads", replace(
        "numerical_grads", "grad[idx] = (plus - minus) / (2.0 * eps)",
        "grad[idx] = (plus - network_loss(X, Y, params, activations, loss)) / eps"),
        {"test_numerical_grads": 0.0}, "one-sided difference"),
    "difference_over_eps": ("numerical_grads", replace(
        "numerical_grads", "(plus - minus) / (2.0 * eps)", "(plus - minus) / eps"),
        {"test_numerical_grads": 0.0}, "divides by 2 eps"),
    "not_restored": ("numerical_grads", replace(
        "numerical_grads", "            value[idx] = old\n", ""),
        {"test_numerical_grads": 0.0}, "put every entry back"),
    "numerical_from_backprop": ("numerical_grads", {"numerical_grads": (
        "def numerical_grads(X, Y, params, activations, loss, eps):\n"
        "    return backprop(X, Y, params, activations, loss)\n")},
        {"test_numerical_grads": 0.0}, "from the loss alone"),
    "sgd_plus": ("sgd_step", replace("sgd_step", "params[key] - lr", "params[key] + lr"),
                 {"test_sgd_step": 0.0}, "AGAINST the gradient"),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the naive losses overflow, as they should
@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_typical_mistake_costs_exactly_its_points_and_gets_its_hint(name):
    """The same points whatever the seed: the grader draws its inputs from a secret seed, so a
    mistake that some draws cannot reveal would make scores (and this test) a matter of luck."""
    function, overrides, expected, words = MISTAKES[name]
    points, messages = grade(namespace(overrides), function)
    assert points == pytest.approx(expected), messages
    assert any(words in " ".join(m.split()) for m in messages), messages
    untimed = {gid: p for gid, p in expected.items() if gid != "test_backprop_vectorized"}
    for seed in (8, 9, 10, 11):  # the timed case's inputs are the student's, not the seed's
        points, messages = grade(namespace(overrides), function, seed=seed, timed=False)
        assert points == pytest.approx(untimed), (seed, messages)
        assert any(words in " ".join(m.split()) for m in messages), messages


TRANSPOSED_ACCUMULATION = """
def backprop(X, Y, params, activations, loss):
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for i in range(X.shape[0]):
        grads["W1"] += np.outer(X[i], np.ones(params["W1"].shape[0]))  # (n_0, n_1): transposed
    return grads
"""


def test_a_transposed_gradient_accumulated_in_place_is_explained():
    """``grads[k] += g`` with g transposed raises a three-shape broadcast error from NumPy."""
    fn = namespace({"backprop": TRANSPOSED_ACCUMULATION})["backprop"]
    message = " ".join(subs.check_failure(NAME, "backprop", fn).split())
    assert "two of the arrays are each other's transpose" in message, message
    assert "dW like W" in message


def test_hints_never_name_a_mistake_that_does_not_explain_the_answer():
    """Wrong gradients of another kind (random noise) get the plain message, no hint."""
    case = SPEC.cases_for(function="backprop")[0]
    inputs = case.inputs_for(np.random.default_rng(0))
    expected = case.reference(**inputs)
    noisy = {k: v + 0.01 for k, v in expected.items()}
    ok, message = case.compare(noisy, expected, inputs)
    assert not ok and "differs from the reference" in message and "Hint" not in message


LOOP = '''
def backprop(X, Y, params, activations, loss):
    """One example at a time, then the mean."""
    grads = {key: np.zeros_like(value) for key, value in params.items()}
    for b in range(X.shape[0]):
        one = backprop_example(X[b], Y[b], params, activations, loss)
        for key in grads:
            grads[key] += one[key] / X.shape[0]
    return grads
'''


def test_a_loop_over_examples_is_right_but_too_slow():
    points, messages = grade(namespace({"backprop": LOOP}), "backprop")
    assert points == {"test_backprop": 4.0, "test_backprop_vectorized": 0.0}, messages
    assert any("Python loop over examples" in m for m in messages)


NO_OWN_FUNCTIONS = '''
def train_classifier(X_train, y_train, hidden_sizes, activations):
    rng = np.random.default_rng(0)
    widths = [X_train.shape[1]] + list(hidden_sizes) + [10]
    params = {}
    for l in range(1, len(widths)):
        params[f"W{l}"] = rng.standard_normal((widths[l], widths[l - 1])) * 0.01
        params[f"b{l}"] = np.zeros(widths[l])
    return params
'''


def test_training_without_the_students_own_functions_earns_nothing():
    points, messages = grade(namespace({"train_classifier": NO_OWN_FUNCTIONS}), "train_classifier")
    assert points == {"test_train_classifier": 0.0}
    assert "with your own backprop and sgd_step" in messages[0]


def test_weights_trained_on_the_ordinary_mnist_score_at_chance():
    """Anti-paste: a network trained well on the public, unpermuted data (as a student could
    paste in) is worthless on the student's own variant of the data."""
    ns = namespace()
    variant = SPEC.variant_of(STUDENT)
    X, y = CASES_MODULE.data.load_mnist_subset()
    with threadpool_limits(limits=1):
        pasted = ns["train_classifier"](X[:3750], y[:3750], variant["hidden_sizes"],
                                        variant["activations"])
    case, = SPEC.cases_for(function="train_classifier")
    own = case.inputs_for(np.random.default_rng(3), variant)
    credit, message = case.compare({"output": pasted, "calls": {"backprop": 1, "sgd_step": 1}},
                                   case.reference(**own), own)
    accuracy = float(message.split("accuracy ")[1].split("%")[0]) / 100
    assert credit == 0.0 and accuracy < 0.25, message


def test_another_variants_architecture_is_refused_with_its_shapes(trained):
    case, = SPEC.cases_for(function="train_classifier")
    mine, other = SPEC.variant_of("alice"), SPEC.variant_of("bob")
    assert mine["hidden_sizes"] != other["hidden_sizes"]
    own = case.inputs_for(np.random.default_rng(3), mine)
    rng = np.random.default_rng(0)
    widths = [784] + other["hidden_sizes"] + [10]
    params = {}
    for l in range(1, len(widths)):
        params[f"W{l}"] = rng.standard_normal((widths[l], widths[l - 1]))
        params[f"b{l}"] = np.zeros(widths[l])
    credit, message = case.compare({"output": params, "calls": {"backprop": 5, "sgd_step": 5}},
                                   case.reference(**own), own)
    assert credit == 0.0 and "hidden widths" in message


# ----------------------------------------------------------------------------- notebook, nbgrader
def test_the_release_has_no_solutions_rubrics_hidden_tests_or_cases(tmp_path):
    root = subs.make_course_copy(tmp_path / "course", [NAME])
    released = subs.release_notebook(root, NAME)
    text = json.dumps(released)
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "hidden=True", "MARK SCHEME", "Rubric",
                   "Model answer", "model answer", "np.outer(delta", "dZ.T @ A"):
        assert marker not in text, marker
    for gid in SPEC.written:
        assert subs.find_cell(released, gid).source == "YOUR ANSWER HERE"
    for gid in SPEC.functions:
        cell = subs.find_cell(released, gid)
        assert f"def {gid}(" in cell.source and "raise NotImplementedError" in cell.source
    shipped = sorted(p.name for p in (root / "release" / NAME).iterdir())
    assert shipped == [f"{NAME}.ipynb"], shipped


def _execute(nb, cwd: Path, timeout: int = 300):
    from nbclient import NotebookClient
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def _errors(nb) -> dict[str, str]:
    out = {}
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                out[subs.grade_id(cell) or f"cell {index}"] = f"{output['ename']}: {output['evalue']}"
    return out


def test_the_source_notebook_runs_with_every_visible_and_hidden_check_passing():
    nb = _execute(subs.source_notebook(NAME), subs.REPO)
    assert _errors(nb) == {}


def test_the_untouched_release_fails_every_test_cell(tmp_path):
    root = subs.make_course_copy(tmp_path / "course", [NAME])
    nb = _execute(subs.release_notebook(root, NAME), root)
    errors = _errors(nb)
    assert sorted(k for k in errors if k.startswith("test_")) == sorted(FULL)
    assert all("not implemented yet" in errors[gid] for gid in FULL), errors


def test_fnn_grade_and_stock_nbgrader_agree_on_the_source_and_typical_mistakes(tmp_path):
    """Points per test cell under the batch grader and under ``nbgrader autograde``.

    One difference is inherent and checked as such: a test cell whose visible check fails is worth
    0 under nbgrader (the cell raises), while the batch grader credits each passing case of it
    (``bp_mse_without_2``: 3 of the 4 points of test_backprop).
    """
    root = subs.make_course_copy(tmp_path / "course", [NAME])
    released = subs.release_notebook(root, NAME)
    students = {"bp_correct": {}, "bp_transposed": MISTAKES["transposed_outer"][1],
                "bp_loop": {"backprop": LOOP}, "bp_mse_without_2": MISTAKES["mse_without_2"][1]}
    both = {"bp_correct": FULL, "bp_transposed": {**FULL, "test_backprop_example": 0.0},
            "bp_loop": {**FULL, "test_backprop_vectorized": 0.0}}
    for student, overrides in students.items():
        subs.write_submission(root, student, NAME,
                              subs.with_solutions(released, {**SOLUTIONS, **overrides}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNN_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    done = subprocess.run([sys.executable, "-m", "autograder", "--course-root", str(root),
                           "grade", NAME], capture_output=True, text=True, timeout=900, env=env,
                          cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    batch = {}
    for path in (root / "grading" / NAME).glob("*.json"):
        cells: dict[str, float] = {}
        for case in json.loads(path.read_text())["cases"]:
            cells[case["grade_id"]] = cells.get(case["grade_id"], 0.0) + case["points"]
        batch[path.stem] = cells
    for student, wanted in both.items():
        assert batch[student] == pytest.approx(wanted), (student, batch[student])
    assert batch["bp_mse_without_2"] == pytest.approx({**FULL, "test_backprop": 3.0})

    stock_root = subs.make_course_copy(tmp_path / "stock", [NAME])
    subs.release_notebook(stock_root, NAME)
    for student, overrides in students.items():
        subs.write_submission(stock_root, student, NAME,
                              subs.with_solutions(released, {**SOLUTIONS, **overrides}))
    subs.run_nbgrader(stock_root, "autograde", NAME, timeout=1800)
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{stock_root / 'gradebook.db'}") as gb:
        for student, wanted in {**both, "bp_mse_without_2": {**FULL, "test_backprop": 0.0}}.items():
            grades = gb.find_submission_notebook(NAME, NAME, student).grades
            stock = {g.name: float(g.score) for g in grades if g.name in FULL}
            assert stock == pytest.approx(wanted), (student, stock)
