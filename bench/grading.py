"""Benchmark: the hardened batch grader vs stock ``nbgrader autograde`` on the same submissions.

N synthetic students (default 60) each submit ``forward_pass`` and ``softmax_backward``: a third
correct, a third with one wrong function, a third with unimplemented functions. Both graders
run through their command lines in the same temporary course root, start-up included:

* first grading: ``fnn-grade grade <assignment> --jobs 2`` on a class never graded before
  (every student and submission is new in the gradebook, every autograded copy is new);
* re-grade: ``fnn-grade grade <assignment> --jobs 2 --force`` right after (rows exist);
* ``nbgrader autograde <assignment> --force``.

``nbgrader generate_assignment`` runs first, untimed: it is course setup and creates the
gradebook (creating a new SQLite gradebook costs ~6 s in alembic).

Usage: ``python bench/grading.py [--n 60] [--skip-nbgrader]``; ``--scheduler [ADDRESS]`` grades
the same class on a Dask cluster beside the local pool instead (``bench/grading_dask.py``). The
last line is ``grading: first_subs_per_s=X regrade_subs_per_s=Y speedup_vs_nbgrader=Z``
(wall-clock, both on this machine as it is; Z compares nbgrader with the first grading).
Since the machine may be shared, the CPU seconds of each side are printed too (the sandboxes
report their own: bubblewrap does not pass child CPU time up).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import submissions as subs  # noqa: E402

ASSIGNMENTS = ("forward_pass", "softmax_backward")


def _env() -> dict:
    env = dict(os.environ)
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # slow NumPy down ~2x on this machine
        env.pop(key, None)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def write_class(root: Path, n: int) -> int:
    """Write n students x the assignments; returns the number of submissions."""
    count = 0
    for assignment in ASSIGNMENTS:
        src = subs.source_notebook(assignment, root)
        functions = list(subs.solution_code(assignment, root))
        for i in range(n):
            if i % 3 == 0:
                nb = src
            elif i % 3 == 1:
                name = functions[i % len(functions)]
                nb = subs.with_solutions(src, {name: f"def {name}(*args, **kwargs):\n"
                                                     "    return 0.0\n"})
            else:
                nb = subs.with_solutions(src, {f: f"def {f}(*args, **kwargs):\n"
                                                  "    raise NotImplementedError\n"
                                               for f in functions[i % 2::2]})
            subs.write_submission(root, f"student{i:03d}", assignment, nb)
            count += 1
    return count


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall-clock seconds and CPU seconds (the command and its waited children) of ``cmd``."""
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed, cpu


def sandbox_cpu(root: Path, assignment: str) -> float:
    """CPU seconds the sandboxes reported (bubblewrap does not pass it up to the parent)."""
    return sum(json.loads(p.read_text()).get("sandbox_cpu_s", 0.0)
               for p in (root / "grading" / assignment).glob("*.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=60, help="students (default 60)")
    parser.add_argument("--skip-nbgrader", action="store_true")
    parser.add_argument("--scheduler", nargs="?", const="local", metavar="ADDRESS",
                        help="instead: the same class on a Dask cluster beside the local pool "
                             "(no ADDRESS: a LocalCluster of 2 workers); see grading_dask.py")
    parser.add_argument("--repeats", type=int, default=3, help="with --scheduler: runs of each")
    args = parser.parse_args()
    if args.scheduler:
        import grading_dask

        grading_dask.run(args.n, args.repeats, None if args.scheduler == "local" else args.scheduler)
        return
    with tempfile.TemporaryDirectory(prefix="fnn-bench-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = subs.make_course_copy(Path(tmp), ASSIGNMENTS)
        total = write_class(root, args.n)
        for assignment in ASSIGNMENTS:  # course setup (creates the gradebook), not timed
            subs.run_nbgrader(root, "generate_assignment", assignment, "--force")
        ours = {}
        for run, extra in (("first grading", []), ("re-grade", ["--force"])):
            wall = cpu_total = 0.0
            for assignment in ASSIGNMENTS:
                t, cpu = timed([sys.executable, "-m", "autograder", "grade", assignment,
                                "--jobs", "2", "--quiet", *extra], root)
                cpu += sandbox_cpu(root, assignment)
                print(f"fnn-grade {run} {assignment}: {args.n} submissions in {t:.2f} s "
                      f"({cpu:.2f} CPU s)")
                wall, cpu_total = wall + t, cpu_total + cpu
            ours[run] = (wall, cpu_total)
        first, regrade = ours["first grading"][0], ours["re-grade"][0]
        ours_cpu = ours["first grading"][1]
        first_per_s, regrade_per_s = total / first, total / regrade
        speedup = float("nan")
        if not args.skip_nbgrader:
            stock = stock_cpu = 0.0
            for assignment in ASSIGNMENTS:
                t, cpu = timed([subs.nbgrader_bin(), "autograde", assignment, "--force"], root)
                print(f"nbgrader autograde {assignment}: {args.n} submissions in {t:.2f} s "
                      f"({cpu:.2f} CPU s)")
                stock, stock_cpu = stock + t, stock_cpu + cpu
            speedup = stock / first
            print(f"CPU time ratio nbgrader / fnn-grade: {stock_cpu / ours_cpu:.1f}")
        load = os.getloadavg()[0]
        print(f"{total} submissions; fnn-grade first grading {first:.2f} s wall, re-grade "
              f"{regrade:.2f} s wall; first grading {ours_cpu / total * 1e3:.0f} ms CPU per "
              f"submission (CPU-bound on 2 idle cores: {2 * total / ours_cpu:.1f} subs/s); "
              f"load average {load:.1f} on {os.cpu_count()} cores")
    print(f"grading: first_subs_per_s={first_per_s:.1f} regrade_subs_per_s={regrade_per_s:.1f} "
          f"speedup_vs_nbgrader={speedup:.1f}")


if __name__ == "__main__":
    main()
