"""Claims that cannot drift: every number a lecture's prose states from a computation is
registered in its markdown cell's metadata and checked against the executed notebook.

Metadata of a markdown cell: ``"claims": {"<text in the cell source>": "<expression>"}``.
After all cells ran, ``str(<expression>)`` evaluated in the lecture's namespace must equal the
text, and the text must occur in the cell. Lectures without claims pass.
"""

from __future__ import annotations

import nbformat
import pytest


@pytest.mark.slow
def test_lecture_claims_match_the_executed_notebook(lecture, lecture_run, notebook_checks):
    run = lecture_run(lecture)
    failures = notebook_checks["claim_failures"](run)
    assert not failures, f"{lecture.name}: {len(failures)} of {len(run['claims'])} claims " \
                         "do not hold:\n" + "\n".join(failures)


def _tiny_notebook(tmp_path, markdown, claims):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import numpy as np\n"
                                              "acc = np.mean([1, 1, 0, 1])\nn = 2 + 2"))
    cell = nbformat.v4.new_markdown_cell(markdown)
    cell.metadata["claims"] = claims
    nb.cells.append(cell)
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_claims_that_hold_pass(tmp_path, notebook_checks):
    path = _tiny_notebook(tmp_path, "The model reaches **75.0 %** with 4 units.",
                          {"75.0": "f'{acc * 100:.1f}'", "4": "n"})
    run = notebook_checks["execute"](path)
    assert {text: value for _, text, _, value in run["claims"]} == {"75.0": "75.0", "4": "4"}
    assert notebook_checks["claim_failures"](run) == []
    assert not run["problems"]


@pytest.mark.slow
def test_claims_that_drifted_fail_with_cell_text_and_value(tmp_path, notebook_checks):
    path = _tiny_notebook(tmp_path, "The model reaches **80.0 %** with 4 units.",
                          {"80.0": "f'{acc * 100:.1f}'",   # prose says 80.0, code gives 75.0
                           "5 units": "f'{n} units'",      # text not in the cell
                           "4": "undefined_name"})         # expression that raises
    run = notebook_checks["execute"](path)
    failures = notebook_checks["claim_failures"](run)
    assert len(failures) == 3, failures
    by_text = {f.split("claim ")[1].split(":")[0].split(" does")[0]: f for f in failures}
    assert set(by_text) == {"'80.0'", "'5 units'", "'4'"}, failures
    assert by_text["'80.0'"].startswith("cell 1: claim '80.0'") and "'75.0'" in by_text["'80.0'"]
    assert "does not occur" in by_text["'5 units'"]
    assert "NameError" in by_text["'4'"]


def test_malformed_claims_metadata_is_reported(tmp_path, notebook_checks):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = 1")
    code.metadata["claims"] = {"1": "x"}  # claims belong on markdown cells
    bad = nbformat.v4.new_markdown_cell("x is 1")
    bad.metadata["claims"] = ["1", "x"]
    nb.cells = [code, bad]
    claims = notebook_checks["lecture_claims"](nb)
    assert [(index, expression) for index, _, expression in claims] == [(0, None), (1, None)]
    run = {"nb": nb, "claims": [(*claim, "None") for claim in claims]}
    failures = notebook_checks["claim_failures"](run)
    assert len(failures) == 2 and all("malformed" in f for f in failures)
