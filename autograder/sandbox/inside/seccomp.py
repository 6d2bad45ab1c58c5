"""A system-call filter for each submission: closes what the namespaces leave shared.

Why a hand-written filter and not libseccomp's Python bindings: the filter is a short list of
refused calls, the classic BPF program for it is 30-odd instructions built below, and writing
it here keeps the inside of the sandbox free of any package besides NumPy/SciPy (the bindings
live in ``/usr/lib/python3/dist-packages``, which would have to go on the sandbox's
``sys.path`` and bring every other Debian Python package with it). It works the same in all
three sandbox kinds (warm template, one-job bubblewrap, plain rlimits) and needs only
``prctl`` from the C library.

The filter answers EPERM to (numbers for x86_64 and aarch64; elsewhere no filter is installed
and :func:`install` says so):

* ``add_key``, ``request_key``, ``keyctl``: the kernel keyrings of a uid (user and
  user-session keyrings, the persistent keyring) belong to the user namespace, which all
  submissions of one warm template share (and, without bubblewrap, every process of the uid
  on the machine): a key added by one submission would be there for the next;
* ``perf_event_open``, ``userfaultfd``, ``bpf``, ``io_uring_*``, ``syslog``: kernel
  interfaces that observe other processes or widen the kernel's attack surface, and none of
  which NumPy needs (io_uring operations would bypass this very filter);
* ``personality``, ``sethostname``, ``setdomainname``: process and UTS settings;
* ``ptrace``, ``process_vm_readv``, ``process_vm_writev``: no test process reads another;
* ``inotify_*``, ``fanotify_init``, ``flock``, ``fcntl`` with ``F_SETLK``/``F_SETLKW``/
  ``F_OFD_SETLK``/``F_OFD_SETLKW``/``F_NOTIFY``: file watches and locks on the read-only
  ``/usr`` that every sandbox shares would let two sandboxes running at the same time signal
  each other;
* ``socket`` of any family but ``AF_UNIX``, ``AF_INET``, ``AF_INET6`` (the network
  namespace is empty; ``AF_VSOCK`` or ``AF_NETLINK`` would reach past it or into the
  kernel);
* every call of another ABI (i386 through ``int 0x80``, x32 on x86_64).

Everything else (threads, ``fork``, ``mmap``, NumPy, SciPy) is allowed. Filters are inherited
by every child and cannot be removed; ``no_new_privs`` is set first (needed without
CAP_SYS_ADMIN).
"""
from __future__ import annotations

import os
import struct

_EPERM = 1
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000 | _EPERM
_LD_W_ABS, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
_AF_ALLOWED = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6
_LOCK_CMDS = (6, 7, 37, 38, 1026)  # F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW, F_NOTIFY

# audit architecture, refused calls, socket, fcntl, and the first number of another ABI (x32)
_TABLES = {
    "x86_64": (0xC000003E, {
        "add_key": 248, "request_key": 249, "keyctl": 250, "perf_event_open": 298,
        "userfaultfd": 323, "bpf": 321, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "syslog": 103, "personality": 135, "sethostname": 170,
        "setdomainname": 171, "ptrace": 101, "process_vm_readv": 310,
        "process_vm_writev": 311, "inotify_init": 253, "inotify_init1": 294,
        "inotify_add_watch": 254, "fanotify_init": 300, "flock": 73}, 41, 72, 0x40000000),
    "aarch64": (0xC00000B7, {  # asm-generic/unistd.h numbering
        "add_key": 217, "request_key": 218, "keyctl": 219, "perf_event_open": 241,
        "userfaultfd": 282, "bpf": 280, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "syslog": 116, "personality": 92, "sethostname": 161,
        "setdomainname": 162, "ptrace": 117, "process_vm_readv": 270,
        "process_vm_writev": 271, "inotify_init1": 26, "inotify_add_watch": 27,
        "fanotify_init": 262, "flock": 32}, 198, 25, None),
}

REFUSED = tuple(sorted(_TABLES["x86_64"][1]))
"""Names of the system calls the filter refuses outright (see the module docstring)."""


def program(machine: str | None = None) -> bytes | None:
    """The filter as packed ``struct sock_filter`` instructions, or None for an unknown
    architecture. ``machine`` defaults to ``os.uname().machine``."""
    table = _TABLES.get(machine or os.uname().machine)
    if table is None:
        return None
    arch, refused, socket_nr, fcntl_nr, other_abi = table
    code: list[tuple[int, object, object, int]] = []  # (op, jump if true, if false, k)

    def op(kind, k, true=0, false=0):
        code.append((kind, true, false, k))

    op(_LD_W_ABS, 4)  # seccomp_data.arch
    op(_JEQ, arch, 0, "deny")
    op(_LD_W_ABS, 0)  # seccomp_data.nr
    if other_abi is not None:
        op(_JGE, other_abi, "deny", 0)
    for nr in sorted(refused.values()):
        op(_JEQ, nr, "deny", 0)
    op(_JEQ, socket_nr, "socket", 0)
    op(_JEQ, fcntl_nr, "fcntl", 0)
    op(_RET, _RET_ALLOW)
    labels = {"socket": len(code)}
    op(_LD_W_ABS, 16)  # low half of args[0]: the address family
    for family in _AF_ALLOWED:
        op(_JEQ, family, "allow", 0)
    op(_RET, _RET_ERRNO)
    labels["fcntl"] = len(code)
    op(_LD_W_ABS, 24)  # low half of args[1]: the command
    for cmd in _LOCK_CMDS:
        op(_JEQ, cmd, "deny", 0)
    labels["allow"] = len(code)
    op(_RET, _RET_ALLOW)
    labels["deny"] = len(code)
    op(_RET, _RET_ERRNO)
    out = []
    for index, (kind, true, false, k) in enumerate(code):
        jumps = [labels[j] - index - 1 if isinstance(j, str) else j for j in (true, false)]
        if not all(0 <= j < 256 for j in jumps):
            raise ValueError(f"jump out of range at instruction {index}: {jumps}")
        out.append(struct.pack("=HBBI", kind, jumps[0], jumps[1], k))
    return b"".join(out)


def install(libc) -> str:
    """Set ``no_new_privs`` and install the filter in this process (inherited by its
    children). Returns "" when installed, else why not (an unknown architecture). Raises
    OSError when the kernel refuses it.

    Parameters
    ----------
    libc : ``ctypes.CDLL(None, use_errno=True)``.
    """
    import ctypes

    code = program()
    if code is None:
        return f"no system-call filter for the {os.uname().machine} architecture"
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    buffer = ctypes.create_string_buffer(code, len(code))
    prog = Program(len(code) // 8, ctypes.cast(buffer, ctypes.c_char_p))
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"installing the system-call filter failed: {os.strerror(err)}")
    return ""
