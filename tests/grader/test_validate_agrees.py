"""What a notebook does under ``nbgrader validate`` it scores the same under ``fnn-grade``.

Each fixture is a forward_pass notebook (full marks) that a student could really submit: IPython
magics and shell lines, a helper in a code cell of their own, a name imported by a given cell,
a module the sandbox lacks, SciPy, 30 MB of outputs, a ``relu`` that changes its input in
place. The class is graded by the batch grader, and each notebook is also run cell by cell in
an IPython shell as ``nbgrader validate`` runs it (test cells included); for every function,
its test cell passes there exactly when the grader gives it full points (or, for a module the
grader lacks, the check warns before the student submits).
"""
from __future__ import annotations

import contextlib
import io
import json
import sys

import numpy as np
import pytest

from autograder.cases.compare import changed_inputs, in_place_message
from autograder.cases.tasks import get_spec
from autograder.engine import policy, runner
from autograder.sandbox import launcher
from tests import submissions as subs

SPEC = get_spec("forward_pass")
FULL = SPEC.max_score
POINTS = {f: sum(c.points for c in SPEC.cases if c.function == f) for f in SPEC.functions}
PREDICT = "def predict(y_hat, threshold=0.5):\n    return (y_hat >= threshold).astype(np.int64)\n"
RELU = "def relu(z):\n    return np.maximum(z, 0.0)\n"
SIGMOID = ("def sigmoid(z):\n    e = np.exp(-np.abs(z))\n"
           "    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))\n")
"""A sigmoid accurate in the tails (sigmoid_derivative, which calls it, is judged there)."""
GIVEN_IMPORT = "import math\nprint('pi is', math.pi)\n"  # a given cell that is not only imports
TOO_MUCH = "# a comment line of 32 bytes ....\n" * (policy.MAX_CODE_BYTES // 32 + 1)


def _with_given_import(src):
    """The source with an unlocked given cell (an import and a demo line) before predict."""
    nb = subs.with_solutions(src, {})
    index = next(i for i, c in enumerate(nb.cells) if subs.grade_id(c) == "predict")
    import nbformat

    nb.cells.insert(index, nbformat.v4.new_code_cell(GIVEN_IMPORT))
    return nb


def _insert_after(nb, gid: str, code: str):
    """Copy of ``nb`` with a student's own code cell right after the cell ``gid``."""
    import nbformat

    new = subs.with_solutions(nb, {})
    index = next(i for i, c in enumerate(new.cells) if subs.grade_id(c) == gid)
    new.cells.insert(index + 1, nbformat.v4.new_code_cell(code))
    return new


def _with_outputs(nb, megabytes: int):
    new = subs.with_solutions(nb, {})
    import nbformat

    cell = next(c for c in new.cells if c.cell_type == "code" and not subs.grade_id(c))
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text="0123456789abcdef\n" * (megabytes << 16))]
    return new


def _class(src) -> dict[str, tuple[object, float]]:
    """``{student: (notebook, expected total)}``."""
    return {
        "honest": (src, FULL),
        "magics": (subs.with_solutions(src, {
            "relu": RELU + "%timeit relu(np.ones(3))\n",
            "sigmoid": "!echo hello\n" + SIGMOID,
            "predict": "%%time\n" + PREDICT}), FULL),
        "helper_in_added_cell": (_insert_after(subs.with_solutions(src, {
            "predict": "def predict(y_hat, threshold=0.5):\n    return labels(y_hat, threshold)\n"}),
            "predict", "def labels(p, t):\n    return (p >= t).astype(np.int64)\n"), FULL),
        "uses_given_import": (subs.with_solutions(src, {
            "predict": "def predict(y_hat, threshold=0.5):\n"
                       "    return (y_hat >= threshold * math.cos(0.0)).astype(np.int64)\n"}),
            FULL),
        "unavailable_module": (subs.with_solutions(src, {
            "predict": "from tqdm import tqdm\n\ndef predict(y_hat, threshold=0.5):\n"
                       "    return np.array([int(p >= threshold) for p in tqdm(y_hat)])\n"}),
            FULL - POINTS["predict"]),
        "scipy_special": (subs.with_solutions(src, {
            "sigmoid": "from scipy.special import expit\n\ndef sigmoid(z):\n    return expit(z)\n"}),
            FULL),
        "outputs_30mb": (_with_outputs(src, 30), FULL),
        # the in-place relu also overwrites the z1, z2 that forward_cache keeps
        "relu_in_place": (subs.with_solutions(src, {
            "relu": "def relu(z):\n    np.maximum(z, 0.0, out=z)\n    return z\n"}),
            FULL - POINTS["relu"] - POINTS["forward_cache"]),
        "too_much_code": (subs.with_solutions(src, {"predict": PREDICT + TOO_MUCH}), 0.0),
        "own_check_cell": (_insert_after(src, "relu", (  # imports as the test cells do
            "from autograder.checks import check\ncheck('forward_pass', 'relu', relu)\n")),
            FULL),
    }


