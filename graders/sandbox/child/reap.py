"""Sweeping a job's leftover processes: the zygote and each supervisor are *child subreapers*.

A process that loses its parent is handed to its nearest subreaper ancestor instead of PID 1. So whatever the
student's code leaves behind (children in the runner's group, or processes that called ``setsid`` and
double-forked to escape it) ends up as a child of the supervisor, or of the zygote if the supervisor is gone,
and :func:`sweep` kills and reaps it. Killing a child hands us its own children, hence the loop.

Without a pid namespace a process can still leave both the runner's group and the subreaper's reach (one
reparented elsewhere, e.g. by a subreaper or a ptracer of its own). It cannot leave the slot's uid, so
:func:`sweep_uid` finishes the job: a helper that is that uid alone calls ``kill(-1, SIGKILL)``, which reaches
every process of the uid but the helper itself, wherever it sits in the process tree.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time

PR_SET_CHILD_SUBREAPER = 36
UID_SWEEP_FAILED = 3  # the helper's exit status when processes of the uid were still alive at its time limit


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def sweep(limit_s: float = 1.0) -> int:
    """SIGKILL and reap every child of this process until none is left (or ``limit_s`` passes).

    Call it only when this process has no child it wants to keep. Returns how many processes were killed.
    """
    end = time.monotonic() + limit_s
    killed: set[int] = set()
    while True:
        _reap_dead()
        alive = _children()
        if not alive or time.monotonic() > end:
            return len(killed)
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.001)  # let the kills land before reaping


def _reap_dead() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _children() -> list[int]:
    pids: list[int] = []
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(FileNotFoundError), open(f"/proc/self/task/{tid}/children") as listing:
            pids += [int(pid) for pid in listing.read().split()]
    return pids


def sweep_uid(uid: int, limit_s: float = 1.0) -> bool:
    """SIGKILL every process whose real or saved uid is ``uid``, from a forked helper running as ``uid``.

    Call it as root (the helper needs ``CAP_SETUID``), with nothing of ``uid`` worth keeping. Returns True once
    no live process of ``uid`` is left (zombies excepted: their parents reap them), False past ``limit_s``.
    ``kill(-1)`` fails with ``ESRCH`` only when no other process exists at all (processes it may not signal
    count too), so its return value cannot end the loop: ``/proc`` is read instead."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)  # now kill(-1) reaches this uid's processes and nothing else
            status = 0 if _kill_uid_until_gone(uid, time.monotonic() + limit_s) else UID_SWEEP_FAILED
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _kill_uid_until_gone(uid: int, end: float) -> bool:
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return True  # no other process on the machine at all
        if not live_processes_of(uid) or time.monotonic() > end:
            return not live_processes_of(uid)
        time.sleep(0.001)  # a killed process takes a moment to become a zombie


def live_processes_of(uid: int) -> list[int]:
    """Pids (but this one's) whose real or saved uid is ``uid`` and that are not zombies: what ``kill(-1)``
    as ``uid`` reaches."""
    me = os.getpid()
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/status", encoding="ascii", errors="replace") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue  # gone meanwhile
        uids = fields.get("Uid", "").split()
        state = fields.get("State", "").split()[:1]
        if len(uids) >= 3 and str(uid) in (uids[0], uids[2]) and state not in (["Z"], ["X"]):
            found.append(int(name))
    return found
