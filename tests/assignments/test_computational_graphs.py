"""The ``computational_graphs`` assignment: its reference, its random graphs, the feedback on
typical mistakes, and its scores under ``fnn-grade`` and under nbgrader's own tools."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.cases.compare import redact_values
from autograder.cases.tasks import get_spec, list_assignments
from autograder.checks import check, run_case
from autograder.sandbox.inside.wire import decode_value, encode_value
from tests import submissions as subs

NAME = "computational_graphs"
SPEC = get_spec(NAME)
CASES = sys.modules[f"fnn_assignment_{NAME}"]  # the module get_spec loaded
AUTO, WRITTEN = 17.0, 10.0
ENGINE_CELLS = ("test_evaluate_arithmetic", "test_evaluate_exp_log", "test_evaluate_activations",
                "test_evaluate_graphs")


def _source_code() -> dict[str, str]:
    return subs.solution_code(NAME)


def _namespace(code: dict[str, str]) -> dict:
    """The solution cells run in one namespace, as a kernel would."""
    namespace = {"math": math, "np": np}
    for text in code.values():
        exec(compile(text, f"<{NAME}>", "exec"), namespace)
    return namespace


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# Typical mistakes in the engine cell: (cell edits, failing test cells, words of the hint)
BFS_ORDER = '''def topological_order(root):
    seen, queue, order = {root}, [root], []
    while queue:
        node = queue.pop(0)
        order.append(node)
        for parent in node.parents:
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return order[::-1]


def backward(root):'''
NO_VISITED_SET = '''def topological_order(root):
    order = []

    def visit(node):
        for parent in node.parents:
            visit(parent)
        order.append(node)

    visit(root)
    return order


def backward(root):'''
_TOPO_START = "def topological_order(root):"
_BACKWARD_START = "def backward(root):"


def _swap_topological_order(text: str, replacement: str) -> str:
    start, end = text.index(_TOPO_START), text.index(_BACKWARD_START) + len(_BACKWARD_START)
    return text[:start] + replacement + text[end:]


MISTAKES = {
    "overwrite": (lambda t: _replace(t, "parent.grad += local * node.grad",
                                     "parent.grad = local * node.grad"),
                  {"test_evaluate_graphs"}, "accumulated (+=)"),
    "bfs": (lambda t: _swap_topological_order(t, BFS_ORDER), {"test_evaluate_graphs"},
            "breadth-first"),
    "no_visited_set": (lambda t: _swap_topological_order(t, NO_VISITED_SET),
                       {"test_evaluate_graphs"}, "more than once"),
    "not_reversed": (lambda t: _replace(t, "for node in reversed(order):", "for node in order:"),
                     set(ENGINE_CELLS), "REVERSE topological order"),
    "no_seed": (lambda t: _replace(t, "    root.grad = 1.0\n", ""), set(ENGINE_CELLS),
                "seed d(out)/d(out) = 1"),
    "mul_self": (lambda t: _replace(t, "(other.data, self.data), \"mul\"",
                                    "(self.data, other.data), \"mul\""),
                 {"test_evaluate_arithmetic", "test_evaluate_exp_log", "test_evaluate_graphs"},
                 "the OTHER input"),
    "pow_exponent_kept": (lambda t: _replace(t, "(exponent * self.data ** (exponent - 1),)",
                                             "(exponent * self.data ** exponent,)"),
                          {"test_evaluate_arithmetic", "test_evaluate_graphs"},
                          "lower the exponent by one"),
    "exp_input": (lambda t: _replace(t, "return Value(out, (self,), (out,), \"exp\")",
                                     "return Value(out, (self,), (self.data,), \"exp\")"),
                  {"test_evaluate_exp_log", "test_evaluate_graphs"}, "e^u itself"),
    "log_of_input": (lambda t: _replace(t, "(1.0 / self.data,), \"log\"",
                                        "(math.log(self.data),), \"log\""),
                     {"test_evaluate_exp_log", "test_evaluate_graphs"}, "1/u, not log u"),
    "relu_always_one": (lambda t: _replace(t, "(1.0 if positive else 0.0,), \"relu\"",
                                           "(1.0,), \"relu\""),
                        {"test_evaluate_activations", "test_evaluate_graphs"},
                        "no gradient passes where the input is negative"),
    "max_to_both": (lambda t: _replace(t, "(1.0, 0.0) if first else (0.0, 1.0), \"max\"",
                                       "(1.0, 1.0), \"max\""),
                    {"test_evaluate_activations", "test_evaluate_graphs"}, "LARGER input only"),
    "sigmoid_without_one_minus": (lambda t: _replace(t, "(s * (1.0 - s),), \"sigmoid\"",
                                                     "(s,), \"sigmoid\""),
                                  {"test_evaluate_activations", "test_evaluate_graphs"},
                                  "s (1 - s) with s = sigmoid(u), not s alone"),
    "tanh_of_input": (lambda t: _replace(t, "(1.0 - t * t,), \"tanh\"",
                                         "(1.0 - self.data ** 2,), \"tanh\""),
                      {"test_evaluate_activations", "test_evaluate_graphs"}, "not 1 - u^2"),
}

WRONG_BY_HAND = {
    "add_mul_by_hand": (lambda t: _replace(t, "df_dz = q * df_df", "df_dz = z * df_df"),
                        "the mul gate swaps"),
    "sigmoid_neuron_by_hand": (lambda t: _replace(t, "df_dz = f * (1.0 - f) * 1.0",
                                                  "df_dz = f * 1.0"),
                               "s (1 - s), not s"),
}


def _with_mistake(name: str) -> dict[str, str]:
    code = dict(_source_code())
    code["evaluate"] = MISTAKES[name][0](code["evaluate"])
    return code


# ----------------------------------------------------------------------------- the spec
def test_spec_points_and_share_of_reasoning():
    assert NAME in list_assignments()
    assert SPEC.max_score == AUTO
    assert sum(SPEC.written.values()) == WRITTEN
    assert WRITTEN / (AUTO + WRITTEN) >= 0.30
    assert SPEC.points_by_grade_id() == {
        "test_add_mul_by_hand": 2.0, "test_sigmoid_neuron_by_hand": 3.0,
        "test_evaluate_arithmetic": 2.0, "test_evaluate_exp_log": 2.0,
        "test_evaluate_activations": 2.0, "test_evaluate_graphs": 6.0}
    for gid in SPEC.points_by_grade_id():  # every test cell has visible and hidden cases
        assert {c.hidden for c in SPEC.cases_for(grade_id=gid)} == {False, True}


# ----------------------------------------------------------------------------- the reference
def _centred(nodes, values, leaf, h=1e-6):
    out = nodes[-1][0]
    up = CASES.forward_values(nodes, {**values, leaf: values[leaf] + h})[out]
    down = CASES.forward_values(nodes, {**values, leaf: values[leaf] - h})[out]
    return (up - down) / (2 * h)


@pytest.mark.parametrize("case", [c for c in SPEC.cases if c.function == "evaluate"],
                         ids=lambda c: c.name)
def test_reference_gradients_agree_with_centred_differences(case):
    """The reference's leaf gradients against forward passes alone (no backward code)."""
    for seed in range(5):
        inputs = case.make_inputs(np.random.default_rng(seed))
        vals, grads = case.reference(**inputs)
        for leaf in inputs["values"]:
            numeric = _centred(inputs["nodes"], inputs["values"], leaf)
            assert abs(grads[leaf] - numeric) <= 1e-6 * (1 + abs(numeric)), (seed, leaf)


