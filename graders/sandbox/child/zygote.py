"""The zygote: a clean, torch-loaded interpreter (started by ``launch.py``) that forks one supervisor per job.

It speaks frames on its end of a socket pair: it announces itself with ``ready``, then serves jobs one at a time
(read a request, fork a supervisor, relay the supervisor's result frame if it is complete, otherwise answer
``lost``). It exits when the socket closes or on anything it does not understand; the grader then restarts it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import torch

if TYPE_CHECKING:
    from graders.sandbox.child import (
        confine,
        landlock,
        layers,
        namespaces,
        prefork,
        reap,
        seccomp_filter,
        supervisor,
        wire,
    )
else:
    import confine
    import landlock
    import layers
    import namespaces
    import prefork
    import reap
    import seccomp_filter
    import supervisor
    import wire

MAX_INPUT = 64 << 20
MAX_RELAY = 80 << 20
SUPERVISOR_FAILED = 70
LAYERS = [
    "zygote-fork",
    "clean-env",
    "setsid",
    "closed-fds",
    "private-tmpdir",
    "rlimits",
    "wall-kill",
    "subreaper-sweep",
]


def serve(sock_fd: int, *, no_namespaces: bool = False, slot: int = 0) -> int:
    """Serve jobs on ``sock_fd``; ``no_namespaces`` (the grader's ``MEMLAB_SANDBOX_NO_NAMESPACES=1``) forces
    the fallback. The layers are decided once here, probed on this machine, and listed in the ready frame; if
    they are too weak (:func:`layers.decide`), the ready frame says ``refuse`` and no job is ever run."""
    # Ctrl-C in a terminal reaches the whole process group: the grader decides when its zygote stops (it closes
    # the socket), so the zygote itself ignores SIGINT instead of dying mid-job with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    reap.become_subreaper()
    namespaces_problem = None if no_namespaces else namespaces.probe()
    uid_problem = None
    if (no_namespaces or namespaces_problem is not None) and 0 <= slot < layers.MAX_SLOTS:
        # the fallback reaches the install as the slot's uid through held descriptors: does it work here?
        uid_problem = confine.probe_uid(layers.UID_BASE + slot)
    sandbox = layers.decide(
        forced_off=no_namespaces,
        namespaces_problem=namespaces_problem,
        landlock_abi=landlock.abi_version(),
        slot=slot,
        uid_problem=uid_problem,
    )
    seccomp_filter.prepare()  # each runner installs these bytes instead of building the filter again
    swept = supervisor.sweep_jobdirs(slot)  # left by supervisors killed with an earlier zygote of this slot
    settled = prefork.settle()  # last before serving: what the jobs' forks copy from here on is fixed
    ready = {
        "type": "ready",
        "pid": os.getpid(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "prefork": settled,
        "swept_jobdirs": swept,
    }
    active = LAYERS + layers.layer_names(sandbox)
    try:
        wire.write_all(
            sock_fd, wire.encode(ready | {"layers": active, "euid": os.geteuid(), "sandbox": sandbox})
        )
    except (
        OSError
    ):  # the grader closed its end while this zygote booted (it was shutting down): nothing to serve
        return 0
    if sandbox["refuse"]:
        return 0
    while True:
        try:
            header, body = wire.read_frame(sock_fd, max_body=MAX_INPUT)
        except (wire.FrameError, OSError):
            return 0  # the grader went away or spoke garbage: stop, it will start a fresh zygote
        if header.get("type") == "ping":
            wire.write_all(sock_fd, wire.encode({"type": "pong"}))
        elif header.get("type") == "job":
            wire.write_all(sock_fd, run_job(header | {"sandbox": sandbox}, body, sock_fd))
        else:
            return 0


def run_job(job: dict[str, Any], body: bytes, sock_fd: int) -> bytes:
    """Fork a supervisor for ``job``; return its result frame, or a ``lost`` frame if it did not finish."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        _become_supervisor(job, body, sock_fd, read_end, write_end)
    os.close(write_end)
    data = _read_to_eof(read_end, pid)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    reap.sweep()  # anything handed up to us from a supervisor that died before sweeping
    try:
        frames = wire.split_stream(data, max_body=MAX_RELAY)
    except wire.FrameError:
        frames = []
    started = frames[0][0] if frames and frames[0][0].get("type") == "started" else {}
    if status == 0 and len(frames) == 2 and frames[1][0].get("type") == "result":
        return wire.encode(*frames[1])
    if isinstance(started.get("runner_pid"), int):
        _kill_group(started["runner_pid"])  # the supervisor died with its runner possibly still running
    detail = f"supervisor ended with status {os.waitstatus_to_exitcode(status)}"
    return wire.encode({"type": "lost", "job": job.get("id"), "detail": detail, "started": bool(started)})


def _become_supervisor(
    job: dict[str, Any], body: bytes, sock_fd: int, read_end: int, write_end: int
) -> NoReturn:
    try:
        os.close(read_end)
        os.close(sock_fd)
        if ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0) != 0:  # PR_SET_PDEATHSIG: die with the zygote
            os._exit(SUPERVISOR_FAILED)
        supervisor.supervise(job, body, write_end)
    finally:
        os._exit(SUPERVISOR_FAILED)


def _read_to_eof(fd: int, supervisor_pid: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := os.read(fd, 1 << 20):
        size += len(chunk)
        if size > MAX_RELAY:  # cannot happen with a sane supervisor; stop it and answer "lost"
            os.kill(supervisor_pid, signal.SIGKILL)
            return b""
        chunks.append(chunk)
    return b"".join(chunks)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
