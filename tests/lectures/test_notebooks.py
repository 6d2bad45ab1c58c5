"""Every lecture notebook executes headless, and is committed clean (no outputs, no counts)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
LECTURES = sorted((REPO / "lectures").glob("*.ipynb"))


def test_all_lectures_are_present():
    names = [p.name for p in LECTURES]
    for prefix in ("01_", "02_", "03_", "04_"):
        assert any(n.startswith(prefix) for n in names), f"no lecture {prefix}*.ipynb in {names}"


def test_lecture_is_committed_without_outputs(lecture):
    nb = nbformat.read(lecture, as_version=4)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{lecture.name}: code cells {dirty} have outputs or execution counts"


def test_lecture_has_goals_and_self_checks(lecture):
    nb = nbformat.read(lecture, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"learning goals", text, re.IGNORECASE), f"{lecture.name}: no learning goals"
    solutions = re.findall(r"<details>\s*<summary>\s*Solution", text)
    assert len(solutions) >= 2, f"{lecture.name}: {len(solutions)} collapsed solutions, need >= 2"


@pytest.mark.slow
def test_lecture_executes_without_errors(lecture):
    nb = nbformat.read(lecture, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(REPO / "lectures")}})
    client.execute()
    problems = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr" \
                    and re.search(r"Warning|Traceback", output.text):
                problems.append(f"cell {index} wrote to stderr: {output.text[:300]}")
    assert not problems, f"{lecture.name}:\n" + "\n".join(problems)
