"""The runner: the forked process that confines itself, runs the student's code and sends back raw tensors.

Everything before :func:`confine` returns is trusted; from the first ``exec`` of the submission on, this process
is the student's. It therefore decides nothing: it runs the schedule the parent sent, checks what the student
returned only as far as needed to serialise it, and writes one frame (JSON status + safetensors of outputs) on
its result pipe (see :mod:`schedule` for the ops). The parent re-checks everything and computes the verdict.
"""

from __future__ import annotations

import contextlib
import errno
import io
import linecache
import os
import resource
import signal
import struct
import sys
import time
from typing import TYPE_CHECKING, Any, NoReturn

import safetensors.torch

if TYPE_CHECKING:
    from graders.sandbox.child import confine as layers
    from graders.sandbox.child import schedule, tensorwire, wire
else:
    import confine as layers
    import schedule
    import tensorwire
    import wire

ALARM_MARGIN_S = 0.25
CONFINE_FAILED = 71  # exit status when confinement failed, before any student code ran
RESULT_FD = 3
READY_FD = 4  # open only until the runner is confined: then it writes the time and closes it
# the CPU-mark channel (open in every job; used where the schedule marks, see ``schedule``): the runner writes a
# byte to MARK_FD and waits for one on ACK_FD; in between, the supervisor reads the runner's CPU clock
MARK_FD, ACK_FD = 5, 6


def start(
    job: dict[str, Any], inputs_blob: bytes, fds: dict[str, int], jobdir: str, deadline: float, *, parent: int
) -> NoReturn:
    """Entry point in the freshly forked runner: confine, run the schedule, send one frame, exit.

    ``deadline`` is the supervisor's wall-clock deadline (``time.monotonic``); the runner's own alarm fires a
    little earlier so that it can still report which call was running. ``parent`` is the pid the runner must
    see as its parent (the supervisor, or the mini-init: 1); if it does not, its parent already died.
    """
    try:
        confine(job["limits"], fds, jobdir, parent)
        inputs = safetensors.torch.load(inputs_blob)
        code = compile(job["source"], schedule.SUBMISSION_FILE, "exec", dont_inherit=True)
        linecache.cache[schedule.SUBMISSION_FILE] = (
            len(job["source"]),
            None,
            job["source"].splitlines(True),
            schedule.SUBMISSION_FILE,
        )
        layers.apply(job["sandbox"], jobdir)  # Landlock, uid, no capabilities, seccomp: the last trusted step
        # the sandbox is up: tell the supervisor when (for the timings), then close the channel for good
        os.write(READY_FD, struct.pack("=d", time.monotonic()))
        os.close(READY_FD)
        _arm_alarms(deadline - ALARM_MARGIN_S)
    except BaseException:
        os._exit(CONFINE_FAILED)
    header, saved = schedule.Interpreter(code, job.get("params", {}), inputs, mark=_mark).run(job["schedule"])
    _disarm_alarms()
    _flush_std()
    _send(header, saved, op=len(job["schedule"]))
    os._exit(0)


def _send(header: dict[str, Any], saved: dict[str, Any], *, op: int) -> None:
    """One frame on the result pipe: the schedule's header and outputs, or, when they cannot be packed, a report
    of what the student's code used up (:func:`unsendable`) with no outputs."""
    frame: bytes | None = None
    try:
        frame = wire.encode(header, tensorwire.pack(saved))
    except (
        Exception
    ) as exc:  # the outputs were checked when saved: what fails here is a resource the code used up
        header = unsendable(exc, op=op)
    if frame is None:  # outside the handler, so that the error's frames no longer hold the tensors
        saved.clear()
        frame = wire.encode(header, tensorwire.pack({}))
    wire.write_all(RESULT_FD, frame)


EXHAUSTED = {  # what a result that could not be packed ran out of, by the errno of the error that stopped it
    errno.EMFILE: "descriptors",
    errno.ENFILE: "descriptors",
    errno.EAGAIN: "threads",
    errno.ENOMEM: "memory",
}


def unsendable(exc: BaseException, *, op: int) -> dict[str, Any]:
    """The runner's report when its outputs, already checked, could not be packed to be sent back.

    Packing needs memory (a copy of every tensor) and nothing else a student can take away but the process's
    shared resources: so the cause is the memory, descriptors or threads the student's code used up, and the
    report says which (``resource``) instead of echoing an exception that may carry no message at all."""
    if isinstance(exc, MemoryError):
        resource_ = "memory"
    elif isinstance(exc, OSError) and exc.errno in EXHAUSTED:
        resource_ = EXHAUSTED[exc.errno]
    elif isinstance(exc, RuntimeError) and "thread" in str(exc):
        resource_ = "threads"
    else:
        resource_ = "memory" if "alloc" in str(exc) else "unknown"
    kind = "memory" if resource_ == "memory" else "bad_output"
    return {"status": "error", "kind": kind, "op": op, "stage": "send", "resource": resource_}


def confine(limits: dict[str, Any], fds: dict[str, int], jobdir: str, parent: int) -> None:
    """Session, descriptors, working directory and rlimits, in that order; any failure aborts the job."""
    os.setsid()  # own process group: the supervisor kills the whole group
    layers.die_with_parent(parent)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(fds["stdout"], 1)
    os.dup2(fds["stderr"], 2)
    os.dup2(fds["result"], RESULT_FD)
    os.dup2(fds["ready"], READY_FD)
    os.dup2(fds["marks"], MARK_FD)
    os.dup2(fds["acks"], ACK_FD)
    os.closerange(ACK_FD + 1, _max_fd())  # nothing else stays open: no socket, no relay pipe
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)  # what was printed before a kill still arrives
    os.chdir(jobdir)
    # a file over RLIMIT_FSIZE then raises OSError instead of killing the process without a word
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _set_rlimits(limits)


def _mark() -> None:
    """Let the supervisor read this process's CPU clock here: one byte out, then wait (no CPU) for its answer.

    The student's code runs in this process and may have closed or replaced the descriptors: then nothing is
    marked, and the parent, missing marks, leaves the CPU time unjudged."""
    with contextlib.suppress(OSError):
        os.write(MARK_FD, b"m")
        os.read(ACK_FD, 1)


def _arm_alarms(deadline: float) -> None:
    def expired(signum: int, frame: object) -> None:
        raise schedule.LimitExceeded("cpu" if signum == signal.SIGXCPU else "wall")

    signal.signal(signal.SIGXCPU, expired)
    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, max(deadline - time.monotonic(), 0.001))


def _disarm_alarms() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)  # the hard limit still ends a run that hangs from here on


def _set_rlimits(limits: dict[str, Any]) -> None:
    mib = 1 << 20
    address_space = _vmsize_bytes() + int(limits["memory_mb"]) * mib
    cpu = int(limits["cpu_s"])
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # soft: SIGXCPU, hard: SIGKILL one second later
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["fsize_mb"]) * mib,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(limits["nofile"]),) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.geteuid() != 0:  # root ignores RLIMIT_NPROC; it counts every task of the uid system-wide
        resource.setrlimit(resource.RLIMIT_NPROC, (int(limits["nproc"]),) * 2)


def _vmsize_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def _max_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # the student may have closed or replaced them
            stream.flush()
