"""Start a sandbox for one submission and collect one outcome per test case (trusted side).

The sandbox runs the ``inside`` package (``autograder/sandbox/inside/``: a NumPy "zygote" that
forks fresh test processes: one answers the visible cases and then the hidden ones, and every
timed case gets its own; see ``inside.zygote`` for the protocol) under bubblewrap when ``bwrap``
is installed:

* an unprivileged uid (65534 or a per-worker uid), new user, pid, net, ipc, uts and cgroup
  namespaces (``--unshare-all``), a new session, an empty environment, ``--die-with-parent``;
* a read-only root that contains only ``/usr`` (+ the ``/lib``, ``/lib64``, ``/bin`` symlinks),
  the :data:`SANDBOX_PACKAGES` (NumPy, SciPy) and the ``inside`` package; a minimal read-only
  ``/dev`` (``/dev/null`` still works). The course folder, the gradebook, other submissions
  and the grader's tests are simply not there;
* rlimits set by the zygote (processes) and by each test process (address space, CPU, file
  size, open files, no core files), and a wall-clock timeout per test that kills the test
  process's group and then every other process in the sandbox's own pid namespace;
* a system-call filter (``inside.seccomp``) installed before any student code runs.

The job sent to the sandbox holds the code and the cases' metadata only. The parent sends each
call (a case's inputs, and the baseline's source for a baseline process) when the zygote asks
for it, i.e. when that case's test process is ready; the zygote passes the bytes on without
decoding them and wipes its buffer, so a test process never holds another case's inputs, a
hidden input before its case, or (unless it is a baseline process) the baseline's source.

Each grading worker keeps one *warm template* (``Limits.warm``, the default): a bubblewrap
sandbox that imports NumPy once and then, for each submission, forks a fresh sandbox inside
it with new mount, pid, IPC, network and UTS namespaces, its own ``/proc``, a private writable
``/tmp`` (a 16 MiB tmpfs), no capabilities at all, ``no_new_privs`` and no way to create user
namespaces. That sandbox's first process (pid 1 there, so student code cannot kill it) is the
submission's zygote; when it exits the kernel removes everything left in its pid namespace
before the template takes the next job, so nothing of one student is there for the next, and
the template itself never runs or even decodes student code. Where the template cannot set
this up (a kernel without nested namespaces), each submission gets its own bubblewrap sandbox
instead (``--cap-drop ALL``, ``--disable-userns``, an empty read-only ``/tmp``), with a warning.
Only a template that cannot set up sandboxes switches templates off; a job it refuses or a
zygote that fails costs that submission's cases (``sandbox_error``), never the rest of the run.

Without bubblewrap the same code runs with ``python -I -S`` (only the standard library, the
``inside`` package and a folder holding nothing but NumPy and SciPy on ``sys.path``, so
``course`` and ``autograder`` cannot be imported), rlimits, timeouts, the system-call filter
and an empty environment, as uid 65534 when the grader runs as root; a warning says what is
missing (no file-system, network or pid isolation).

If a test kills the zygote, or the sandbox stops answering, that test fails and a new sandbox
runs the remaining tests: every case always gets an outcome.

Kernel objects that the mount, pid, IPC and network namespaces do not isolate
----------------------------------------------------------------------------
Audited for the warm template, whose submissions share one user namespace (and, without
bubblewrap, for the sandbox uid of the whole machine):

* keyrings (``add_key``/``keyctl``/``request_key``: the user, user-session and persistent
  keyrings belong to the uid in its user namespace, so a key would survive from one submission
  to the next): closed by the system-call filter;
* ``perf_event_open``, ``userfaultfd``, ``bpf``, ``io_uring``, ``syslog``, ``ptrace``,
  ``process_vm_readv``/``writev``: refused by the filter;
* ``personality`` (inherited settings such as no address randomisation): refused by the filter;
* UTS hostname and domain name: a new UTS namespace per submission, and ``sethostname`` is
  refused by the filter;
* file locks and watches (``flock``, ``fcntl`` locks and ``F_NOTIFY``, ``inotify``,
  ``fanotify``) on the read-only ``/usr`` that every sandbox shares: refused by the filter;
* sockets of families the network namespace does not cover (``AF_VSOCK`` to the host of a
  virtual machine, ``AF_NETLINK``, ...): refused by the filter (``AF_UNIX``, ``AF_INET``,
  ``AF_INET6`` stay, inside an empty network namespace; abstract unix sockets belong to it);
* rlimits and counters per uid (``RLIMIT_NPROC``, ``RLIMIT_SIGPENDING``, ``RLIMIT_MSGQUEUE``,
  inotify instances): they count live processes and objects only, all gone when the
  submission's pid namespace ends, so they carry nothing to the next one;
* ``/dev/shm`` and ``/tmp``: ``/dev`` is read-only and ``/tmp`` is a new tmpfs per submission;
  POSIX message queues and SysV IPC live in the per-submission IPC namespace;
* the template's own memory: a submission is a fork of the template, which never decodes a
  job and wipes each job's buffer before the next fork; what a submission writes stays in its
  own copy-on-write pages.

What it cannot stop
-------------------
Kernel exploits through the calls that remain allowed (the kernel is shared); side channels
between sandboxes running at the same time (CPU, caches, memory bandwidth, ``/proc/loadavg``
and other machine-wide ``/proc`` figures); code reading its own process (the inputs of the cases
it answered so far, the student's other functions); on an architecture other than x86_64 and aarch64, the
system-call filter (a warning says it is missing); without the warm template,
``/proc/1/cmdline`` shows the host paths of the bound folders; a child process that does
less than one clock tick (10 ms) of a timed call's work and is reaped within it is counted
exactly only when its page faults or tick counters show it (``inside.zygote._timed_cpu``).
Without bubblewrap there is no file-system, network or pid isolation at all: the code can read
whatever the sandbox uid can read, see the machine's processes and open connections (the
zygote still kills every process below it after each test: it is their subreaper).
"""
from __future__ import annotations