def validate(nb) -> tuple[dict[str, bool], str]:
    """Run every code cell of ``nb`` in a fresh IPython shell, in order, as ``nbgrader
    validate`` does; returns ``({test grade_id: passed}, everything printed)``."""
    from IPython.core.interactiveshell import InteractiveShell

    saved_main = sys.modules.get("__main__")
    shell = InteractiveShell.instance()
    shell.reset(new_session=True)
    passed, out = {}, io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                result = shell.run_cell(cell.source, store_history=True)
                gid = subs.grade_id(cell)
                if gid and gid.startswith("test_"):
                    passed[gid] = result.success
    finally:
        # the shell made its own module __main__; later tests need pytest's back (the start-up
        # of Dask's workers reads __main__.__spec__)
        sys.modules["__main__"] = saved_main
    return passed, out.getvalue()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course whose forward_pass source has a given cell that imports ``math``."""
    root = subs.make_course_copy(tmp_path_factory.mktemp("agree"), ["forward_pass"])
    src = _with_given_import(subs.source_notebook("forward_pass", root))
    import nbformat

    nbformat.write(src, subs.source_path("forward_pass", root))
    notebooks, expected = {}, {}
    for student, (nb, total) in _class(src).items():
        subs.write_submission(root, student, "forward_pass", nb)
        notebooks[student], expected[student] = nb, total
    results = runner.grade_all(root, "forward_pass", sorted(expected), {"jobs": 2},
                               progress=False, force=True)
    return {"expected": expected, "notebooks": notebooks,
            "results": {r["student"]: r for r in results}}


def _function_points(result) -> dict[str, float]:
    points = dict.fromkeys(SPEC.functions, 0.0)
    for case in result["cases"]:
        points[case["function"]] += case["points"]
    return points


def test_the_grader_gives_the_exact_scores(course):
    got = {s: r["total"] for s, r in course["results"].items()}
    assert got == course["expected"]
    for result in course["results"].values():
        assert not result["errors"]
    for student in ("honest", "magics", "helper_in_added_cell", "uses_given_import",
                    "outputs_30mb", "own_check_cell"):  # nothing to flag in these
        assert not [f for f in course["results"][student]["flags"]
                    if f["rule"] != "notebook_changed"], student


@pytest.mark.parametrize("student", ["honest", "magics", "helper_in_added_cell",
                                     "uses_given_import", "scipy_special", "outputs_30mb",
                                     "relu_in_place", "own_check_cell"])
def test_validate_and_grade_agree_function_by_function(course, student):
    passed, _ = validate(course["notebooks"][student])
    points = _function_points(course["results"][student])
    for function in SPEC.functions:
        full = points[function] == POINTS[function]
        assert passed[f"test_{function}"] == full, (function, points[function])


def test_a_module_the_grader_lacks_is_flagged_and_warned_before_submitting(course):
    result = course["results"]["unavailable_module"]
    flags = [f for f in result["flags"] if f["rule"] == policy.UNAVAILABLE]
    assert [(f["function"], f["detail"], f["action"]) for f in flags] == [
        ("predict", "module tqdm is not available to the grader", "report")]
    predict = [c for c in result["cases"] if c["function"] == "predict"]
    assert all(c["status"] == "failed" or "tqdm" in c["message"] for c in predict)
    passed, printed = validate(course["notebooks"]["unavailable_module"])
    assert passed["test_predict"]  # it runs in the student's kernel ...
    assert "warning: predict uses tqdm, but module tqdm is not available to the grader" in printed


def test_scipy_is_available_in_the_sandbox_and_only_reported(course):
    assert "scipy" in launcher.SANDBOX_PACKAGES
    flags = course["results"]["scipy_special"]["flags"]
    assert {(f["rule"], f["action"]) for f in flags} == {("scipy_special", "report")}
    _, printed = validate(course["notebooks"]["scipy_special"])
    assert "not available to the grader" not in printed


def test_a_change_in_place_fails_both_ways_with_the_same_message(course):
    relu = [c for c in course["results"]["relu_in_place"]["cases"] if c["function"] == "relu"]
    assert relu and all(c["status"] == "failed" for c in relu)
    assert {c["message"] for c in relu} == {in_place_message(["z"])}
    _, printed = validate(course["notebooks"]["relu_in_place"])
    assert in_place_message(["z"]) in printed


def test_outputs_do_not_count_but_code_does(course):
    nb = json.dumps(course["notebooks"]["outputs_30mb"]).encode()
    assert len(nb) > 30 << 20
    assert course["results"]["outputs_30mb"]["total"] == FULL
    over = course["results"]["too_much_code"]
    assert {c["status"] for c in over["cases"]} == {"invalid_notebook"}
    assert f"more than the {policy.MAX_CODE_BYTES} the grader accepts" in over["cases"][0]["message"]
    passed, printed = validate(course["notebooks"]["too_much_code"])
    assert all(passed.values())  # it runs in the student's kernel, and the check says why not
    assert f"the grader accepts at most {policy.MAX_CODE_BYTES}" in printed
    # ... which it does not say about the same notebook without the padding
    assert "the grader accepts" not in validate(course["notebooks"]["honest"])[1]


# --------------------------------------------------------------------------- units of the rules
def test_changed_inputs_is_one_rule_for_arrays_and_dicts():
    z = np.arange(6.0).reshape(2, 3)
    params = {"W": np.ones((2, 2)), "b": np.zeros(2)}
    before = {"z": z, "params": params, "lr": 0.1, "n": 3}
    assert changed_inputs(before, {"z": z.copy(), "params": {k: v.copy() for k, v in
                                                             params.items()}}) == []
    after = {"z": z * 2, "params": {"W": params["W"], "b": params["b"] + 1}}
    assert changed_inputs(before, after) == ["z", "params['b']"]
    assert changed_inputs(before, None) == ["z", "params"]
    assert changed_inputs({"z": z}, {"z": z.astype(np.float32)}) == ["z"]
    assert changed_inputs({"z": z}, {"z": z.reshape(3, 2)}) == ["z"]
    assert changed_inputs({"z": np.array([np.nan])}, {"z": np.array([np.nan])}) == []


def test_the_grader_judges_inputs_after_with_that_rule():
    case = SPEC.cases_for(function="relu")[0]
    inputs = case.make_inputs(np.random.default_rng(0))
    expected = case.reference(**inputs)
    ok = {"status": "ok", "message": "", "value": expected, "inputs_after": dict(inputs)}
    assert runner._judge(case, ok, inputs, expected, [])["passed"]
    bad = dict(ok, inputs_after={"z": np.maximum(inputs["z"], 0.0)})
    record = runner._judge(case, bad, inputs, expected, [])
    assert record["status"] == "failed" and record["message"] == in_place_message(["z"])


@pytest.mark.parametrize("code, expected", [
    ("%timeit f(x)\n", "get_ipython().run_line_magic('timeit', 'f(x)')\n"),
    ("!ls -l\n", "get_ipython().system('ls -l')\n"),
    ("x = 1\n", "x = 1\n"),
    ("def f(:\n", "def f(:\n"),
])
def test_magics_are_transformed_as_a_kernel_would(code, expected):
    assert policy.transform_magics(code) == expected


def test_the_check_names_modules_the_grader_lacks():
    from autograder.checks import grader_unavailable_modules
    import tqdm

    namespace = {"np": np, "tqdm": tqdm.tqdm}
    exec("def helper(x):\n    import sklearn.linear_model\n    return x\n"
         "def uses(x):\n    return helper([v for v in tqdm(x)])\n"
         "def fine(x):\n    import math, scipy.special\n    return np.sqrt(x)\n", namespace)
    assert grader_unavailable_modules(namespace["uses"]) == ["sklearn", "tqdm"]
    assert grader_unavailable_modules(namespace["fine"]) == []
