"""The supervisor: the trusted process between the zygote and the runner, one per job.

It makes the job directory, starts the runner (:mod:`spawn`: behind a mini-init in fresh pid, net, ipc, uts and
mount namespaces, see :mod:`initproc`, or directly in the fallback), drains the runner's result, stdout, stderr
and "ready" pipes concurrently (each capped), enforces the wall-clock deadline (the mini-init, or the supervisor
itself, SIGKILLs the runner), collects the runner's exact wait status, CPU time and peak RSS, kills and reaps
every process left behind (it is a child subreaper, see :mod:`reap`; without a pid namespace it also sweeps the
slot's uid), removes the job directory and writes one frame back to the zygote. The runner's own last layers
(Landlock, uid, capabilities, seccomp) are in :mod:`confine`.
"""

from __future__ import annotations

import base64
import fcntl
import os
import selectors
import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from graders.sandbox.child import reap, runner, spawn, wire
else:
    import reap
    import runner
    import spawn
    import wire


READY_BYTES = 8  # the runner's "confined at" time, a native double


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


STAGING = "memlab-staging-"  # a job directory's name until it is locked


def jobdir_prefix(slot: int) -> str:
    """Job directories carry their slot: a zygote starting on a slot may remove that slot's leftovers."""
    return f"memlab-job-{slot}-"


def claim_jobdir(slot: int) -> tuple[str, int]:
    """A fresh job directory (mode 0700) and a descriptor holding an exclusive ``flock`` on it for the job's life.

    The lock tells a live job's directory from a dead one's: the kernel drops it when the last process holding
    the descriptor ends, however it ends. The directory is made under a neutral name, locked, and only then
    renamed to its slot's name, so a sweep never sees it unlocked.
    """
    staging = tempfile.mkdtemp(prefix=STAGING)
    hold = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(hold, fcntl.LOCK_EX)
    jobdir = os.path.join(
        os.path.dirname(staging), jobdir_prefix(slot) + os.path.basename(staging)[len(STAGING) :]
    )
    os.rename(staging, jobdir)
    return jobdir, hold


def sweep_jobdirs(slot: int) -> int:
    """Remove the job directories that supervisors of ``slot`` left behind, and return how many. A supervisor
    removes its own when it ends; one killed with its zygote (the worker's soft time limit stops the zygote
    mid-job) cannot. Called by a zygote before its first job. A directory whose lock is still held belongs to a
    job that is running (another process on the same slot, or the killed supervisor's runner not yet gone): it
    stays, for a later sweep."""
    base = tempfile.gettempdir()
    prefix = jobdir_prefix(slot)
    removed = 0
    with os.scandir(base) as entries:
        for entry in entries:
            if not (entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False)):
                continue
            try:
                fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:  # removed meanwhile
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live job's
                os.close(fd)
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            os.close(fd)
            removed += 1
    return removed


def supervise(job: dict[str, Any], inputs_blob: bytes, relay_fd: int) -> NoReturn:
    """Run one job and write ``started`` then ``result`` frames on ``relay_fd``; exit 0 only if both went out."""
    entered = time.monotonic()
    reap.become_subreaper()  # orphans of the runner, escaped or not, become our children
    # mode 0700, private to this job, locked while it runs
    jobdir, hold = claim_jobdir(job["sandbox"]["slot"])
    uid = job["sandbox"]["uid"]
    try:
        if uid is not None:
            # the runner's own once it switched (in namespace mode a tmpfs of the job's is mounted over it)
            os.chown(jobdir, uid, uid)
        header, body = _run(job, inputs_blob, jobdir, relay_fd, entered)
    finally:
        shutil.rmtree(jobdir, ignore_errors=True)
        os.close(hold)
    wire.write_all(relay_fd, wire.encode(header, body))
    os._exit(0)