import ast
import atexit
import functools
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.sandbox.inside import wire
from autograder.sandbox.inside.main import BOOT

HERE = Path(__file__).resolve().parent
INSIDE = HERE / "inside"
"""The package that runs inside the sandbox (bound read-only as ``inside``)."""
HARNESS = INSIDE
TESTFUNCS = HERE.parent / "cases" / "testfuncs.py"
NOBODY = 65534
SANDBOX_PACKAGES = ("numpy", "scipy")
"""Packages importable inside the sandbox besides the standard library (when installed)."""


@dataclass
class Limits:
    """Resource limits of one sandbox.

    Attributes
    ----------
    timeout : wall-clock seconds per test (CPU limit = timeout + 1 s).
    accuracy_timeout : seconds for ``kind="accuracy"`` tests (training a model).
    memory_mb : address-space limit of each test process (RLIMIT_AS), MiB.
    nproc : RLIMIT_NPROC of the sandbox's uid (stops fork and thread bombs).
    max_output_mb : largest answer accepted from one test, MiB.
    timing_repeats : alternating baseline/student runs of a timing test (best of each).
    use_bwrap : True / False, or None to use bubblewrap when it is installed.
    uid : uid the sandbox runs as (only when the grader runs as root); None = 65534.
    warm : under bubblewrap, keep one warm template per worker that forks a fresh sandbox per
        submission (NumPy imported once per worker); False = a new bubblewrap per submission.
    """

    timeout: float = 10.0
    accuracy_timeout: float = 120.0
    memory_mb: int = 1024
    nproc: int = 32
    max_output_mb: int = 64
    timing_repeats: int = 3
    use_bwrap: bool | None = None
    uid: int | None = None
    warm: bool = True