def test_reference_on_deck_examples():
    vals, grads = CASES.reference_evaluate([["q", "add", "x", "y"], ["f", "mul", "q", "z"]],
                                           {"x": -2.0, "y": 5.0, "z": -4.0})
    assert vals["f"] == -12.0 and (grads["x"], grads["y"], grads["z"]) == (-4.0, -4.0, 3.0)
    neuron = CASES.ref_neuron(2.0, -1.0, -3.0, -2.0, -3.0)
    assert neuron["z"] == 1.0 and round(neuron["f"], 2) == 0.73
    assert round(neuron["df_dz"], 2) == 0.20 and round(neuron["df_dw0"], 2) == -0.20
    # x * x: the one node feeds both inputs of the mul gate
    _, grads = CASES.reference_evaluate([["f", "mul", "x", "x"]], {"x": 3.0})
    assert grads["x"] == 6.0
    assert CASES.backward([["f", "mul", "x", "x"]], {"x": 3.0, "f": 9.0},
                          mistake="overwrite")["x"] == 3.0


# ----------------------------------------------------------------------------- random graphs
@pytest.mark.parametrize("case", [c for c in SPEC.cases if c.function == "evaluate"],
                         ids=lambda c: c.name)
def test_random_graphs_are_plain_safe_data_with_every_op(case):
    graph_cell = case.grade_id == "test_evaluate_graphs"
    wanted = {"test_evaluate_arithmetic": {"add", "mul", "pow"},
              "test_evaluate_exp_log": {"exp", "log"},
              "test_evaluate_activations": {"relu", "max", "sigmoid", "tanh"},
              "test_evaluate_graphs": set(CASES.OPS)}[case.grade_id]
    shapes = set()
    for seed in range(25):
        inputs = case.make_inputs(np.random.default_rng(seed))
        nodes, values = inputs["nodes"], inputs["values"]
        assert decode_value(encode_value(inputs)) == inputs  # crosses the sandbox's channel
        assert all(type(part) in (str, float) for node in nodes for part in node)
        assert wanted <= {node[1] for node in nodes}
        assert 2 <= CASES.depth(nodes) <= 6
        shared = CASES.shared_nodes(nodes)
        assert bool(shared) == graph_cell
        if graph_cell:
            assert any(name not in values for name in shared)  # an inner node is shared
        vals = CASES.forward_values(nodes, values)
        for node in nodes:
            args = [vals[a] for a in node[2:2 + CASES.ARITY[node[1]]]]
            if node[1] == "log":
                assert args[0] >= 0.3
            if node[1] == "max":
                assert abs(args[0] - args[1]) > 0.1
            if node[1] == "relu":
                assert abs(args[0]) > 0.1
        assert all(abs(v) <= 20 for v in vals.values())
        shapes.add((len(nodes), CASES.depth(nodes)))
    assert len(shapes) > 3  # the graphs really vary


