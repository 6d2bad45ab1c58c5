"""Grade on a Dask distributed cluster: one task per submission, plain results back.

``fnn-grade grade ASSIGNMENT --scheduler ADDRESS`` uses :func:`grade_on_cluster`, which returns
a ``map_fn`` for :func:`autograder.engine.runner.grade_all`. The coordinator (the machine that runs the
command) keeps its role: it decides which students need grading, writes every result file as
soon as it arrives, then the gradebook and the exports. Workers only grade.

What crosses the wire
---------------------
* coordinator -> worker: the task ``grade_task(grade_submission, kwargs)``, where ``kwargs`` are
  plain strings and numbers (course root, assignment, student id, settings) plus the grading
  secret as hex. The secret is the grader's own data: the worker derives the test inputs from
  it in the trusted grader process; it never enters a sandbox. On an untrusted network use a
  ``tls://`` scheduler address (Dask's TLS security) so nobody can read it in transit.
* worker -> coordinator: the JSON-serializable result dict of
  :func:`autograder.engine.runner.grade_submission`. Student code runs only inside the worker's local
  sandbox; no student object is ever pickled.

Every worker reads the notebooks from the course folder (``submitted/`` and ``assignments/``)
at the same path as the coordinator, either a shared file system or a copy; a worker whose copy
lives elsewhere sets the environment variable ``FNN_COURSE_ROOT`` to its path. Before sending
work the coordinator checks every worker (same fnn-course sources, course folder readable,
bubblewrap usable); every result's fingerprint (notebook bytes, secret, settings) must match
the coordinator's own copy of the notebook, otherwise the result is refused as out of sync.

Parallel sandboxes and uids
---------------------------
RLIMIT_NPROC counts processes per uid, so two sandboxes of one host must not share a uid. Each
task runs its sandbox as ``UID_BASE + (pid % 2**22) * SLOTS + slot``: the worker process id
separates the processes of a host (``--nworkers N``), the slot separates the threads of one
process (``--nthreads``). These uids never collide with the local pool's (65534, 2e9 + i).
Switching uid needs root: run the workers as root, otherwise student code runs as the worker's
own user without the process limit (the sandbox warns).

Faults
------
Dask re-runs the tasks of a worker that died (at-least-once execution). Results are written by
the coordinator, one file per student, atomically, so a re-run result simply replaces the file.
A task that fails for good (e.g. it killed its worker four times: ``KilledWorker``) is reported
on stderr and left ungraded, as is every student still pending when the scheduler is lost;
``fnn-grade grade`` then names them and exits with status 1, and running the same command
again grades only what is missing.
"""
from __future__ import annotations

import hashlib
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import Callable, Iterable, Iterator

UID_BASE = 1_000_000_000
"""First sandbox uid used by cluster workers (all stay below 2**31)."""

SLOTS = 64
"""Sandbox uids reserved per worker process (the most threads one worker may run)."""

COURSE_ROOT_ENV = "FNN_COURSE_ROOT"
"""Environment variable of a worker whose copy of the course folder is at another path."""

_slots_lock = threading.Lock()
_slots_busy: set[int] = set()


# --------------------------------------------------------------------------- worker side
def _take_slot() -> int:
    with _slots_lock:
        for slot in range(SLOTS):
            if slot not in _slots_busy:
                _slots_busy.add(slot)
                return slot
    raise RuntimeError(f"more than {SLOTS} grading threads in one worker process; "
                       "start the workers with --nthreads 1")


def _give_slot(slot: int) -> None:
    with _slots_lock:
        _slots_busy.discard(slot)


def sandbox_uid(slot: int, pid: int | None = None) -> int:
    """Sandbox uid of thread ``slot`` of worker process ``pid`` (default: this process)."""
    if not 0 <= slot < SLOTS:
        raise ValueError(f"slot must be in [0, {SLOTS}), got {slot}")
    pid = os.getpid() if pid is None else int(pid)
    return UID_BASE + (pid % (1 << 22)) * SLOTS + slot


