"""The warm template: one per grading worker, a fresh sandbox for every job (runs inside).

``python -I -S ... --template`` runs inside bubblewrap with CAP_SYS_ADMIN, CAP_SYS_RESOURCE and
CAP_SETPCAP in the sandbox's own user namespace. It imports NumPy once, never decodes a job and
never runs student code. For each job (a frame on stdin) it forks a submission process with new
mount, pid, IPC, network and UTS namespaces; that process's child, pid 1 of the new pid
namespace, mounts its own /proc and a private /tmp, sets ``no_new_privs``, drops every
capability, installs the system-call filter (:mod:`.seccomp`) and runs the job as the
submission's zygote (:func:`.zygote.run_job`), which reads the job's calls from the same stdin
while the template waits. When it exits the kernel kills whatever is left in its pid
namespace, and only then does the template read the next job: nothing of one submission
(processes, files, shared memory, sockets, keys) is there for the next, which starts from the
template's pristine memory.
"""
from __future__ import annotations

import os

from . import zygote
from .wire import encode_value, frame, read_frame_into, wipe, write_all

_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
_CLONE_NEWPID, _CLONE_NEWNET = 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MNT_DETACH = 2
_PR_SET_NO_NEW_PRIVS = 38
TMP_SIZE = "size=16m,nr_inodes=1024,mode=1777"
"""Options of each submission's private, writable /tmp (a tmpfs)."""


def _check(result: int, what: str) -> None:
    """Raise OSError naming ``what`` when a libc call returned non-zero."""
    if result != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def template_main(argv) -> int:
    """Entry point of a warm sandbox (``--template``): one per grading worker, many jobs.

    Runs inside bubblewrap with CAP_SYS_ADMIN, CAP_SYS_RESOURCE and CAP_SETPCAP in the sandbox's
    own user namespace. It imports NumPy once, never decodes a job and never runs student code. For
    each job (a frame on stdin) it forks a submission process that gets new mount, pid, IPC and
    network namespaces; that process's child, pid 1 of the new pid namespace, mounts its own
    /proc and a private /tmp, drops every capability and runs the job like a one-job zygote.
    When it exits the kernel kills whatever is left in its pid namespace, and only then does the
    template read the next job: nothing of one submission (processes, files, shared memory,
    sockets) is there for the next, which starts from the template's pristine memory.
    """
    zygote.set_not_dumpable()
    zygote.process_limits()
    try:
        if zygote._LIBC is None:
            raise OSError("ctypes is not available")
        _prepare_template()
    except OSError as exc:
        write_all(1, frame(encode_value({"template": False, "why": str(exc)[:300]})))
        return 3
    write_all(1, frame(encode_value({"template": True})))
    while True:
        job = read_frame_into(0, 1 << 31)
        if job is None:
            return 0
        pid = zygote._fork_with_retry()
        if pid == 0:
            _submission_process(job)  # never returns
        wipe(job)  # the next submission's processes are forks of this one
        del job
        if pid is None:
            write_all(1, frame(encode_value({"error": "could not fork"})))
            continue
        os.waitpid(pid, 0)


def _prepare_template() -> None:
    """Own mount namespace with a fully visible /proc (so that submissions can mount theirs),
    and no user namespaces for anything started below (``max_user_namespaces`` = 0)."""
    libc = zygote._LIBC
    _check(libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    for point in sorted((p for p in points if p.startswith("/proc/")), reverse=True):
        _check(libc.umount2(point.encode(), _MNT_DETACH), f"umount {point}")
    with open("/proc/sys/user/max_user_namespaces", "w") as fh:
        fh.write("0")


def _submission_process(job: bytearray) -> None:
    """Forked from the template: new namespaces, then a child that is pid 1 there and runs the
    job. Never returns."""
    code = 5
    try:
        _check(zygote._LIBC.unshare(_CLONE_NEWNS | _CLONE_NEWUTS | _CLONE_NEWPID | _CLONE_NEWIPC
                                    | _CLONE_NEWNET), "unshare")
        pid = zygote._fork_with_retry()
        if pid is None:
            raise OSError("fork: process limit reached")
        if pid == 0:
            try:
                _enter_fresh_sandbox()
                code = zygote.run_job(job, sweep=True)
            except BaseException as exc:
                write_all(1, frame(encode_value({"error": f"sandbox set-up failed: {exc}"})))
            finally:
                os._exit(code)
        wipe(job)
        _, status = os.waitpid(pid, 0)
        if status != 0:  # the parent learns it now instead of at its deadline
            write_all(1, frame(encode_value({"error": f"the zygote stopped (status {status})"})))
        code = 0
    except BaseException as exc:
        try:
            write_all(1, frame(encode_value({"error": f"sandbox set-up failed: {exc}"})))
        except OSError:
            pass
    finally:
        os._exit(code)


def _enter_fresh_sandbox() -> None:
    """In pid 1 of a new pid namespace: own /proc (/proc/sys read-only), a private writable
    /tmp, no new privileges and no capabilities. Raises OSError if any step fails."""
    import signal as signals

    libc = zygote._LIBC
    signals.signal(signals.SIGINT, signals.SIG_IGN)  # pid 1 must not die of a stray Ctrl-C
    _check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    hardened = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    _check(libc.mount(b"proc", b"/proc", b"proc", hardened, None), "mount /proc")
    _check(libc.mount(b"/proc/sys", b"/proc/sys", None, _MS_BIND | _MS_REC, None),
           "bind /proc/sys")
    _check(libc.mount(None, b"/proc/sys", None,
                      _MS_BIND | _MS_REMOUNT | _MS_RDONLY | hardened, None),
           "read-only /proc/sys")
    _check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, TMP_SIZE.encode()),
           "mount /tmp")
    os.chdir("/tmp")
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _drop_capabilities()
    why = zygote.install_filter()
    if why:
        raise OSError(why)


def _drop_capabilities() -> None:
    """Empty every capability set (bounding, effective, permitted, inheritable, ambient) and
    check that they are empty."""
    import ctypes

    libc = zygote._LIBC
    for cap in range(64):  # PR_CAPBSET_DROP (needs CAP_SETPCAP, dropped last of all)
        if libc.prctl(24, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:  # EINVAL: no cap
            _check(-1, f"drop capability {cap} from the bounding set")

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    _check(libc.capset(ctypes.byref(header), data), "capset")
    with open("/proc/self/status") as fh:
        caps = {k: v.strip() for k, v in (line.split(":", 1) for line in fh if line[:3] == "Cap")}
    for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(caps.get(name, "1"), 16) != 0:
            raise OSError(f"capabilities are still held ({name} {caps.get(name)})")