def test_same_seed_same_graph_and_seeds_differ():
    case = SPEC.cases_for(grade_id="test_evaluate_graphs", hidden=False)[0]
    first = case.make_inputs(np.random.default_rng(7))
    assert case.make_inputs(np.random.default_rng(7)) == first
    assert case.make_inputs(np.random.default_rng(8)) != first


# ----------------------------------------------------------------------------- the solutions
def test_source_solutions_pass_every_case_for_many_seeds():
    namespace = _namespace(_source_code())
    for case in SPEC.cases:
        for seed in range(12):
            credit, message, _ = run_case(case, namespace[case.function],
                                          np.random.default_rng(seed))
            assert credit == 1.0, f"{case.name} (seed {seed}): {message}"


def test_engine_details_of_the_source():
    ns = _namespace(_source_code())
    Value, backward = ns["Value"], ns["backward"]
    assert Value(-1000.0).sigmoid().data == pytest.approx(0.0, abs=1e-300)
    with pytest.raises(ValueError, match="log needs a positive input, got -1.0"):
        Value(-1.0).log()
    with pytest.raises(TypeError, match="exponent must be an int or float constant"):
        Value(2.0) ** Value(2.0)
    x = Value(3.0)
    f = x * x + x  # a node used three times
    backward(f)
    backward(f)  # a second backward pass starts from zero
    assert x.grad == 7.0
    order = ns["topological_order"](f)
    assert len(order) == len(set(order)) == 3 and order[-1] is f