def grade_task(func: Callable[..., dict], kwargs: dict) -> dict:
    """Run ``func(**kwargs)`` on a worker with a sandbox uid of its own; returns the result.

    ``func`` is :func:`autograder.engine.runner.grade_submission` (or a wrapper of it); ``kwargs`` has
    ``course_root``, ``assignment``, ``student``, ``notebook_path`` and ``options``.
    """
    slot = _take_slot()
    try:
        kwargs = dict(kwargs, options=dict(kwargs["options"], uid=sandbox_uid(slot)))
        if os.environ.get(COURSE_ROOT_ENV):
            kwargs["course_root"] = os.environ[COURSE_ROOT_ENV]
        return func(**kwargs)
    finally:
        _give_slot(slot)


def code_digest() -> str:
    """SHA-256 (16 hex digits) of the grader's and the reference library's Python sources."""
    import autograder
    import course

    h = hashlib.sha256()
    for package in (autograder, course):
        base = Path(list(package.__path__)[0]).resolve()
        for path in sorted(base.rglob("*.py")):
            h.update(str(path.relative_to(base.parent)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def describe_worker(course_root: str, assignment: str) -> dict:
    """What the coordinator checks on each worker before sending it work."""
    from autograder.sandbox import launcher as sandbox
    from autograder.engine.notebook_io import source_notebook_path

    root = os.environ.get(COURSE_ROOT_ENV) or course_root
    return {"digest": code_digest(), "bwrap": sandbox.uses_bwrap(sandbox.Limits()),
            "course_root": root,
            "source_ok": source_notebook_path(root, assignment).is_file(),
            "python": sys.version.split()[0]}


# --------------------------------------------------------------------------- coordinator side
def connect(scheduler):
    """A ``distributed.Client`` for ``scheduler``.

    Parameters
    ----------
    scheduler : address (``tcp://host:port``, ``tls://...``), path of a scheduler file written
        by ``dask scheduler --scheduler-file F``, or an existing ``Client``.

    Returns
    -------
    (client, owned): ``owned`` is True when this function created the client.
    """
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler, False
    if not isinstance(scheduler, (str, os.PathLike)) or not str(scheduler):
        raise ValueError(f"scheduler must be an address, a scheduler file or a Client, "
                         f"got {scheduler!r}")
    text = str(scheduler)
    if "://" not in text and (text.endswith(".json") or Path(text).is_file()):
        if not Path(text).is_file():
            raise ValueError(f"scheduler file {text} does not exist")
        return Client(scheduler_file=text), True
    return Client(text), True


class ClusterMap:
    """``map_fn`` for :func:`autograder.engine.runner.grade_all` that grades on a Dask cluster.

    Calling it submits one task per student (``pure=False`` and a unique key per run, so equal
    arguments are never merged) and yields results as they complete. After a call,
    ``submitted`` counts the tasks sent and ``failed`` lists ``(student, error)`` of those
    that produced no result.
    """

    def __init__(self, scheduler, *, wait_for_workers: float = 60.0, check: bool = True):
        self.scheduler = scheduler
        self.wait_for_workers = float(wait_for_workers)
        self.check = check
        self.submitted = 0
        self.failed: list[tuple[str, str]] = []
        self.workers: dict[str, dict] = {}

    def _check_workers(self, client, course_root: str, assignment: str) -> None:
        try:
            client.wait_for_workers(1, timeout=self.wait_for_workers)
        except TimeoutError:
            raise ValueError(f"no Dask worker joined the scheduler {self.scheduler} within "
                             f"{self.wait_for_workers:g} s") from None
        self.workers = client.run(describe_worker, course_root, assignment)
        if not self.check:
            return
        mine = code_digest()
        stale = [w for w, d in self.workers.items() if d["digest"] != mine]
        if stale:
            raise ValueError(f"workers {', '.join(stale)} run another version of fnn-course "
                             "(install the same version on every worker)")
        blind = [f"{w} ({d['course_root']})" for w, d in self.workers.items()
                 if not d["source_ok"]]
        if blind:
            raise ValueError(f"workers {', '.join(blind)} cannot read assignments/{assignment}/"
                             f" in the course folder (share or copy it, or set {COURSE_ROOT_ENV})")
        weak = [w for w, d in self.workers.items() if not d["bwrap"]]
        if weak:
            print(f"warning: workers {', '.join(weak)} have no usable bubblewrap: student code "
                  "runs there with rlimits only (install 'bubblewrap')", file=sys.stderr)

    def __call__(self, func: Callable[..., dict], kwargs_list: Iterable[dict]) -> Iterator[dict]:
        from distributed import as_completed

        kwargs_list = [dict(kw, course_root=str(Path(kw["course_root"]).resolve()))
                       for kw in kwargs_list]  # "." means the coordinator's folder, not theirs
        self.submitted, self.failed = 0, []
        if not kwargs_list:
            return
        client, owned = connect(self.scheduler)
        futures = {}
        try:
            first = kwargs_list[0]
            self._check_workers(client, first["course_root"], first["assignment"])
            run = uuid.uuid4().hex[:8]
            secret_hex: dict[str, str] = {}
            for kwargs in kwargs_list:
                root = kwargs["course_root"]
                if root not in secret_hex:  # the workers must use the coordinator's secret
                    secret_hex[root] = _load_secret(root).hex()
                task = dict(kwargs, options=dict(kwargs["options"], secret=secret_hex[root]))
                expected = expected_fingerprint(task)
                key = f"fnn-grade-{kwargs['assignment']}-{kwargs['student']}-{run}"
                future = client.submit(grade_task, func, task, key=key, pure=False)
                futures[future] = (kwargs["student"], expected)
            self.submitted = len(futures)
            yield from self._collect(as_completed, futures)
        finally:
            for future in futures:
                future.cancel()
            if owned:
                client.close()
            if self.failed:
                names = ", ".join(s for s, _ in self.failed)
                print(f"warning: {len(self.failed)} submission(s) were not graded ({names}); "
                      "run the same command again to grade what is missing", file=sys.stderr)
                for student, error in self.failed:
                    print(f"  {student}: {error[:300]}", file=sys.stderr)


    def _collect(self, as_completed, futures: dict) -> Iterator[dict]:
        """Yield the accepted results of ``futures`` as they complete; every student without
        one goes to ``failed`` with the reason (also when the scheduler is lost midway)."""
        try:
            for future in as_completed(list(futures)):
                if future not in futures:  # never yield a student twice
                    continue
                student, expected = futures.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # KilledWorker, a grader fault, a lost scheduler
                    self.failed.append((student, f"{type(exc).__name__}: {exc}"))
                    continue
                if result.get("fingerprint") != expected:
                    self.failed.append((student, "the worker graded another notebook than the "
                                        "coordinator's (course folder out of sync?)"))
                    continue
                yield result
        except Exception as exc:  # noqa: BLE001 - the connection to the scheduler is gone
            why = f"lost the Dask scheduler ({type(exc).__name__}: {exc})"
            self.failed.extend((student, why) for student, _ in futures.values())
            futures.clear()


def _load_secret(course_root: str) -> bytes:
    from autograder.engine import config as config_mod

    return config_mod.load_secret(course_root)


def expected_fingerprint(kwargs: dict) -> str:
    """Fingerprint the result of ``kwargs`` must carry, from the coordinator's own files.

    A worker that read another notebook (a stale copy of the course folder, another path)
    returns another fingerprint, and its result is refused.
    """
    from autograder.engine import notebook_io
    from autograder.engine import runner

    root, assignment = kwargs["course_root"], kwargs["assignment"]
    notebook = kwargs.get("notebook_path")
    if notebook is None:
        layout = notebook_io.load_layout(root, assignment)
        notebook, _ = notebook_io.find_submission(root, assignment, kwargs["student"], layout)
    try:
        data = Path(notebook).read_bytes() if notebook is not None else None
    except OSError:
        data = None
    options = kwargs["options"]
    return runner.fingerprint(data, bytes.fromhex(options["secret"]), options)


def grade_on_cluster(scheduler, **kwargs) -> ClusterMap:
    """``map_fn`` that grades on the Dask cluster at ``scheduler`` (see :class:`ClusterMap`).

    Parameters
    ----------
    scheduler : ``tcp://host:port``, a scheduler file, or a ``distributed.Client``.
    **kwargs : ``wait_for_workers`` (seconds, default 60), ``check`` (compare the workers'
        fnn-course version and course folder with the coordinator's, default True).
    """
    return ClusterMap(scheduler, **kwargs)
