"""Sweeping a job's leftover processes: the zygote and each supervisor are *child subreapers*.

A process that loses its parent is handed to its nearest subreaper ancestor instead of PID 1. So whatever the
student's code leaves behind (children in the runner's group, or processes that called ``setsid`` and
double-forked to escape it) ends up as a child of the supervisor, or of the zygote if the supervisor is gone,
and :func:`sweep` kills and reaps it. Killing a child hands us its own children, hence the loop.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time

PR_SET_CHILD_SUBREAPER = 36


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