@functools.lru_cache(maxsize=1)
def bwrap_path() -> str | None:
    """Path of the ``bwrap`` binary, or None when bubblewrap is not installed."""
    return shutil.which("bwrap") or (os.path.exists("/usr/bin/bwrap") and "/usr/bin/bwrap") or None


@functools.lru_cache(maxsize=1)
def _package_dirs() -> list[Path]:
    """Folders of :data:`SANDBOX_PACKAGES` (and their ``<name>.libs`` folders from wheels);
    NumPy must be installed, SciPy is optional."""
    dirs = []
    for name in SANDBOX_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            if name == "numpy":
                raise RuntimeError("NumPy is not installed in the grader's environment")
            continue
        pkg = Path(list(spec.submodule_search_locations)[0]).resolve()
        dirs.append(pkg)
        libs = pkg.parent / f"{name}.libs"
        if libs.is_dir():
            dirs.append(libs)
    return dirs


@dataclass(frozen=True)
class Runtime:
    """What a sandbox needs from the grader's installation, readable by the sandbox user.

    Attributes
    ----------
    site : folder holding only the :data:`SANDBOX_PACKAGES` (``numpy/``, ``scipy/`` and, in
        wheels, their ``.libs`` folders).
    lib : folder holding only the ``inside`` package (the code run inside the sandbox).
    """

    site: Path
    lib: Path


def _traversable_by_all(path: Path) -> bool:
    """Whether every folder from ``/`` down to ``path`` can be entered by any user."""
    for folder in [path, *path.parents]:
        try:
            if not folder.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # same file system: no data is copied
    except OSError:
        shutil.copy2(src, dst)