# ----------------------------------------------------------------------------- feedback
SEEDS = range(16)
"""Seeds of the in-process sweeps: the grader draws its graphs from a secret seed, so a mistake
must fail exactly its cells on every draw, not on most."""


def _cell_outcomes(code: dict[str, str], seeds=SEEDS) -> dict[str, list[str]]:
    """{test cell: [messages of failed cases]} over visible and hidden cases and some seeds;
    each message is read as one line (the wrapped lines joined by single spaces)."""
    fn = _namespace(code)["evaluate"]
    failures: dict[str, list[str]] = {gid: [] for gid in ENGINE_CELLS}
    for gid in ENGINE_CELLS:
        for case in SPEC.cases_for(grade_id=gid):
            for seed in seeds:
                credit, message, _ = run_case(case, fn, np.random.default_rng(seed))
                if credit < 1.0:
                    failures[gid].append(" ".join(message.split()))
    return failures


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_engine_mistake_fails_exactly_its_cells_with_its_hint(mistake):
    _, failing_cells, words = MISTAKES[mistake]
    failures = _cell_outcomes(_with_mistake(mistake))
    cases_per_cell = {gid: len(SEEDS) * len(SPEC.cases_for(grade_id=gid)) for gid in ENGINE_CELLS}
    for gid in ENGINE_CELLS:
        if gid in failing_cells:  # every case of the cell fails, with the hint
            assert len(failures[gid]) == cases_per_cell[gid], gid
            assert all(words in message for message in failures[gid]), failures[gid][0]
        else:
            assert failures[gid] == [], (gid, failures[gid][:1])


@pytest.mark.parametrize("function", sorted(WRONG_BY_HAND))
def test_by_hand_mistakes_get_their_hint(function):
    edit, words = WRONG_BY_HAND[function]
    code = dict(_source_code())
    code[function] = edit(code[function])
    fn = _namespace(code)[function]
    for case in SPEC.cases_for(function=function):
        credit, message, _ = run_case(case, fn, np.random.default_rng(3))
        assert credit == 0.0 and words in message, message


def test_forward_mistake_names_the_node_and_op():
    code = dict(_source_code())
    code["evaluate"] = _replace(code["evaluate"], "t = math.tanh(self.data)",
                                "t = math.tanh(self.data) * 2")
    failures = _cell_outcomes(code, seeds=[0])
    message = failures["test_evaluate_activations"][0]
    assert "the forward pass goes wrong at n" in message and "= tanh(" in message
    assert "check the forward formula of tanh" in message
    assert failures["test_evaluate_arithmetic"] == []


def test_unrecognised_gradient_mistake_points_at_the_op():
    """A wrong local gradient that is not in the list of known mistakes: the message names the
    first node, walking back, whose gradient is wrong although its user's is right."""
    code = dict(_source_code())
    code["evaluate"] = _replace(code["evaluate"], "(1.0 / self.data,), \"log\"",
                                "(0.5 / self.data,), \"log\"")
    message = _cell_outcomes(code, seeds=[0])["test_evaluate_exp_log"][0]
    assert "has the right gradient: check the local gradient of log" in message


def test_wrong_structures_are_explained():
    case = SPEC.cases_for(grade_id="test_evaluate_arithmetic", hidden=False)[0]
    inputs = case.make_inputs(np.random.default_rng(0))
    expected = case.reference(**inputs)
    vals, grads = expected
    first_leaf = next(iter(inputs["values"]))
    for answer, words in [
        (None, "pair (node_values, gradients)"),
        ((vals,), "of length 1"),
        ((vals, [1.0]), "gradients should be a dict"),
        ((vals, {}), "gradients is missing the names"),
        ((vals, {**grads, first_leaf: "1.0"}), "should be a finite float, got str"),
        ((vals, {**grads, first_leaf: float("nan")}), "should be a finite float, got float nan"),
        (({**vals, first_leaf: vals[first_leaf] + 1}, grads), "a leaf keeps the number"),
        ((vals, {**grads, first_leaf: True}), "got bool"),
    ]:
        ok, message = case.compare(answer, expected, inputs)
        assert not ok and words in " ".join(message.split()), (words, message)
    assert case.compare(list(expected), expected, inputs) == (True, "")
    ok, message = case.compare((vals, {k: np.float64(v) for k, v in grads.items()}),
                               expected, inputs)
    assert ok, message


