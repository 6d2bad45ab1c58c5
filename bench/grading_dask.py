"""Benchmark: grading on a Dask LocalCluster vs the local pool, on bench/grading.py's class.

The same N students x (forward_pass, softmax_backward) as ``bench/grading.py`` are graded
through the command line, start-up included, alternately

* ``fnn-grade grade <assignment> --jobs 2 --force --quiet`` (local pool of 2 sandboxes);
* ``fnn-grade grade <assignment> --scheduler ADDRESS --force --quiet`` on a standing
  ``LocalCluster(n_workers=2, threads_per_worker=1)`` (its own start-up is reported apart),

``--repeats`` times each, interleaved; the median of each is reported (and the best run, less
sensitive to other load on the machine). Dask's overhead is ``t_dask / t_local - 1``.

Usage: ``python bench/grading_dask.py [--n 60] [--repeats 3]``. The last line is
``grading_dask: subs_per_s=X local_subs_per_s=Y overhead_pct=Z``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grading  # noqa: E402  (bench/grading.py: the class of submissions)


def wall_time(cmd: list[str], cwd: Path) -> float:
    """Wall-clock seconds of ``cmd`` (raises on failure)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=grading._env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def run(n: int, repeats: int, address: str | None = None) -> None:
    """Grade the class ``repeats`` times locally and on a cluster, interleaved, and print the
    comparison. ``address``: an existing scheduler; None starts a LocalCluster of 2 workers."""
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # as grading.py does, for the workers
        os.environ.pop(key, None)
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory(prefix="fnn-bench-dask-") as tmp, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = grading.subs.make_course_copy(Path(tmp) / "course", grading.ASSIGNMENTS)
        total = grading.write_class(root, n)
        start = time.perf_counter()
        cluster = None
        if address is None:
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                   local_directory=str(Path(tmp) / "dask"))
            address = cluster.scheduler_address
        cluster_start = time.perf_counter() - start
        try:
            local, dask = [], []
            for _ in range(repeats):
                for label, extra, times in (("local", ["--jobs", "2"], local),
                                            ("dask", ["--scheduler", address], dask)):
                    elapsed = 0.0
                    for assignment in grading.ASSIGNMENTS:
                        elapsed += wall_time([sys.executable, "-m", "autograder", "grade",
                                              assignment, *extra, "--force", "--quiet"], root)
                    times.append(elapsed)
                    print(f"{label}: {total} submissions in {elapsed:.2f} s")
        finally:
            if cluster is not None:
                cluster.close()
    t_local, t_dask = statistics.median(local), statistics.median(dask)
    overhead = 100.0 * (t_dask / t_local - 1.0)
    print(f"cluster start-up {cluster_start:.2f} s (not counted); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    best = 100.0 * (min(dask) / min(local) - 1.0)
    print(f"best runs: dask {min(dask):.2f} s, local {min(local):.2f} s, overhead {best:.1f}%")
    print(f"grading_dask: subs_per_s={total / t_dask:.1f} local_subs_per_s={total / t_local:.1f} "
          f"overhead_pct={overhead:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=60, help="students (default 60)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each (default 3)")
    parser.add_argument("--scheduler", help="existing Dask scheduler (default: a LocalCluster)")
    args = parser.parse_args()
    run(args.n, args.repeats, args.scheduler)


if __name__ == "__main__":
    main()
