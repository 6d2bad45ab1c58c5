"""nbgrader_config.py: the settings the workflow relies on, and its two small preprocessors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from tests import submissions as subs


@pytest.fixture(scope="module")
def config():
    cfg = Config()
    namespace = {"get_config": lambda: cfg}
    code = (subs.REPO / "nbgrader_config.py").read_text()
    exec(compile(code, "nbgrader_config.py", "exec"), namespace)
    return cfg, namespace


def test_course_settings(config):
    cfg, _ = config
    assert cfg.CourseDirectory.source_directory == "assignments"
    assert cfg.ExecutePreprocessor.timeout == 60 and cfg.Execute.timeout == 60
    assert "NotImplementedError(" in cfg.ClearSolutions.code_stub["python"]
    assert cfg.OverwriteCells.add_missing_cells is True
    names = [p.__name__ for p in cfg.GenerateFeedback.preprocessors]
    assert names.index("ClearHiddenTests") < names.index("ReduceGradeCellErrors")
    sanitize = [p.__name__ for p in cfg.Autograde.sanitize_preprocessors]
    assert sanitize.index("DeduplicateIds") + 1 == sanitize.index("DropEmptyNbgraderMetadata")


def _cell(kind, grade, solution, outputs=(), nbgrader=True):
    cell = nbformat.v4.new_code_cell("check(...)") if kind == "code" else nbformat.v4.new_markdown_cell("x")
    if nbgrader:
        cell.metadata["nbgrader"] = {"grade": grade, "solution": solution, "grade_id": "g"}
    if kind == "code":
        cell.outputs = list(outputs)
    return cell


def test_reduce_grade_cell_errors_keeps_only_name_and_message(config):
    _, namespace = config
    error = nbformat.v4.new_output("error", ename="AssertionError", evalue="relu: 1 of 1 test failed",
                                   traceback=["Traceback...", 'check("a", "relu", relu, hidden=True)'])
    test_cell = _cell("code", True, False, [error])
    student_cell = _cell("code", False, True, [nbformat.v4.new_output(
        "error", ename="ValueError", evalue="v", traceback=["frame"])])
    pre = namespace["ReduceGradeCellErrors"]()
    pre.preprocess_cell(test_cell, {}, 0)
    pre.preprocess_cell(student_cell, {}, 1)
    assert test_cell.outputs[0].traceback == ["AssertionError: relu: 1 of 1 test failed"]
    assert student_cell.outputs[0].traceback == ["frame"]  # the student's own cell is untouched


def test_drop_empty_nbgrader_metadata(config):
    _, namespace = config
    emptied = _cell("code", False, True)
    emptied.metadata["nbgrader"] = {}
    kept = _cell("code", False, True)
    pre = namespace["DropEmptyNbgraderMetadata"]()
    pre.preprocess_cell(emptied, {}, 0)
    pre.preprocess_cell(kept, {}, 1)
    assert "nbgrader" not in emptied.metadata
    assert kept.metadata["nbgrader"]["grade_id"] == "g"


def test_lab_and_server_extensions_are_enabled():
    env = dict(os.environ)
    jupyter = str(Path(sys.executable).with_name("jupyter"))
    lab = subprocess.run([jupyter, "labextension", "list"], capture_output=True, text=True, env=env)
    server = subprocess.run([jupyter, "server", "extension", "list"], capture_output=True, text=True,
                            env=env)
    lab_out = lab.stdout + lab.stderr
    server_out = server.stdout + server.stderr
    assert "@jupyter/nbgrader" in lab_out and "enabled" in lab_out
    for ext in ("formgrader", "validate_assignment", "assignment_list"):
        line = next(ln for ln in server_out.splitlines() if f"nbgrader.server_extensions.{ext} " in ln)
        assert "enabled" in line