def test_hidden_messages_hide_the_reference_numbers():
    code = _with_mistake("tanh_of_input")
    fn = _namespace(code)["evaluate"]
    with pytest.raises(AssertionError) as info:
        check(NAME, "evaluate", fn, hidden=True, grade_id="test_evaluate_activations", seed=5)
    text = str(info.value)
    assert "not 1 - u^2" in text
    assert redact_values(text) == text  # nothing left to redact: no "expected <number>"


def test_untouched_release_says_not_implemented():
    def evaluate(nodes, values):
        raise NotImplementedError("Write this function")

    with pytest.raises(AssertionError, match="evaluate is not implemented yet"):
        check(NAME, "evaluate", evaluate, grade_id="test_evaluate_graphs")


# ----------------------------------------------------------------------------- the notebook
def test_notebook_layout():
    nb = subs.source_notebook(NAME)
    text = nbformat.writes(nb)
    for gid in SPEC.written:
        cell = subs.find_cell(nb, gid)
        assert cell.cell_type == "markdown" and "**Rubric (2 points).**" in cell.source
    evaluate_cell = subs.find_cell(nb, "evaluate").source
    for method in ("def __mul__", "def __pow__", "def exp", "def log", "def relu",
                   "def maximum", "def sigmoid", "def tanh", "def topological_order",
                   "def backward"):
        part = evaluate_cell.split(method, 1)[1].split("\n    def ", 1)[0].split("\ndef ", 1)[0]
        assert "### BEGIN SOLUTION" in part, method  # the student writes every one of these
    assert evaluate_cell.count("### BEGIN SOLUTION") == 10
    assert "<details><summary>Hint 1" in text
    # the course library's engine is not what the student is asked to reuse
    assert "from course" not in text and "import course" not in text


@pytest.mark.slow
def test_source_notebook_executes_with_every_check_passing(tmp_path):
    """The instructor's notebook, run headless: every visible and hidden check passes."""
    from nbclient import NotebookClient

    nb = subs.source_notebook(NAME)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source[:200]
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            printed = "".join(o.get("text", "") for o in cell.outputs)
            assert "hidden test" in printed and "passed" in printed, printed


# ----------------------------------------------------------------------------- both graders
def _fixtures(release, source) -> dict[str, tuple[float, nbformat.NotebookNode]]:
    """student -> (expected autograded score, notebook)."""
    code = _source_code()
    by_hand = dict(code)
    by_hand["sigmoid_neuron_by_hand"] = WRONG_BY_HAND["sigmoid_neuron_by_hand"][0](
        code["sigmoid_neuron_by_hand"])
    return {
        "cg_source": (AUTO, source),
        "cg_untouched": (0.0, release),
        "cg_correct": (AUTO, subs.with_solutions(release, code)),
        "cg_overwrite": (AUTO - 6, subs.with_solutions(release, _with_mistake("overwrite"))),
        "cg_bfs": (AUTO - 6, subs.with_solutions(release, _with_mistake("bfs"))),
        "cg_tanh": (AUTO - 8, subs.with_solutions(release, _with_mistake("tanh_of_input"))),
        "cg_no_seed": (AUTO - 12, subs.with_solutions(release, _with_mistake("no_seed"))),
        "cg_sigmoid_by_hand": (AUTO - 3, subs.with_solutions(release, by_hand)),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = subs.make_course_copy(tmp_path_factory.mktemp("cg_course"), [NAME])
    release = subs.release_notebook(root, NAME)
    fixtures = _fixtures(release, subs.source_notebook(NAME))
    for student, (_, nb) in fixtures.items():
        subs.write_submission(root, student, NAME, nb)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNN_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    batch = subprocess.run([sys.executable, "-m", "autograder", "--course-root", str(root),
                            "grade", NAME, "--jobs", "2"], capture_output=True, text=True,
                           timeout=600, env=env, cwd=root)
    assert batch.returncode == 0, batch.stderr[-3000:]
    results = {p.stem: json.loads(p.read_text()) for p in (root / "grading" / NAME).glob("*.json")}
    subs.run_nbgrader(root, "autograde", NAME)
    subs.run_nbgrader(root, "export", "--to", "grades.csv")
    import csv
    with open(root / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)
                if row["assignment"] == NAME}
    return {"root": root, "release": release, "fixtures": fixtures, "results": results,
            "rows": rows}