def _run(
    job: dict[str, Any], inputs_blob: bytes, jobdir: str, relay_fd: int, entered: float
) -> tuple[dict[str, Any], bytes]:
    limits = job["limits"]
    pipes = {name: os.pipe() for name in ("result", "stdout", "stderr", "ready")}
    started = time.monotonic()
    deadline = started + float(limits["wall_s"])
    writers = {name: w for name, (_, w) in pipes.items()}
    # the CPU-mark channel, open in every job (whether a descriptor is open must not tell one job from another)
    (marks_r, marks_w), (acks_r, acks_w) = os.pipe(), os.pipe()
    given = writers | {"marks": marks_w, "acks": acks_r}  # the runner's ends
    try:
        child = spawn.spawn(job, inputs_blob, given, jobdir, deadline)
    except OSError as exc:  # e.g. unshare refused after the zygote's probe said yes: fail closed
        for fd in (*given.values(), marks_r, acks_w):
            os.close(fd)
        return {"type": "result", "job": job["id"], "confine_failed": True, "problem": str(exc)[:500]}, b""
    for w in given.values():
        os.close(w)
    marks = CpuMarks(marks_r, acks_w, child.runner_pid)
    wire.write_all(relay_fd, wire.encode({"type": "started", "runner_pid": child.pid}))
    captures = {
        "result": Capture(int(job["max_result_bytes"])),
        "stdout": Capture(int(job["capture_bytes"])),
        "stderr": Capture(int(job["capture_bytes"])),
        "ready": Capture(READY_BYTES),
    }
    readers = {r: captures[name] for name, (r, _) in pipes.items()}
    # with namespaces the job directory is a tmpfs of its own (bounded in bytes and inodes); in the fallback it
    # is a folder of the host's /tmp, so this process watches it and stops the runner past the same bounds
    watch = None if job["sandbox"]["namespaces"] else DiskWatch(jobdir, int(limits["fsize_mb"]) * 4 << 20)
    # in a pid namespace its end kills every process of the job; in the fallback the slot's uid is swept instead
    sweep_uid = job["sandbox"]["uid"] if not job["sandbox"]["namespaces"] else None
    status, usage, timed_out = _drain_until_exit(child, readers, deadline, watch, sweep_uid, marks)
    wall_s = time.monotonic() - started
    for fd in readers:
        os.close(fd)
    header, body = _response(status, usage, timed_out, wall_s, captures, job)
    header["cpu_marks_ns"] = marks.close()
    if watch is not None and watch.exceeded:
        header["disk_limit"] = watch.exceeded
    if child.problem:
        header["problem"] = child.problem[:500]
    ready = bytes(captures["ready"].data)
    if captures["ready"].total == READY_BYTES:  # seconds from this supervisor's start to a confined runner
        header["start_s"] = struct.unpack("=d", ready)[0] - entered
    return header, body


class CpuMarks:
    """The runner's CPU time, read by this process each time the runner marks a point of its schedule.

    The runner writes one byte and blocks until it gets one back (``runner._mark``), so the clock, read in
    between, stands still: the reading is exact, whatever the scheduling. The clock is the kernel's per-process
    CPU clock of the runner (``clock_gettime`` on its CPU clock id), which no code in the runner can change.
    Past ``MAX_MARKS`` (a flood from the student's code) the answers stop and the readings are dropped."""

    MAX_MARKS = 64

    def __init__(self, read_fd: int, ack_fd: int, runner_pid: Callable[[], int | None]) -> None:
        self.read_fd, self.ack_fd = read_fd, ack_fd
        self.runner_pid = runner_pid
        self.readings: list[int] = []
        self.broken = False
        os.set_blocking(read_fd, False)

    def on_readable(self, selector: selectors.BaseSelector) -> None:
        try:
            data = os.read(self.read_fd, self.MAX_MARKS + 1)
        except BlockingIOError:
            return
        if not data:
            selector.unregister(self.read_fd)
            return
        for _ in data:
            pid = self.runner_pid()
            if self.broken or len(self.readings) >= self.MAX_MARKS or pid is None:
                self._break()
                return
            try:
                _wait_until_blocked(pid)
                self.readings.append(time.clock_gettime_ns(_cpu_clock(pid)))
                os.write(self.ack_fd, b"a")
            except OSError:
                self._break()
                return

    def _break(self) -> None:
        """No more answers: a runner still waiting for one reads end-of-file and goes on, unmarked."""
        if not self.broken:
            self.broken = True
            os.close(self.ack_fd)

    def close(self) -> list[int]:
        """The readings (empty if any went wrong), the pipes closed."""
        os.close(self.read_fd)
        if not self.broken:
            os.close(self.ack_fd)
        return [] if self.broken else self.readings


