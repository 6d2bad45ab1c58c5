"""Every lecture notebook executes headless, and is committed clean (no outputs, no counts).

The execution is shared with the claims test (see ``lecture_run`` in conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
LECTURES = sorted((REPO / "lectures").glob("*.ipynb"))


def test_all_lectures_are_present():
    names = [p.name for p in LECTURES]
    for number in range(1, 10):
        prefix = f"{number:02d}_"
        assert any(n.startswith(prefix) for n in names), f"no lecture {prefix}*.ipynb in {names}"


def test_lecture_title_carries_its_file_number(lecture):
    nb = nbformat.read(lecture, as_version=4)
    number = int(lecture.name.split("_")[0])
    title = nb.cells[0].source.splitlines()[0] if nb.cells else ""
    assert re.match(rf"#\s+Lecture {number}\b", title), \
        f"{lecture.name}: the first cell should open with '# Lecture {number}', got {title!r}"


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
def test_lecture_executes_without_errors(lecture, lecture_run):
    run = lecture_run(lecture)
    assert not run["problems"], f"{lecture.name}:\n" + "\n".join(run["problems"])
