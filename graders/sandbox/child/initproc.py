"""The mini-init: trusted PID 1 of the job's pid namespace, between the supervisor and the runner.

Why a separate PID 1: the kernel drops signals to a namespace's PID 1 that it has no handler for (SIGXCPU from
RLIMIT_CPU included), and when PID 1 exits it SIGKILLs everything left in the namespace. So the student's code
must not be PID 1, and a trusted PID 1 that exits at the end of the job is the one sure way to end every process
the job made (``setsid`` + double fork included) without tracking them.

It unshares its own mount namespace, makes every mount private (nothing propagates back to the host), mounts a
size-limited tmpfs on the job directory and a fresh ``/proc`` (that lists only this namespace's processes), forks
the runner (PID 2), then waits for whichever comes first: the runner's exit or a word from the supervisor on the
control pipe (the deadline passed), on which it SIGKILLs the runner. It then kills and reaps everything else,
writes one frame on its report pipe (the runner's exact wait status and rusage) and exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from graders.sandbox.child import confine, namespaces, runner, wire
else:
    import confine
    import namespaces
    import runner
    import wire

SETUP_FAILED = 72  # the init's exit status when it could not build the namespace (nothing of the student ran)
HOSTNAME = "sandbox"


def start(
    job: dict[str, Any],
    inputs_blob: bytes,
    fds: dict[str, int],
    jobdir: str,
    deadline: float,
    *,
    control_fd: int,
    report_fd: int,
) -> NoReturn:
    """Entry point in the supervisor's freshly forked child, which is PID 1 of the new pid namespace."""
    try:
        _die_with_supervisor()
        _build_namespace(jobdir, tmpfs_mb=int(job["limits"]["fsize_mb"]) * 4, uid=job["sandbox"]["uid"])
        pid = os.fork()
        if pid == 0:
            os.close(control_fd)
            os.close(report_fd)
            runner.start(job, inputs_blob, fds, jobdir, deadline, parent=1)
        for fd in fds.values():
            os.close(fd)  # only the runner writes on its pipes: EOF reaches the supervisor when it ends
        status, usage = _wait_or_kill(pid, control_fd)
        report = {
            "status": status,
            "utime": usage.ru_utime,
            "stime": usage.ru_stime,
            "maxrss": usage.ru_maxrss,
        }
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            wire.write_all(report_fd, wire.encode({"setup_failed": str(exc)[:500]}))
        os._exit(SETUP_FAILED)
    _kill_everyone_else()
    wire.write_all(report_fd, wire.encode(report))
    os._exit(0)


def _die_with_supervisor() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")


def _build_namespace(jobdir: str, *, tmpfs_mb: int, uid: int | None) -> None:
    namespaces.unshare(namespaces.CLONE_NEWNS)
    namespaces.mount(None, "/", None, namespaces.MS_REC | namespaces.MS_PRIVATE)
    nosuid = namespaces.MS_NOSUID | namespaces.MS_NODEV
    # the job directory: RAM-backed, capped, gone with the namespace, owned by the slot's uid; files bigger
    # than RLIMIT_FSIZE fail anyway
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    options = f"size={tmpfs_mb}m,nr_inodes=4096,mode=0700{owner}"
    namespaces.mount("memlab-job", jobdir, "tmpfs", nosuid, options)
    if uid is not None:
        namespaces.expose_read_only(
            confine.install_paths()
        )  # before /proc is replaced: it uses /proc/self/fd
    namespaces.mount("proc", "/proc", "proc", nosuid | namespaces.MS_NOEXEC)
    namespaces.sethostname(HOSTNAME)


def _wait_or_kill(pid: int, control_fd: int) -> tuple[int, Any]:
    """The runner's wait status and rusage; SIGKILL it first if the supervisor writes (or closes) ``control_fd``."""
    pidfd = os.pidfd_open(pid)
    with selectors.DefaultSelector() as selector:
        selector.register(pidfd, selectors.EVENT_READ)
        selector.register(control_fd, selectors.EVENT_READ)
        events = selector.select()
    if any(key.fd == control_fd for key, _ in events):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    os.close(pidfd)
    return status, usage


def _kill_everyone_else() -> None:
    """SIGKILL every other process of the namespace (kill(-1) from PID 1 spares only itself) and reap them."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
