"""Grading on a Dask LocalCluster: same grades as the local pool, worker deaths, resume."""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from autograder.deploy import distributed as dist
from autograder.engine import runner
from tests import submissions as subs
from tests.distributed import helpers

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

N = 30


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course root with 30 forward_pass submissions, graded once by the local pool."""
    root = tmp_path_factory.mktemp("course")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        subs.make_course_copy(root, ["forward_pass"])
    kinds = helpers.write_class(root, N)
    students = runner.list_students(root, "forward_pass")
    local = runner.grade_all(root, "forward_pass", students, {"jobs": 2}, progress=False)
    return {"root": root, "kinds": kinds, "students": students,
            "local": {r["student"]: r for r in local}}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from distributed import Client, LocalCluster

    scratch = tmp_path_factory.mktemp("dask")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address="127.0.0.1:0", host="127.0.0.1",
                      local_directory=str(scratch)) as cluster, Client(cluster) as c:
        yield c


def stored(root: Path) -> dict[str, dict]:
    folder = root / "grading" / "forward_pass"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def test_fixture_class_has_a_spread_of_scores(course):
    totals = {r["total"] for r in course["local"].values()}
    assert len(course["local"]) == N and len(totals) >= 4
    for student, kind in course["kinds"].items():
        full = course["local"][student]["total"] == course["local"][student]["max_total"]
        assert full == (kind == "correct"), (student, kind)


def test_cluster_gives_the_local_pools_grades(course, client):
    map_fn = dist.grade_on_cluster(client)
    seen = []

    def counting(func, kwargs_list):
        for result in map_fn(func, kwargs_list):
            seen.append(result["student"])
            yield result

    results = runner.grade_all(course["root"], "forward_pass", course["students"], {},
                               map_fn=counting, progress=False, force=True)
    assert map_fn.submitted == N and map_fn.failed == []
    assert sorted(seen) == course["students"]
    assert len(results) == N
    for result in results:
        assert helpers.comparable(result) == helpers.comparable(course["local"][result["student"]])
    assert {d["bwrap"] for d in map_fn.workers.values()} == {dist.describe_worker(
        str(course["root"]), "forward_pass")["bwrap"]}


def test_a_killed_worker_loses_no_submission(course, client, tmp_path):
    marker = tmp_path / "killed"
    before = set(client.scheduler_info()["workers"])
    map_fn = dist.grade_on_cluster(client)
    seen = []

    def dying(func, kwargs_list):
        for result in map_fn(functools.partial(helpers.die_once, str(marker), func), kwargs_list):
            seen.append(result["student"])
            yield result

    results = runner.grade_all(course["root"], "forward_pass", course["students"], {},
                               map_fn=dying, progress=False, force=True)
    assert marker.exists(), "no task killed its worker"
    victim_pid = int(marker.read_text().split()[0])
    client.wait_for_workers(2, timeout=30)
    after = set(client.scheduler_info()["workers"])
    assert before - after, "the killed worker was not replaced"
    assert victim_pid not in client.run(os.getpid).values()
    assert map_fn.failed == []
    assert sorted(seen) == course["students"], "every submission graded exactly once"
    assert sorted(stored(course["root"])) == course["students"]
    for result in results:
        assert helpers.comparable(result) == helpers.comparable(course["local"][result["student"]])


def test_a_submission_that_keeps_killing_workers_is_reported_and_regraded_later(
        course, client, capsys):
    root = course["root"]
    students = [f"s2{i}" for i in range(6)]
    for student in students:
        runner.result_path(root, "forward_pass", student).unlink()
    map_fn = dist.grade_on_cluster(client)
    poisoned = lambda func, kws: map_fn(functools.partial(helpers.poison, "s23", func), kws)  # noqa: E731
    results = runner.grade_all(root, "forward_pass", students, {}, map_fn=poisoned,
                               progress=False)
    assert [s for s, _ in map_fn.failed] == ["s23"] and "KilledWorker" in map_fn.failed[0][1]
    assert sorted(r["student"] for r in results) == [s for s in students if s != "s23"]
    assert "run the same command again" in capsys.readouterr().err
    client.wait_for_workers(2, timeout=30)
    again = dist.grade_on_cluster(client)
    results = runner.grade_all(root, "forward_pass", students, {}, map_fn=again, progress=False)
    assert again.submitted == 1 and again.failed == []
    assert sorted(r["student"] for r in results) == students


def test_rerun_grades_only_what_is_missing(course, client, tmp_path):
    root = course["root"]
    runner.grade_all(root, "forward_pass", course["students"], {},
                     map_fn=dist.grade_on_cluster(client), progress=False)
    for student in ("s01", "s02", "s03"):
        runner.result_path(root, "forward_pass", student).unlink()
    source = subs.source_notebook("forward_pass", root)
    subs.write_submission(root, "s04", "forward_pass", source)  # s04 fixed its mistake
    scheduler_file = tmp_path / "scheduler.json"
    scheduler_file.write_text(json.dumps({"address": client.scheduler.address}))
    map_fn = dist.grade_on_cluster(str(scheduler_file))
    results = runner.grade_all(root, "forward_pass", course["students"], {},
                               map_fn=map_fn, progress=False)
    assert map_fn.submitted == 4
    by_student = {r["student"]: r for r in results}
    assert sorted(by_student) == course["students"]
    assert by_student["s04"]["total"] == by_student["s04"]["max_total"]
    assert course["local"]["s04"]["total"] < by_student["s04"]["total"]
    again = dist.grade_on_cluster(client)
    runner.grade_all(root, "forward_pass", course["students"], {}, map_fn=again, progress=False)
    assert again.submitted == 0


def test_sandbox_uids_are_distinct_per_process_and_thread(client):
    pids = list(client.run(os.getpid).values())
    uids = {dist.sandbox_uid(slot, pid) for pid in pids for slot in range(dist.SLOTS)}
    assert len(uids) == len(pids) * dist.SLOTS
    top = dist.sandbox_uid(dist.SLOTS - 1, (1 << 22) - 1)
    assert dist.UID_BASE <= min(uids) and max(uids) <= top < 2 ** 31
    assert top < runner._uid_pool(1).get() or top < 2_000_000_000  # below the local pool's
    with pytest.raises(ValueError, match="slot"):
        dist.sandbox_uid(dist.SLOTS)


def test_tasks_carry_the_coordinators_secret_not_a_new_one(course, client, tmp_path, monkeypatch):
    """A worker whose course copy has no secret must not invent one (other inputs, other grades)."""
    copy = subs.make_course_copy(tmp_path / "copy", ["forward_pass"])
    student = "s05"
    folder = course["root"] / "submitted" / student
    subs.write_submission(copy, student, "forward_pass",
                          (folder / "forward_pass" / "forward_pass.ipynb").read_bytes())
    task = {"course_root": str(copy), "assignment": "forward_pass", "student": student,
            "notebook_path": None,
            "options": {"secret": (course["root"] / ".grader-secret").read_text().strip()}}
    result = client.submit(dist.grade_task, runner.grade_submission, task, pure=False).result()
    assert not (copy / ".grader-secret").exists()
    expected = helpers.comparable(course["local"][student])
    assert helpers.comparable(result)["cases"] == expected["cases"]


def test_cli_grades_on_the_scheduler(course, client):
    """Run from the course folder (course root "."), while the workers' cwd is elsewhere."""
    root = course["root"]
    address = client.scheduler.address
    assert str(root) not in client.run(os.getcwd).values()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNN_")}
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", "forward_pass",
                           "--scheduler", address, "--student", "s1*", "--force",
                           "--no-gradebook"], capture_output=True, text=True, timeout=120,
                          env=env, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "10 students" in proc.stdout
    assert "grading forward_pass" in proc.stderr  # the progress bar
    for student in (f"s1{i}" for i in range(10)):
        assert f"{student} " in proc.stdout
    results = stored(root)
    assert all(helpers.comparable(results[s]) == helpers.comparable(course["local"][s])
               for s in (f"s1{i}" for i in range(10)))


def test_result_from_an_out_of_sync_copy_is_refused(course, client, tmp_path, capsys):
    root = course["root"]
    copy = Path(shutil.copytree(root, tmp_path / "copy", ignore=shutil.ignore_patterns("grading")))
    subs.write_submission(copy, "s05", "forward_pass", subs.source_notebook("forward_pass", root))
    map_fn = dist.grade_on_cluster(client)
    func = functools.partial(helpers.grade_elsewhere, str(copy), runner.grade_submission)
    kwargs = [{"course_root": str(root), "assignment": "forward_pass", "student": s,
               "notebook_path": None, "options": runner.config_mod.load_config(root)}
              for s in ("s05", "s06")]
    got = list(map_fn(func, kwargs))
    assert [r["student"] for r in got] == ["s06"]
    assert [s for s, _ in map_fn.failed] == ["s05"] and "out of sync" in map_fn.failed[0][1]
    assert "run the same command again" in capsys.readouterr().err


def test_bad_scheduler_argument_is_refused(tmp_path):
    with pytest.raises(ValueError, match="scheduler"):
        dist.connect(12)
    with pytest.raises(ValueError, match="does not exist"):
        dist.connect(str(tmp_path / "missing.json"))