def _wait_until_blocked(pid: int, limit_s: float = 0.005) -> None:
    """Until the runner waits for its answer (not running), at most ``limit_s``.

    Its CPU clock, read from here, is exact once it blocked: leaving the CPU folds its running time in. While it
    runs, the reading can lag by up to a scheduler tick (4 ms here): RLIMIT_CPU arms the process CPU timer, whose
    sum is otherwise brought up to date only at ticks."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state != b"R":
            return
        os.sched_yield()


def _cpu_clock(pid: int) -> int:
    """The clock id of process ``pid``'s CPU time (glibc's MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED))."""
    return ((~pid) << 3) | 2


@dataclass
class DiskWatch:
    """The job directory's size and file count, checked every ``every_s``; past a bound the runner is stopped.

    A bound that polling enforces is soft: between two checks the runner can write what it writes in that time
    (RLIMIT_FSIZE still caps each file). The tmpfs of namespace mode is exact."""

    path: str
    max_bytes: int
    max_files: int = 4096
    every_s: float = 0.02
    exceeded: str = ""
    _next: float = 0.0

    def check(self, now: float) -> bool:
        """True once the directory went past a bound (and stays True)."""
        if self.exceeded or now < self._next:
            return bool(self.exceeded)
        self._next = now + self.every_s
        size, files = 0, 0
        stack = [self.path]
        while stack and files <= self.max_files:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                files += 1
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        size += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
        if size > self.max_bytes:
            self.exceeded = f"bytes:{self.max_bytes}"
        elif files > self.max_files:
            self.exceeded = f"files:{self.max_files}"
        return bool(self.exceeded)


def _drain_until_exit(
    child: spawn.Child,
    readers: dict[int, Capture],
    deadline: float,
    watch: DiskWatch | None,
    sweep_uid: int | None,
    marks: CpuMarks,
) -> tuple[int, spawn.Usage, bool]:
    """Read every pipe until the child exits or the deadline passes (or ``watch`` trips); then kill what is
    left and collect it (and, given ``sweep_uid``, every process of that uid wherever it is)."""
    pidfd = os.pidfd_open(child.pid)
    with selectors.DefaultSelector() as selector:
        for fd in readers:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        selector.register(pidfd, selectors.EVENT_READ)
        selector.register(marks.read_fd, selectors.EVENT_READ)
        timed_out = False
        while True:
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                timed_out = True
                child.kill()
                break
            if watch is not None and watch.check(now):
                child.kill()
                break
            events = selector.select(min(left, watch.every_s) if watch is not None else left)
            if any(key.fd == pidfd for key, _ in events):
                break
            for key, _ in events:
                if key.fd == marks.read_fd:
                    marks.on_readable(selector)
                else:
                    _read_available(key.fd, readers[key.fd], selector)
    status, usage = child.collect()
    os.close(pidfd)
    reap.sweep()  # whatever the runner left behind, in its group or not
    if sweep_uid is not None:
        reap.sweep_uid(sweep_uid)  # and whatever of its uid escaped both
        reap.sweep()  # the sweep's victims that were handed to us
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


def _response(
    status: int,
    usage: spawn.Usage,
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
