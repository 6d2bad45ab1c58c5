"""One submission never stops or starves the class.

A batch of forward_pass submissions is graded in this process: honest students
next to a 3 KB expression nested too deeply for the parser, a 7.6 MB cell, a > 1 MiB cell that
is fine, and notebooks that are valid JSON with the wrong types everywhere. Every one gets the
exact expected score and the honest ones full marks. Faults of the grader itself (simulated)
become that one student's ``grader_error`` result.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap

import pytest

from autograder.engine import analysis, notebook_io, policy, runner
from tests import submissions as subs
from tests.grader.fixtures import CASES, FULL, RUINED

PREDICT = "def predict(y_hat, threshold=0.5):\n    return (y_hat >= threshold).astype(np.int64)\n"
DEEP = "x = " + "-" * 3000 + "1\n"  # 3 KB: RecursionError in ast.parse
HUGE = "a;" * 3_800_000  # 7.6 MB: ~3.9 GB to parse


def _nb_json(nb) -> dict:
    return json.loads(json.dumps(nb))


def _wrong_types(src) -> dict:
    """Valid JSON, wrong types almost everywhere; only the predict cell is unusable."""
    nb = _nb_json(src)
    cells = nb["cells"]
    for cell in cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid == "predict":
            cell["source"] = 42
        elif gid == "test_relu":
            cell["metadata"]["nbgrader"] = "not a dict"
        elif gid is None and cell["cell_type"] == "markdown":
            cell["source"] = {"a": [1, 2]}
        elif gid is None:
            cell["metadata"] = ["a", "list"]
            cell["outputs"] = "a string"
    cells += [7, None, "cell", [1, 2], {"cell_type": ["code"], "source": 3.5, "metadata": 1},
              {"cell_type": "code", "source": ["ok", 3], "metadata": {"nbgrader": []}},
              {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": ["x"]}}}]
    nb["metadata"] = [1, 2, 3]
    return nb


def _every_metadata_a_list(src) -> dict:
    nb = _nb_json(src)
    for cell in nb["cells"]:
        cell["metadata"] = []
    return nb


def _class(src) -> dict[str, tuple[object, float]]:
    """``{student: (notebook, expected total)}``."""
    padded = PREDICT + "# padding to pass 1 MiB of code\n" * 40_000  # ~1.3 MB, all comments
    return {
        "honest_1": (src, FULL),
        "deep_expression_in_predict": (subs.with_solutions(src, {"predict": PREDICT + DEEP}),
                                       RUINED),
        "deep_expression_in_added_cell": (subs.append_code_cell(src, DEEP), 0.0),
        "huge_predict_cell": (subs.with_solutions(src, {"predict": PREDICT + HUGE}), 0.0),
        "reference_import_in_added_cell": (subs.append_code_cell(
            src, "from course.activations import relu as reference_relu\n"), 0.0),
        "over_one_mib_of_code": (subs.with_solutions(src, {"predict": padded}), FULL),
        "cells_a_dict": (json.dumps({"nbformat": 4, "cells": {"a": 1}, "metadata": []}), 0.0),
        "source_a_number_and_more": (json.dumps(_wrong_types(src)), RUINED),
        "metadata_lists": (json.dumps(_every_metadata_a_list(src)), 0.0),
        "nbformat_a_list": (json.dumps(dict(_nb_json(src), nbformat=[4])), 0.0),
        "honest_2": (src, FULL),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = subs.make_course_copy(tmp_path_factory.mktemp("robust"), ["forward_pass"])
    src = subs.source_notebook("forward_pass", root)
    expected = {}
    for student, (nb, total) in _class(src).items():
        subs.write_submission(root, student, "forward_pass", nb)
        expected[student] = total
    results = runner.grade_all(root, "forward_pass", sorted(expected), {"jobs": 2},
                               progress=False, force=True)
    return root, expected, {r["student"]: r for r in results}


def test_every_student_gets_the_exact_score(graded):
    _, expected, results = graded
    assert sorted(results) == sorted(expected)
    got = {s: results[s]["total"] for s in expected}
    assert got == expected
    for student in ("honest_1", "honest_2", "over_one_mib_of_code"):
        assert all(c["passed"] for c in results[student]["cases"]), student
        assert not results[student]["errors"]


def test_a_deep_expression_is_not_graded_and_says_why(graded):
    results = graded[2]
    predict = [c for c in results["deep_expression_in_predict"]["cases"]
               if c["function"] == "predict"]
    assert len(predict) == 2
    assert all(c["status"] == "policy" and "nested too deeply" in c["message"] for c in predict)
    flags = results["deep_expression_in_added_cell"]["flags"]
    assert [f["rule"] for f in flags if f["action"] == "zero"] == [policy.UNREADABLE]
    assert all(c["status"] == "policy" for c in results["deep_expression_in_added_cell"]["cases"])


def test_policy_flags_in_an_added_cell_apply_to_every_function(graded):
    result = graded[2]["reference_import_in_added_cell"]
    zero = [f for f in result["flags"] if f["action"] == "zero"]
    assert {(f["rule"], f["function"]) for f in zero} == {("reference_library", None)}
    assert all(f["detail"].startswith("added cell ") for f in zero)
    assert {c["status"] for c in result["cases"]} == {"policy"}


def test_too_much_code_is_refused_with_the_limit(graded):
    result = graded[2]["huge_predict_cell"]
    assert {c["status"] for c in result["cases"]} == {"invalid_notebook"}
    assert f"more than the {policy.MAX_CODE_BYTES}" in result["cases"][0]["message"]


def test_wrong_types_cost_only_what_they_break(graded):
    results = graded[2]
    odd = results["source_a_number_and_more"]
    bad = [c for c in odd["cases"] if not c["passed"]]
    assert {c["function"] for c in bad} == {"predict"}
    assert all(c["status"] == "bad_cell" and "unreadable source" in c["message"] for c in bad)
    for student in ("cells_a_dict", "nbformat_a_list"):
        assert {c["status"] for c in results[student]["cases"]} == {"invalid_notebook"}
    assert {c["status"] for c in results["metadata_lists"]["cases"]} == {"bad_cell"}


def test_the_parent_stays_small_on_a_huge_cell(tmp_path):
    """Analysing 1.5 MB of costly code (under the limit) happens in a limited child process:
    the grader's own peak memory stays far below the ~1.4 GB the parse takes."""
    root = subs.make_course_copy(tmp_path, ["forward_pass"])
    src = subs.source_notebook("forward_pass", root)
    path = subs.write_submission(root, "big", "forward_pass",
                                 subs.with_solutions(src, {"predict": PREDICT + "a;" * 750_000}))
    script = textwrap.dedent(f"""
        import json, resource, sys
        sys.path.insert(0, {str(subs.REPO)!r})
        from autograder.engine import analysis, notebook_io
        layout = notebook_io.load_layout({str(root)!r}, "forward_pass")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
        read = analysis.analyse({str(path)!r}, layout, {str(root)!r}, 100 << 20)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
        child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss >> 10
        print(json.dumps([read["fatal"], len(read["program"]), before, peak, child]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=True)
    fatal, entries, before, peak, child = json.loads(out.stdout.strip().splitlines()[-1])
    assert fatal is None and entries > 0
    assert child > 400, f"the child analysed it with only {child} MB?"
    assert peak - before < 100, f"the grader's process grew from {before} to {peak} MB"


def test_a_failing_analysis_child_is_that_students_fatal(monkeypatch, tmp_path):
    monkeypatch.setattr(analysis, "CHILD_MEMORY_BYTES", 16 << 20)  # too little to even start
    root = subs.make_course_copy(tmp_path, ["forward_pass"])
    src = subs.source_notebook("forward_pass", root)
    path = subs.write_submission(root, "big", "forward_pass",
                                 subs.with_solutions(src, {"predict": PREDICT + "a;" * 750_000}))
    layout = notebook_io.load_layout(root, "forward_pass")
    read = analysis.analyse(path, layout, root, 100 << 20)
    assert "too large or too complex" in read["fatal"]


# --------------------------------------------------------------------------- faults of the grader
def test_a_fault_while_grading_one_student_is_that_students_grader_error(monkeypatch, tmp_path):
    root = subs.make_course_copy(tmp_path, ["forward_pass"])
    src = subs.source_notebook("forward_pass", root)
    for student in ("alice", "unlucky", "zoe"):
        subs.write_submission(root, student, "forward_pass", src)
    real = analysis.analyse

    def sometimes_fails(path, *args, **kwargs):
        if "unlucky" in str(path):
            raise RuntimeError("simulated fault")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(analysis, "analyse", sometimes_fails)
    results = {r["student"]: r for r in runner.grade_all(
        root, "forward_pass", ["alice", "unlucky", "zoe"], {"jobs": 1}, progress=False)}
    assert results["alice"]["total"] == results["zoe"]["total"] == FULL
    bad = results["unlucky"]
    assert bad["total"] == 0.0 and len(bad["cases"]) == CASES
    assert {c["status"] for c in bad["cases"]} == {"grader_error"}
    assert len(bad["errors"]) == 1 and "RuntimeError: simulated fault" in bad["errors"][0]
    assert (root / "grading" / "forward_pass" / "unlucky.json").exists()
    # the next run grades the failed student again, and only that one
    monkeypatch.setattr(analysis, "analyse", real)
    seen = []
    again = runner.grade_all(root, "forward_pass", ["alice", "unlucky", "zoe"], {"jobs": 1},
                             progress=False, on_result=lambda r: seen.append(r["student"]))
    assert seen == ["unlucky"]
    assert {r["student"]: r["total"] for r in again} == {"alice": FULL, "unlucky": FULL,
                                                         "zoe": FULL}


def test_a_raise_in_the_worker_or_the_writer_never_stops_the_batch(monkeypatch, tmp_path):
    root = subs.make_course_copy(tmp_path, ["forward_pass"])
    src = subs.source_notebook("forward_pass", root)
    for student in ("alice", "bob", "carol"):
        subs.write_submission(root, student, "forward_pass", src)
    real = runner.grade_submission

    def worker(**kwargs):
        if kwargs["student"] == "bob":
            raise MemoryError("simulated")
        return real(**kwargs)

    monkeypatch.setattr(runner, "grade_submission", worker)
    recorded = []

    def on_result(result):
        if result["student"] == "alice":
            raise ValueError("the gradebook is locked")
        recorded.append(result["student"])

    with pytest.warns(RuntimeWarning, match="alice"):
        results = runner.grade_all(root, "forward_pass", ["alice", "bob", "carol"],
                                   {"jobs": 1}, progress=False, on_result=on_result)
    totals = {r["student"]: r["total"] for r in results}
    assert totals == {"alice": FULL, "bob": 0.0, "carol": FULL}
    assert sorted(recorded) == ["bob", "carol"]
    bob = next(r for r in results if r["student"] == "bob")
    assert {c["status"] for c in bob["cases"]} == {"grader_error"}
    assert "MemoryError" in bob["errors"][0]


def test_an_exception_anywhere_in_grade_submission_is_caught(monkeypatch, tmp_path):
    root = subs.make_course_copy(tmp_path, ["forward_pass"])
    src = subs.source_notebook("forward_pass", root)
    path = subs.write_submission(root, "x", "forward_pass", src)
    for target, name in [(notebook_io, "load_layout"), (policy, "flags_of"),
                         (runner, "_judge"), (runner.sandbox, "run_cases")]:
        with monkeypatch.context() as patch:
            patch.setattr(target, name, lambda *a, **k: 1 / 0)
            result = runner.grade_submission(root, "forward_pass", "x", path, {"jobs": 1})
        assert result["total"] == 0.0 and result["fingerprint"] is None, name
        assert {c["status"] for c in result["cases"]} == {"grader_error"}, name
        assert "ZeroDivisionError" in result["errors"][0], name
    unknown = runner.grade_submission(root, "no_such_assignment", "x", path)
    assert unknown["cases"] == [] and unknown["errors"] and unknown["total"] == 0.0
    json.dumps(copy.deepcopy(unknown))  # still a JSON-able result


def test_the_fingerprint_streams_the_file_and_matches_the_bytes_version(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(b"{}" * (3 << 20))  # 6 MB, read in 1 MB chunks
    options = {"timeout": 4.0, "policy": {"reference_library": "zero"}}
    assert (runner.fingerprint_file(path, b"k" * 32, options)
            == runner.fingerprint(path.read_bytes(), b"k" * 32, options))
    assert (runner.fingerprint_file(tmp_path / "missing", b"k" * 32, options)
            == runner.fingerprint_file(None, b"k" * 32, options)
            == runner.fingerprint(None, b"k" * 32, options))


@pytest.mark.parametrize("limit", [1000, 100_000])
def test_the_depth_rule_does_not_depend_on_the_recursion_limit(limit):
    """A library may raise the recursion limit (hypothesis does): the scan's verdict stays."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        verdicts = _verdicts()
    finally:
        sys.setrecursionlimit(previous)
    assert verdicts == [[(policy.UNREADABLE, "is nested too deeply (or too large) to be checked")],
                        [("reference_library", "uses course")]]


def _verdicts():
    hidden = "import course\n" + DEEP
    shallow = "import course\nx = " + "-" * (policy.MAX_NESTING // 2) + "1\n"
    return [policy.scan(hidden), policy.scan(shallow)]
