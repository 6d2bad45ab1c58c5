"""Fixtures of the batch-grader tests: a course copy and one graded batch of fixture notebooks.

Every fixture submission is the instructor's source notebook (full marks) with one solution
cell replaced, or the notebook file damaged. The whole class is graded once, through the real
command line (``python -m autograder grade``), and the tests read the results.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests import submissions as subs
from tests.grader import fixtures

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def run_cli(course_root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m autograder --course-root ROOT <args>``; the result has stdout/stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNN_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run([sys.executable, "-m", "autograder", "--course-root", str(course_root),
                           *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=course_root)


def load(course_root: Path, assignment: str) -> dict[str, dict]:
    """Stored results by student."""
    folder = course_root / "grading" / assignment
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


@pytest.fixture(scope="session")
def course_root(tmp_path_factory) -> Path:
    """A fresh course root with every assignment and a listening loopback socket."""
    root = tmp_path_factory.mktemp("course")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        subs.make_course_copy(root)
    return root


@pytest.fixture(scope="session")
def listener():
    """A TCP socket listening on 127.0.0.1 (the sandbox must not reach it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture(scope="session")
def graded_forward(course_root, listener):
    """Grade every forward_pass fixture submission in one CLI run (2 sandboxes in parallel).

    The 4 s limit per test bounds the infinite loop's cost and leaves room for the 100 MB
    print (~0.2 s) on a busy machine."""
    expected = fixtures.write_forward_pass_class(course_root, listener.getsockname()[1])
    proc = run_cli(course_root, "grade", "forward_pass", "--jobs", "2", "--timeout", "4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"expected": expected, "results": load(course_root, "forward_pass"),
            "stdout": proc.stdout, "stderr": proc.stderr}


@pytest.fixture(scope="session")
def graded_backprop(course_root):
    """Grade the backprop fixtures (correct, two Python loops over the examples)."""
    expected = fixtures.write_backprop_class(course_root)
    proc = run_cli(course_root, "grade", "backprop", "--jobs", "2", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"expected": expected, "results": load(course_root, "backprop")}


def copy_course(course_root: Path, dest: Path) -> Path:
    """Copy a graded course root (for tests that change it)."""
    shutil.copytree(course_root, dest, ignore=shutil.ignore_patterns("gradebook.db*"))
    return dest
