"""Linux namespaces and mounts through ctypes (Python 3.11 has no ``os.unshare`` and no ``mount``).

The supervisor unshares the pid, net, ipc and uts namespaces before forking the mini-init (see :mod:`initproc`);
the mini-init, PID 1 of the new pid namespace, unshares the mount namespace itself, so that the supervisor keeps
the host's mounts (its ``/proc/self`` stays right, and it can remove the job directory afterwards).

A new net namespace holds only a loopback interface that is down: no route anywhere, not even to 127.0.0.1 of
the host. A new ipc namespace has no System V objects or POSIX queues of the host; a new uts namespace lets us
name the host ``sandbox`` without touching the real one.

:func:`probe` tells at zygote start whether this machine allows all of it (an unprivileged container does not:
``unshare`` fails with ``EPERM``); the sandbox then falls back to the layers that need no namespace.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
# what the supervisor unshares; the mount namespace is the mini-init's own (see the module docstring)
SUPERVISOR_FLAGS = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
ALL_FLAGS = SUPERVISOR_FLAGS | CLONE_NEWNS

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def raw(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    _check(_libc.mount(raw(source), raw(target), raw(fstype), flags, raw(data)), f"mount {target}")


def blocked_ancestor(path: str) -> str | None:
    """The topmost directory above ``path`` that other users cannot search (mode without o+x), if any."""
    parts = os.path.abspath(path).split(os.sep)[1:-1]
    for depth in range(1, len(parts) + 1):
        ancestor = os.sep + os.path.join(*parts[:depth])
        if not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def expose_read_only(paths: list[str]) -> None:
    """Make ``paths`` reachable by any uid in this mount namespace, read-only, when a 0700 home hides them.

    The home (e.g. ``/root``, where pyenv put the interpreter) is covered by an empty tmpfs that anyone may
    search, and only ``paths`` are bound back into it, read-only: the rest of the home disappears.
    """
    tops = sorted({os.path.abspath(p) for p in paths})
    tops = [p for p in tops if not any(p != q and p.startswith(q + os.sep) for q in tops)]
    hidden: dict[str, list[str]] = {}
    for path in tops:
        blocked = blocked_ancestor(path)
        if blocked is not None and os.path.isdir(path):
            hidden.setdefault(blocked, []).append(path)
    for home, inside in hidden.items():
        handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for path in inside}
        try:
            mount("memlab-home", home, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
            for path, fd in handles.items():
                os.makedirs(path, mode=0o755, exist_ok=True)
                mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
                mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        finally:
            for fd in handles.values():
                os.close(fd)


def sethostname(name: str) -> None:
    raw = name.encode("ascii")
    _check(_libc.sethostname(raw, len(raw)), "sethostname")


def probe() -> str | None:
    """``None`` if a forked child can unshare every namespace we use, else why not (e.g. ``EPERM``).

    Done in a throwaway child so that the caller (the zygote) stays in the host's namespaces.
    """

    def attempt() -> None:
        unshare(ALL_FLAGS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)

    return in_throwaway_child(attempt, "the namespace probe died")


def in_throwaway_child(attempt: Callable[[], object], died: str) -> str | None:
    """Run ``attempt`` in a forked child that then exits: ``None`` if it returned, else what it raised (or
    ``died`` if the child ended without a word). Whatever it changed in its process is gone with the child."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            attempt()
            os.write(write_end, b"ok")
        except BaseException as exc:
            os.write(write_end, f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")[:500])
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        said = answer.read().decode("utf-8", "replace")
    os.waitpid(pid, 0)
    return None if said == "ok" else said or died
