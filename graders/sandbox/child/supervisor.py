"""The supervisor: the trusted process between the zygote and the runner, one per job.

It makes the job directory, forks the runner, drains the runner's result, stdout and stderr pipes concurrently
(each capped), enforces the wall-clock deadline by killing the runner's process group, collects CPU time and peak
RSS with ``wait4``, kills and reaps every process the runner left behind (it is a child subreaper, see
:mod:`reap`), removes the job directory and writes one frame back to the zygote. The later, layered sandbox
(namespaces, mini-init, Landlock, seccomp, per-slot uid) slots in here, between ``fork`` and the runner's exec.
"""

from __future__ import annotations

import base64
import contextlib
import os
import resource
import selectors
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from graders.sandbox.child import reap, runner, wire
else:
    import reap
    import runner
    import wire


@dataclass
class Capture:
    """Bytes read from one pipe: at most ``cap`` kept, the rest counted and dropped."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]


def supervise(job: dict[str, Any], inputs_blob: bytes, relay_fd: int) -> NoReturn:
    """Run one job and write ``started`` then ``result`` frames on ``relay_fd``; exit 0 only if both went out."""
    reap.become_subreaper()  # orphans of the runner, escaped or not, become our children
    jobdir = tempfile.mkdtemp(prefix="memlab-job-")  # mode 0700, private to this job
    try:
        header, body = _run(job, inputs_blob, jobdir, relay_fd)
    finally:
        shutil.rmtree(jobdir, ignore_errors=True)
    wire.write_all(relay_fd, wire.encode(header, body))
    os._exit(0)


def _run(job: dict[str, Any], inputs_blob: bytes, jobdir: str, relay_fd: int) -> tuple[dict[str, Any], bytes]:
    limits = job["limits"]
    pipes = {name: os.pipe() for name in ("result", "stdout", "stderr")}
    started = time.monotonic()
    deadline = started + float(limits["wall_s"])
    pid = os.fork()
    if pid == 0:
        os.close(relay_fd)
        runner.start(job, inputs_blob, {name: w for name, (_, w) in pipes.items()}, jobdir, deadline)
    for _, w in pipes.values():
        os.close(w)
    wire.write_all(relay_fd, wire.encode({"type": "started", "runner_pid": pid}))
    captures = {
        "result": Capture(int(job["max_result_bytes"])),
        "stdout": Capture(int(job["capture_bytes"])),
        "stderr": Capture(int(job["capture_bytes"])),
    }
    readers = {r: captures[name] for name, (r, _) in pipes.items()}
    status, usage, timed_out = _drain_until_exit(pid, readers, deadline)
    wall_s = time.monotonic() - started
    for fd in readers:
        os.close(fd)
    return _response(status, usage, timed_out, wall_s, captures, job)


def _drain_until_exit(
    pid: int, readers: dict[int, Capture], deadline: float
) -> tuple[int, resource.struct_rusage, bool]:
    """Read every pipe until the runner exits or the deadline passes; then sweep its process group."""
    pidfd = os.pidfd_open(pid)
    with selectors.DefaultSelector() as selector:
        for fd in readers:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        selector.register(pidfd, selectors.EVENT_READ)
        timed_out = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            events = selector.select(left)
            if any(key.fd == pidfd for key, _ in events):
                break
            for key, _ in events:
                _read_available(key.fd, readers[key.fd], selector)
    _kill_group(pid)
    _, status, usage = os.wait4(pid, 0)
    os.close(pidfd)
    reap.sweep()  # whatever the runner left behind, in its group or not
    for fd, capture in readers.items():
        _read_available(fd, capture, None)  # what the runner wrote just before it exited
    return status, usage, timed_out


def _read_available(fd: int, capture: Capture, selector: selectors.BaseSelector | None) -> None:
    """Read what is buffered now (non-blocking); unregister the pipe at EOF."""
    for _ in range(64):  # bounded: a flood of output cannot pin us here
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            if selector is not None and fd in selector.get_map():
                selector.unregister(fd)
            return
        capture.add(chunk)


def _kill_group(pid: int) -> None:
    """SIGKILL the runner's process group (its children too), then the runner itself if it left the group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _response(
    status: int,
    usage: resource.struct_rusage,
    timed_out: bool,
    wall_s: float,
    captures: dict[str, Capture],
    job: dict[str, Any],
) -> tuple[dict[str, Any], bytes]:
    header: dict[str, Any] = {
        "type": "result",
        "job": job["id"],
        "exit_code": os.waitstatus_to_exitcode(status),
        "wall_timeout": timed_out,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "wall_s": wall_s,
        "max_rss_kb": usage.ru_maxrss,
        "confine_failed": os.WIFEXITED(status) and os.WEXITSTATUS(status) == runner.CONFINE_FAILED,
    }
    for name in ("stdout", "stderr"):
        header[name] = base64.b64encode(bytes(captures[name].data)).decode("ascii")
        header[name + "_total"] = captures[name].total
    body = b""
    result = captures["result"]
    if result.total == 0:
        header["result"] = "missing"
    elif result.total > result.cap:
        header["result"] = "too_large"
    else:
        try:  # framing only: the runner's header is the student's text, parsed by the grader alone
            raw_header, body = wire.split_raw(bytes(result.data), max_body=result.cap)
            header["result"] = "ok"
            header["runner"] = raw_header.decode("utf-8", errors="replace")
        except wire.FrameError as exc:
            header["result"] = "garbled"
            header["result_problem"] = str(exc)
    return header, body
