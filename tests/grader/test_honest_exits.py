"""Every run of ``fnn-grade`` tells how it ended.

* Ctrl-C (SIGINT) stops a local ``grade`` within 2 s, keeps the results already graded, says
  how to resume, and running the same command again skips them;
* a run where some students got no result (a refused result, a task that failed for good, a
  lost scheduler) exits non-zero and names them;
* a folder that is not a course root, or an unknown assignment, is refused before anything is
  written or created;
* gradebook errors name their cause, not SQLAlchemy's help link.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from autograder import cli
from autograder.cases.tasks import get_spec
from autograder.engine import runner
from autograder.outputs import gradebook
from tests import submissions as subs
from tests.grader.conftest import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ASSIGNMENT = "forward_pass"
SLOW_RELU = "def relu(z):\n    while True:\n        pass\n"


@pytest.fixture()
def course(tmp_path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return subs.make_course_copy(tmp_path / "course", [ASSIGNMENT])


def _write_class(root: Path, fast: int, slow: int) -> None:
    """``fast`` correct students (named first) and ``slow`` ones whose relu never returns."""
    src = subs.source_notebook(ASSIGNMENT, root)
    for i in range(fast):
        subs.write_submission(root, f"a_fast{i}", ASSIGNMENT, src)
    for i in range(slow):
        subs.write_submission(root, f"b_slow{i}", ASSIGNMENT,
                              subs.with_solutions(src, {"relu": SLOW_RELU}))


def _graded(root: Path) -> dict[str, dict]:
    folder = root / "grading" / ASSIGNMENT
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def test_ctrl_c_stops_within_2_s_keeps_results_and_resumes(course):
    _write_class(course, fast=2, slow=6)
    # one sandbox (two threads): the fast students are taken first, then the slow ones block
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "--course-root", str(course),
                             "grade", ASSIGNMENT, "--jobs", "1", "--timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=subs.grader_env(), cwd=course)
    try:
        deadline = time.monotonic() + 120
        while len(_graded(course)) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        assert len(_graded(course)) == 2, "the two fast students were not graded in time"
        time.sleep(0.5)  # the slow ones are inside their sandboxes now
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        stopped = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert stopped < 2.0, f"took {stopped:.2f} s to stop"
    kept = _graded(course)
    full = get_spec(ASSIGNMENT, course).max_score
    assert sorted(kept) == ["a_fast0", "a_fast1"]
    assert all(r["total"] == full for r in kept.values())
    assert "interrupted: 2 result(s)" in err
    assert "run the same command again" in err and "are skipped" in err
    assert "Traceback" not in err

    # resume: the slow students are fixed; the kept results are not graded again
    stamps = {s: (course / "grading" / ASSIGNMENT / f"{s}.json").stat().st_mtime_ns
              for s in kept}
    src = subs.source_notebook(ASSIGNMENT, course)
    for i in range(6):
        subs.write_submission(course, f"b_slow{i}", ASSIGNMENT, src)
    again = run_cli(course, "grade", ASSIGNMENT, "--jobs", "1", "--timeout", "60", "--quiet")
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(_graded(course)) == 8
    assert {s: (course / "grading" / ASSIGNMENT / f"{s}.json").stat().st_mtime_ns
            for s in kept} == stamps


def test_incomplete_run_is_named_and_stale_results_are_not_listed(course, monkeypatch, capsys):
    """A map that drops one student (as a refused or lost Dask task does): exit 1, the
    student is named, and its old result is not shown as if it were current."""
    src = subs.source_notebook(ASSIGNMENT, course)
    for name in ("alice", "bob", "carol"):
        subs.write_submission(course, name, ASSIGNMENT, src)
    stale = runner.grader_error_result(ASSIGNMENT, "bob", "an old run", course_root=course)
    runner.write_result(course, dict(stale, total=7.0, fingerprint="old"))

    def dropping_map(func, kwargs_list):
        for kw in kwargs_list:
            if kw["student"] != "bob":
                yield dict(runner.grader_error_result(kw["assignment"], kw["student"], "x"),
                           total=1.0)

    import autograder.deploy.distributed as distributed

    monkeypatch.setattr(distributed, "grade_on_cluster", lambda address: dropping_map)
    code = cli.main(["--course-root", str(course), "grade", ASSIGNMENT, "--scheduler",
                     "tcp://nowhere:1", "--no-gradebook"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "incomplete run: 1 of 3 submission(s) got no result (bob)" in err
    assert "alice" in out and "carol" in out
    assert "bob" not in out  # the stale 7 points are not listed as this run's result


def test_grade_all_reports_missing_students(course):
    src = subs.source_notebook(ASSIGNMENT, course)
    for name in ("alice", "bob"):
        subs.write_submission(course, name, ASSIGNMENT, src)

    def none_map(func, kwargs_list):
        return iter(())

    missing: list = []
    results = runner.grade_all(course, ASSIGNMENT, ["alice", "bob"], {}, map_fn=none_map,
                               progress=False, missing=missing)
    assert missing == ["alice", "bob"] and results == []


def test_lost_scheduler_names_every_student_left(monkeypatch, capsys):
    """The coordinator loses its scheduler mid-run: no traceback, every student left is in
    ``failed``."""
    distributed = pytest.importorskip("autograder.deploy.distributed")

    class Future:
        def __init__(self, student):
            self.student = student

        def result(self):
            return {"fingerprint": "f", "student": self.student}

        def cancel(self):
            pass

    class Client:
        def submit(self, func, function, task, key, pure):
            return Future(task["student"])

    def as_completed(futures):
        yield futures[0]
        raise OSError("Timed out trying to connect to tcp://127.0.0.1:8786")

    import distributed as dask_distributed

    monkeypatch.setattr(dask_distributed, "as_completed", as_completed)
    monkeypatch.setattr(distributed, "connect", lambda scheduler: (Client(), False))
    monkeypatch.setattr(distributed, "expected_fingerprint", lambda task: "f")
    monkeypatch.setattr(distributed, "_load_secret", lambda root: b"k")
    cluster = distributed.ClusterMap("tcp://127.0.0.1:8786", check=False)
    monkeypatch.setattr(cluster, "_check_workers", lambda *a: None)
    kwargs = [{"course_root": "/nonexistent", "assignment": ASSIGNMENT, "student": s,
               "notebook_path": None, "options": {}} for s in ("ann", "ben", "cid")]
    got = [r["student"] for r in cluster(lambda **kw: None, kwargs)]
    assert got == ["ann"]
    assert sorted(s for s, _ in cluster.failed) == ["ben", "cid"]
    assert all("scheduler" in why for _, why in cluster.failed)
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("command", [["feedback", "no_such"], ["export", "no_such"],
                                     ["export", "no_such", "--format", "gradescope"],
                                     ["grade", "no_such"], ["report", "no_such"]])
def test_unknown_assignment_refused_before_anything_is_written(course, command):
    before = sorted(p.relative_to(course) for p in course.rglob("*"))
    proc = run_cli(course, *command)
    assert proc.returncode == 2
    assert "unknown assignment 'no_such'" in proc.stderr
    assert sorted(p.relative_to(course) for p in course.rglob("*")) == before


@pytest.mark.parametrize("command", [["feedback", ASSIGNMENT], ["export", ASSIGNMENT],
                                     ["grade", ASSIGNMENT]])
def test_folder_that_is_not_a_course_root_is_refused(tmp_path, command):
    missing = tmp_path / "not_a_course"
    proc = run_cli(tmp_path, "--course-root", str(missing), *command)
    assert proc.returncode == 2
    assert "is not a course root" in proc.stderr
    assert not missing.exists()
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = run_cli(tmp_path, "--course-root", str(plain), *command)
    assert proc.returncode == 2 and "is not a course root" in proc.stderr
    assert list(plain.iterdir()) == []


def test_locked_gradebook_names_its_cause(course):
    subs.write_submission(course, "alice", ASSIGNMENT, subs.source_notebook(ASSIGNMENT, course))
    first = run_cli(course, "grade", ASSIGNMENT, "--quiet")
    assert first.returncode == 0, first.stderr[-2000:]
    lock = sqlite3.connect(course / "gradebook.db")
    lock.execute("BEGIN EXCLUSIVE")
    try:
        proc = run_cli(course, "grade", ASSIGNMENT, "--quiet", "--force")
    finally:
        lock.rollback()
        lock.close()
    assert proc.returncode == 1
    assert "the gradebook was not updated (database is locked)" in proc.stderr
    assert "sqlalche.me" not in proc.stderr and "Background on this error" not in proc.stderr


def test_error_cause_reads_like_the_problem():
    from sqlalchemy.exc import OperationalError

    wrapped = OperationalError("UPDATE grade SET auto_score=?", {},
                               sqlite3.OperationalError("database is locked"))
    assert gradebook.error_cause(wrapped) == "database is locked"
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "autograded/a/fp.ipynb")
    assert gradebook.error_cause(full) == "No space left on device: autograded/a/fp.ipynb"
    assert gradebook.error_cause(RuntimeError("")) == "RuntimeError"


def test_writers_of_one_course_take_turns(course):
    """The writer of a run stopped with Ctrl-C finishes in the background; the next run's writer
    must not race it to create the same rows ("UNIQUE constraint failed: student.id" before)."""
    src = subs.source_notebook(ASSIGNMENT, course)
    students = [f"s{i}" for i in range(4)]
    for student in students:
        subs.write_submission(course, student, ASSIGNMENT, src)
    graded = run_cli(course, "grade", ASSIGNMENT, "--quiet", "--no-gradebook")
    assert graded.returncode == 0, graded.stderr[-2000:]
    for trial in range(3):  # without the lock, about every other pair of writers collided
        (course / "gradebook.db").unlink(missing_ok=True)
        writers = [subprocess.Popen([sys.executable, "-m", "autograder.outputs.gradebook",
                                     str(course), ASSIGNMENT], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=subs.grader_env()) for _ in range(2)]
        for writer in writers:  # both are started before either gets its input
            writer.stdin.write("".join(f"{s}\n" for s in students))
            writer.stdin.close()
        for writer in writers:
            assert writer.wait(timeout=120) == 0, (trial, writer.stderr.read()[-2000:])
            assert writer.stdout.read().split()[-1] == str(len(students))
            writer.stdout.close()
            writer.stderr.close()
        rows = sqlite3.connect(course / "gradebook.db")
        try:
            assert rows.execute("SELECT COUNT(*) FROM student").fetchone() == (len(students),)
            assert rows.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone() == \
                (len(students),)
        finally:
            rows.close()


def test_a_writer_that_cannot_get_its_turn_names_the_one_holding_it(course):
    import fcntl

    with open(course / gradebook.LOCK_FILE, "w", encoding="utf-8") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242\n")
        held.flush()
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"another fnn-grade run \(writer pid 4242\) has "
                                               r"been writing .*gradebook\.db"):
            with gradebook.writer_lock(course, wait=0.3):
                pass
        assert 0.3 <= time.monotonic() - started < 5.0
    with gradebook.writer_lock(course, wait=0.3):  # released: the next writer gets its turn
        assert (course / gradebook.LOCK_FILE).read_text() == f"{os.getpid()}\n"