@functools.lru_cache(maxsize=1)
def runtime() -> Runtime:
    """NumPy, SciPy and the ``inside`` package where the sandbox user can read them.

    When the grader runs as root, sandboxes run as another, unprivileged uid, which cannot read
    a course (and its ``.venv``) cloned under a private folder (a home folder of mode 700, a
    ``mktemp -d`` folder): bubblewrap then cannot bind NumPy, and Python cannot import it. So
    the trusted side makes a root-owned, read-only, world-readable copy (hard links where the
    file system allows, else copies) in a new private folder under a world-traversable
    temporary folder, once per grading process, and removes it at exit. A grader that is not
    root runs sandboxes as itself and uses its installation in place (a folder of links).
    """
    package_dirs = _package_dirs()
    if os.geteuid() != 0:  # sandboxes run as this user: a folder of links is enough
        root = Path(tempfile.mkdtemp(prefix="fnn-grade-runtime-"))
        atexit.register(shutil.rmtree, root, True)
        (root / "site").mkdir()
        (root / "lib").mkdir()
        for folder in package_dirs:
            (root / "site" / folder.name).symlink_to(folder)
        (root / "lib" / "inside").symlink_to(INSIDE)
        return Runtime(site=root / "site", lib=root / "lib")
    base = next((Path(b) for b in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm")
                 if os.path.isdir(b) and _traversable_by_all(Path(b).resolve())), None)
    if base is None:
        raise RuntimeError("no world-traversable temporary folder for the sandbox runtime "
                           "(tried $TMPDIR, /tmp, /var/tmp, /dev/shm)")
    root = Path(tempfile.mkdtemp(prefix="fnn-grade-runtime-", dir=base))
    atexit.register(shutil.rmtree, root, True)
    site = root / "site"
    site.mkdir()
    for folder in package_dirs:
        shutil.copytree(folder, site / folder.name, copy_function=_link_or_copy,
                        ignore=shutil.ignore_patterns("tests", "__pycache__"))
    (root / "lib").mkdir()
    shutil.copytree(INSIDE, root / "lib" / "inside",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in [root, *root.rglob("*")]:  # read-only for everyone, owner included
        if path.is_dir():
            os.chmod(path, 0o555)
    return Runtime(site=site, lib=root / "lib")


def _python() -> str:
    return os.path.realpath(sys.executable)


def _warn_once(message: str, _seen=set()) -> None:
    if message not in _seen:
        _seen.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


class _Launcher:
    """Builds the command line of one sandbox and cleans up after it."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.tmp = None
        want = limits.use_bwrap
        self.bwrap = bwrap_path() if want in (None, True) else None
        python = _python()
        if self.bwrap and not python.startswith("/usr/"):
            _warn_once(f"the grader's Python ({python}) is not under /usr: running without "
                       "bubblewrap (build the venv from /usr/bin/python3)")
            self.bwrap = None
        if want is True and not self.bwrap:
            raise RuntimeError("bubblewrap was requested but is not usable here")
        if not self.bwrap and want is None:
            _warn_once("bubblewrap (bwrap) not found: student code runs with rlimits and "
                       "timeouts only, without file-system, network or pid isolation. "
                       "Install the Debian package 'bubblewrap'.")
        self.python = python

    def command(self, warm: bool = False) -> tuple[list[str], dict, str]:
        """Command line, environment and working folder of a sandbox: a one-job zygote, or with
        ``warm`` (bubblewrap only) a template that forks a fresh sandbox per job."""
        # RLIMIT_NPROC counts every process of the uid: it is only safe (and only useful) for a
        # dedicated sandbox uid, i.e. when the grader runs as root and can switch to one.
        nproc = str(self.limits.nproc) if os.geteuid() == 0 else "0"
        if os.geteuid() != 0:
            _warn_once("the grader is not running as root, so student code runs as your own "
                       "user and the process limit (fork bombs) is not enforced")
        if self.bwrap:
            # The template needs CAP_SYS_ADMIN (namespaces, mounts), CAP_SYS_RESOURCE
            # (max_user_namespaces) and CAP_SETPCAP (to empty the bounding set) inside the
            # sandbox's user namespace; each submission drops them all before any student code
            # runs. A one-job zygote gets no capabilities at all.
            caps = ["--disable-userns", "--cap-drop", "ALL"]
            if warm:
                caps = ["--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN", "--cap-add",
                        "CAP_SYS_RESOURCE", "--cap-add", "CAP_SETPCAP"]
            cmd = [self.bwrap, "--unshare-all", "--unshare-user", *caps, "--die-with-parent",
                   "--new-session", "--clearenv", "--ro-bind", "/usr", "/usr"]
            for link in ("lib", "lib64", "bin", "sbin"):
                if os.path.islink(f"/{link}"):
                    cmd += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
            files = runtime()
            for entry in sorted(files.site.iterdir()):
                cmd += ["--ro-bind", os.path.realpath(entry), f"/sandbox/site/{entry.name}"]
            cmd += ["--ro-bind", os.path.realpath(files.lib / "inside"), "/sandbox/lib/inside"]
            cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                    "--remount-ro", "/tmp", "--remount-ro", "/dev", "--remount-ro", "/",
                    "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
                    "--setenv", "FNN_NPROC", nproc, "--chdir", "/tmp",
                    self.python, "-I", "-S", "-c",
                    BOOT.format(lib="/sandbox/lib", site="/sandbox/site"),
                    "--template" if warm else "--sweep"]
            return cmd, {}, "/"
        files = runtime()
        self.tmp = tempfile.mkdtemp(prefix="fnn-sandbox-")  # an empty working folder
        os.chmod(self.tmp, 0o755)
        env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "FNN_NPROC": nproc}
        code = BOOT.format(lib=str(files.lib), site=str(files.site))
        return [self.python, "-I", "-S", "-c", code], env, self.tmp

    def popen_kwargs(self) -> dict:
        if os.geteuid() != 0:
            return {}
        uid = self.limits.uid if self.limits.uid is not None else NOBODY
        return {"user": uid, "group": uid, "extra_groups": []}

    def cleanup(self) -> None:
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


@functools.lru_cache(maxsize=1)
def _testfuncs_sources() -> tuple[str, str]:
    """``(full, public)`` source of ``cases/testfuncs.py``: the full one goes only to baseline
    children; ``public`` to test children that get a ``CallableArg``: every statement but the
    functions that ``build`` and ``FUNCTIONS`` do not use (the baselines and their helpers)."""
    if not TESTFUNCS.exists():
        return "", ""
    full = TESTFUNCS.read_text(encoding="utf-8")
    tree = ast.parse(full)
    functions = {node.name: node for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    others = [node for node in tree.body
              if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    used, todo = set(), ["build", *(n.id for node in others for n in ast.walk(node)
                                    if isinstance(n, ast.Name))]
    while todo:
        name = todo.pop()
        if name in functions and name not in used:
            used.add(name)
            todo += [n.id for n in ast.walk(functions[name]) if isinstance(n, ast.Name)]
    tree.body = [node for node in tree.body
                 if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 or node.name in used]
    return full, ast.unparse(tree)


def _has_callable(value) -> bool:
    """Whether ``value`` (inputs: dicts, lists, tuples) holds a ``CallableArg``."""
    if type(value).__name__ == "CallableArg":
        return True
    if isinstance(value, dict):
        return any(_has_callable(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_callable(v) for v in value)
    return False


def _case_timeout(case: dict, limits: Limits) -> float:
    return limits.accuracy_timeout if case.get("kind") == "accuracy" else limits.timeout


class Started:
    """A sandbox process, from :func:`start`; :func:`release` hands it back.

    ``warm`` boxes are templates (see ``inside.template``): they take one job after
    another, each in a fresh sandbox, and go back to a pool between submissions.
    """

    def __init__(self, limits: Limits, warm: bool = False):
        self.launcher = _Launcher(limits)
        self.warm = warm and self.launcher.bwrap is not None
        self.ready = True  # a warm template is ready once it has greeted (see _handshake)
        self.key = _pool_key(limits)
        cmd, env, cwd = self.launcher.command(self.warm)
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, cwd=cwd, close_fds=True,
                                     start_new_session=True, **self.launcher.popen_kwargs())

    def send(self, payload: bytes, deadline: float) -> bool:
        """Send one frame (a job, or a call the zygote asked for); False if the sandbox did
        not take it before ``deadline`` or is gone."""
        try:
            return wire.write_all(self.proc.stdin.fileno(), wire.frame(payload), deadline)
        except (OSError, ValueError):
            return False

    def stderr_tail(self) -> str:
        """The last 2,000 characters the sandbox wrote to stderr ("" once it is closed)."""
        if self.stderr.closed:
            return ""
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode("utf-8", "replace").strip()

    def close(self) -> None:
        """Kill and reap the process (see :func:`_kill`) and remove temporary files."""
        _kill(self.proc)
        self.stderr.close()
        self.launcher.cleanup()


_IDLE: dict[tuple, list[Started]] = {}
"""Warm templates waiting for their next submission, by :func:`_pool_key`."""
_NO_TEMPLATE: set[tuple] = set()
"""Launch settings where a warm template could not be set up: one-job sandboxes there."""
_POOL_LOCK = threading.Lock()


def _pool_key(limits: Limits) -> tuple:
    return (limits.uid, limits.nproc, limits.use_bwrap)


def _start_warm(limits: Limits) -> Started | None:
    """A new warm template (its start-up goes on in the background), or None."""
    box = Started(limits, warm=True)
    if not box.warm:
        box.close()
        return None
    box.ready = False
    return box


def _handshake(box: Started) -> bool:
    """Wait for a new template's greeting; False (and a warning, once) if it cannot work here."""
    hello = _read_frame(box.proc.stdout.fileno(), time.monotonic() + 30.0)
    reply = _decode(hello) if hello is not None else None
    if reply == {"template": True}:
        box.ready = True
        return True
    why = reply.get("why") if type(reply) is dict else box.stderr_tail()
    box.close()  # read the stderr tail first: closing the box closes its file
    _no_template(box, why)
    return False


def _no_template(box: Started, why: str) -> None:
    """Use one-job sandboxes from now on for ``box``'s settings; say why, once."""
    with _POOL_LOCK:
        _NO_TEMPLATE.add(box.key)
    _warn_once(f"warm sandboxes are not available here ({why or 'no answer'}): each "
               "submission starts its own bubblewrap sandbox, which is slower")


def _warm_possible(limits: Limits) -> bool:
    return limits.warm and uses_bwrap(limits) and _pool_key(limits) not in _NO_TEMPLATE


def prestart(limits: Limits) -> None:
    """Start a warm template now and leave it in the pool, so that its interpreter and NumPy
    start-up overlap other work (e.g. the grader's own imports)."""
    if _warm_possible(limits):
        box = _start_warm(limits)
        if box is not None:
            with _POOL_LOCK:
                _IDLE.setdefault(box.key, []).append(box)


def start(limits: Limits) -> Started:
    """A sandbox for the next submission: an idle warm template when there is one (a new one
    otherwise), or a one-job sandbox where warm templates are off or unavailable."""
    key = _pool_key(limits)
    while _warm_possible(limits):
        box = None
        with _POOL_LOCK:
            idle = _IDLE.get(key, [])
            while idle and box is None:
                box = idle.pop()
                if box.proc.poll() is not None:
                    box.close()
                    box = None
        box = box or _start_warm(limits)
        if box is None:
            break
        if box.ready or _handshake(box):
            return box
    return Started(limits)


def release(box: Started, clean: bool = True) -> None:
    """Done with ``box``: a warm template that finished its job cleanly goes back to the pool;
    anything else is killed."""
    if box.warm and clean and box.proc.poll() is None:
        with _POOL_LOCK:
            _IDLE.setdefault(box.key, []).append(box)
    else:
        box.close()


@atexit.register
def close_idle() -> None:
    """Stop every idle warm template (they would also die with this process)."""
    with _POOL_LOCK:
        boxes = [box for idle in _IDLE.values() for box in idle]
        _IDLE.clear()
    for box in boxes:
        box.close()


def run_cases(setup: list[str], cells: list[str], cases: list[dict], limits: Limits,
              stats: dict | None = None) -> dict:
    """Run test cases on one submission's code in sandboxes; one outcome per case.

    Parameters
    ----------
    setup : trusted code run before the cells in every test process (e.g. ``import numpy``).
    cells : the submission's solution cells, in notebook order (untrusted).
    cases : dicts with ``id`` (str), ``function`` (name to call), ``kind`` ("value", "timing"
        or "accuracy"), ``inputs`` (keyword arguments: arrays, numbers, dicts, CallableArg),
        optionally ``hidden`` (the cases are sent visible ones first and answered one after
        another by one fresh test process; a visible case after a hidden one would get a new
        process, so hidden inputs never reach a visible answer) and, for timing cases, ``baseline`` (name of a function in
        ``testfuncs.py``) and ``warmup_inputs`` (other inputs for an untimed first call that
        warms the caches).
    limits : resource limits.
    stats : if given, ``stats["cpu"]`` accumulates the CPU seconds the sandboxes used.

    Returns
    -------
    dict mapping case id to an outcome dict: ``status`` ("ok", "error", "timeout", "crash",
    "too_large", "bad_output", "sandbox_error"), ``message``, ``value`` (the decoded answer when
    status is "ok"), ``inputs_after`` (value and accuracy cases with status "ok": the inputs as
    the function left them, to check that it did not change them in place), ``calls`` (for a
    case with ``count_calls``: how often each named student function was called during the
    call), ``elapsed`` and ``baseline_elapsed`` (seconds, timing cases).
    """
    outcomes: dict[str, dict] = {}
    pending = list(cases)
    restarts = 0
    while pending:
        finished = _run_once(setup, cells, pending, limits, outcomes, stats)
        pending = [c for c in pending if c["id"] not in outcomes]
        restarts += 1
        if pending and (not finished or restarts > len(cases)):
            for case in pending:
                outcomes[case["id"]] = _outcome("sandbox_error", "the sandbox stopped before "
                                                "this test ran")
            break
    return outcomes


def _outcome(status: str, message: str = "", **extra) -> dict:
    return {"status": status, "message": message, "value": None, "elapsed": None,
            "baseline_elapsed": None, **extra}


def _job(setup, cells, pending, limits) -> dict:
    """The job frame's value: code and case metadata, no inputs (see ``inside.zygote``)."""
    job = {"setup": [str(code) for code in setup],
           "cells": [np.frombuffer(str(code).encode("utf-8", "replace"), dtype=np.uint8)
                     for code in cells],
           "max_output": limits.max_output_mb << 20, "max_input": 1 << 30, "cases": []}
    for case in sorted(pending, key=lambda c: bool(c.get("hidden"))):  # visible cases first
        timeout = _case_timeout(case, limits)
        job["cases"].append({"id": str(case["id"]), "function": str(case["function"]),
                             "hidden": bool(case.get("hidden")),
                             "kind": case.get("kind", "value"), "timeout": timeout,
                             "cpu": int(timeout) + 1, "memory_mb": limits.memory_mb,
                             "repeats": limits.timing_repeats,
                             "warmup": case.get("warmup_inputs") is not None})
    return job


def _call(case: dict, call: str, which: str) -> bytes:
    """The encoded call a child gets for ``case`` (see ``inside.zygote``): ``call`` is
    "warmup" or "main", ``which`` is "cells" or "baseline"."""
    inputs = case["warmup_inputs"] if call == "warmup" else case["inputs"]
    full, public = _testfuncs_sources()
    testfuncs = full if which == "baseline" else (public if _has_callable(inputs) else None)
    return wire.encode_value({"function": case["function"], "baseline": case.get("baseline"),
                              "testfuncs": testfuncs, "inputs": inputs,
                              "return_inputs": case.get("kind", "value") != "timing",
                              "count_calls": [str(n) for n in case.get("count_calls") or ()]})


def _run_once(setup, cells, pending, limits, outcomes, stats=None) -> bool:
    """One sandbox over the pending cases. Returns False if it stopped before the first test
    (True when that sandbox was a warm template that cannot set up sandboxes: the cases are
    then retried with one-job sandboxes)."""
    job = _job(setup, cells, pending, limits)
    by_id = {str(case["id"]): case for case in pending}
    calls: dict[tuple, bytes] = {}
    started_any = clean = retry = False
    box = first = None
    try:
        try:
            box = start(limits)
        except OSError as exc:
            _warn_once(f"sandbox failed to start: {exc}")
            return False
        box.send(wire.encode_value(job), time.monotonic() + 60.0)
        fd = box.proc.stdout.fileno()
        for case in job["cases"]:
            budget = case["timeout"] * (2 * case["repeats"] if case["kind"] == "timing" else 1)
            deadline = time.monotonic() + budget + 10.0
            first = _read_frame(fd, deadline)
            message = _decode(first) if first is not None else None
            if type(message) is dict and "rejected" in message:  # the job itself was refused
                why = str(message["rejected"])[:300]
                for other in job["cases"]:
                    outcomes.setdefault(other["id"], _outcome(
                        "sandbox_error", f"the sandbox could not read this submission: {why}"))
                started_any = clean = True
                break
            if message != {"start": case["id"]}:
                break
            started_any = True
            while True:  # the zygote asks for each call when its test process is ready
                head = _read_frame(fd, deadline)
                request = _decode(head) if head is not None else None
                if type(request) is not dict or "need" not in request:
                    break
                key = (request.get("need"), request.get("call"), request.get("for"))
                if (key[0] != case["id"] or key[1] not in ("warmup", "main")
                        or key[2] not in ("cells", "baseline")):
                    head = None
                    break
                if key not in calls:
                    calls[key] = _call(by_id[case["id"]], key[1], key[2])
                if not box.send(calls[key], deadline):
                    head = None
                    break
            value = None
            if head is not None:
                value = _read_frame(fd, deadline, limit=(limits.max_output_mb << 20) + (1 << 16))
            if head is None or value is None:
                timed_out = time.monotonic() >= deadline
                outcomes[case["id"]] = _outcome(
                    "timeout" if timed_out else "crash",
                    "stopped after the time limit" if timed_out else
                    "the test process brought down the sandbox")
                break
            outcomes[case["id"]] = _judge_frames(head, value, case["id"])
        else:
            tail = _decode(_read_frame(fd, time.monotonic() + 2.0) or b"")
            if type(tail) is dict and type(tail.get("stats")) is dict:
                clean = True  # the stats frame is the job's last word
                cpu = tail["stats"].get("cpu")
                if stats is not None and type(cpu) is float:
                    stats["cpu"] = stats.get("cpu", 0.0) + cpu
                if tail["stats"].get("filter"):
                    _warn_once("student code runs without the system-call filter: "
                               f"{str(tail['stats']['filter'])[:200]}")
    finally:
        if box is not None:
            fault = "" if started_any else (_fault(first) or box.stderr_tail())
            if not started_any and box.warm and fault.startswith(SETUP_FAILED):
                _no_template(box, fault)  # this template cannot make sandboxes: retry without
                retry = True
            elif not started_any and fault:
                _warn_once(f"a sandbox stopped before its first test: {fault}")
            release(box, clean)
    return started_any or retry


SETUP_FAILED = "sandbox set-up failed"
"""How a warm template's error frame starts when it cannot set up a submission's sandbox."""


def _fault(data: bytes | None) -> str:
    """The reason in an ``{"error": ...}`` frame from a template, or ""."""
    message = _decode(data) if data else None
    return str(message.get("error", ""))[:300] if type(message) is dict else ""


def _read_frame(fd: int, deadline: float, limit: int = 1 << 22) -> bytes | None:
    header = wire.read_exact(fd, 8, deadline)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if size > limit:
        return None
    return wire.read_exact(fd, size, deadline)


def _decode(data: bytes):
    try:
        return wire.decode_value(data)
    except wire.WireError:
        return None


def _judge_frames(head: bytes, value: bytes, case_id: str) -> dict:
    """Turn the zygote's report and the child's raw answer into an outcome (never trusts it)."""
    report = _decode(head)
    if type(report) is not dict or report.get("result") != case_id:
        return _outcome("bad_output", "unreadable report from the sandbox")
    status = str(report.get("status", "crash"))
    outcome = _outcome(status, str(report.get("message", ""))[:500],
                       elapsed=report.get("elapsed"),
                       baseline_elapsed=report.get("baseline_elapsed"))
    if status != "ok":
        return outcome
    try:
        answer = wire.decode_value(value)
    except wire.WireError as exc:
        return _outcome("bad_output", f"the answer could not be read: {exc}")
    if type(answer) is dict and set(answer) == {"error"}:
        outcome.update(status="error", message=str(answer["error"])[:500])
    elif type(answer) is dict and "ok" in answer and set(answer) <= {"ok", "inputs_after", "calls"}:
        outcome["value"] = answer["ok"]
        for key in ("inputs_after", "calls"):
            if key in answer:
                outcome[key] = answer[key]
    else:
        return _outcome("bad_output", "the answer had an unexpected layout")
    return outcome


def _kill(proc: subprocess.Popen) -> None:
    """Kill the sandbox's process group (bwrap takes the sandbox with it) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.kill()
    except OSError:
        pass
    for stream in (proc.stdout, proc.stdin):
        try:
            if stream:
                stream.close()
        except OSError:
            pass
    proc.wait()


def uses_bwrap(limits: Limits) -> bool:
    """Whether sandboxes with these limits run under bubblewrap."""
    return (limits.use_bwrap is not False and bwrap_path() is not None
            and _python().startswith("/usr/"))