@pytest.mark.slow
def test_release_holds_no_case_code(graded):
    """cases.py (the hidden cases and the reference) stays out of the student's folder."""
    files = sorted(p.name for p in (graded["root"] / "release" / NAME).iterdir())
    assert files == [f"{NAME}.ipynb"]


@pytest.mark.slow
def test_release_has_no_solutions_hidden_tests_or_rubrics(graded):
    release = graded["release"]
    text = nbformat.writes(release)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "hidden=True",
                   "Rubric", "Model answer"):
        assert marker not in text, marker
    source = subs.source_notebook(NAME)
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        released = subs.find_cell(release, meta["grade_id"])
        if cell.cell_type == "markdown":
            assert released.source == "YOUR ANSWER HERE"
            continue
        parts = cell.source.split("### BEGIN SOLUTION")
        given = parts[0] + "".join(p.split("### END SOLUTION", 1)[1] for p in parts[1:])
        given_lines = {ln.strip() for ln in given.splitlines()}
        for body in parts[1:]:
            for line in filter(None, (ln.strip() for ln in body.split("### END SOLUTION")[0]
                                      .splitlines())):
                if line not in given_lines:  # e.g. "else:" is also in the given code
                    assert line not in released.source, (meta["grade_id"], line)
        assert "raise NotImplementedError(\"Write this function" in released.source
        assert f"def {meta['grade_id']}(" in released.source
    # the given parts of the engine stay: the add gate, the data format reader
    engine = subs.find_cell(release, "evaluate").source
    assert "def __add__(self, other):" in engine and "backward(built[nodes[-1][0]])" in engine
    assert engine.count("raise NotImplementedError(") == 10


@pytest.mark.slow
def test_batch_grader_scores(graded):
    for student, (expected, _) in graded["fixtures"].items():
        result = graded["results"][student]
        assert result["max_total"] == AUTO
        assert result["total"] == pytest.approx(expected, abs=1e-9), (
            student, [(c["name"], c["message"][:200]) for c in result["cases"]
                      if c["points"] < c["max_points"]])


@pytest.mark.slow
def test_nbgrader_autograde_scores_agree(graded):
    for student, (expected, _) in graded["fixtures"].items():
        row = graded["rows"][student]
        assert float(row["max_score"]) == AUTO + WRITTEN
        assert float(row["score"]) == pytest.approx(expected, abs=1e-3), student


@pytest.mark.slow
def test_batch_feedback_carries_the_hints(graded):
    messages = {student: " ".join(c["message"] for c in graded["results"][student]["cases"])
                for student in graded["fixtures"]}
    assert "accumulated (+=)" in messages["cg_overwrite"]
    assert "breadth-first" in messages["cg_bfs"]
    assert "not 1 - u^2" in messages["cg_tanh"]
    assert "seed d(out)/d(out) = 1" in messages["cg_no_seed"]
    assert "s (1 - s), not s" in messages["cg_sigmoid_by_hand"]
