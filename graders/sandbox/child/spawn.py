"""How the supervisor starts the runner: directly (fallback) or behind a mini-init in fresh namespaces.

Both return a :class:`Child` the supervisor drives the same way: watch ``pid`` (a pidfd becomes readable when it
ends), ``kill()`` it at the deadline, then ``collect()`` the runner's exact wait status and resource usage.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from graders.sandbox.child import initproc, namespaces, runner, wire
else:
    import initproc
    import namespaces
    import runner
    import wire

INIT_GRACE_S = 0.5  # after telling the mini-init to kill the runner, before SIGKILLing the mini-init itself
MAX_REPORT = 4096


class Usage(NamedTuple):
    ru_utime: float
    ru_stime: float
    ru_maxrss: int


class Child(Protocol):
    pid: int  # the process whose end means the job ended (the runner, or the mini-init)
    problem: str  # why the sandbox could not be built, when it could not (empty otherwise)

    def kill(self) -> None: ...

    def collect(self) -> tuple[int, Usage]: ...

    def runner_pid(self) -> int | None: ...


class Direct:
    """The runner as the supervisor's own child, in the host's namespaces (the fallback)."""

    problem = ""

    def __init__(
        self, job: dict[str, Any], blob: bytes, fds: dict[str, int], jobdir: str, deadline: float
    ) -> None:
        parent = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:
            runner.start(job, blob, fds, jobdir, deadline, parent=parent)

    def runner_pid(self) -> int | None:
        return self.pid

    def kill(self) -> None:
        """SIGKILL the runner's process group (its children too), then the runner itself if it left the group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def collect(self) -> tuple[int, Usage]:
        self.kill()  # whatever is left of its group; the supervisor's sweep takes the rest
        _, status, usage = os.wait4(self.pid, 0)
        return status, Usage(usage.ru_utime, usage.ru_stime, usage.ru_maxrss)


class Namespaced:
    """A mini-init (PID 1 of fresh pid, net, ipc, uts and mount namespaces) that runs the runner as PID 2."""

    def __init__(
        self, job: dict[str, Any], blob: bytes, fds: dict[str, int], jobdir: str, deadline: float
    ) -> None:
        self.problem = ""
        namespaces.unshare(namespaces.SUPERVISOR_FLAGS)  # the next fork is PID 1 of the new pid namespace
        control_r, self._control = os.pipe()
        self._report, report_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._control)
            os.close(self._report)
            initproc.start(job, blob, fds, jobdir, deadline, control_fd=control_r, report_fd=report_w)
        os.close(control_r)
        os.close(report_w)
        self._killed = False
        self._runner: int | None = None

    def runner_pid(self) -> int | None:
        """The runner's pid as this process sees it (PID 2 inside): the mini-init's only child, once started."""
        if self._runner is None:
            with (
                contextlib.suppress(OSError, ValueError),
                open(f"/proc/{self.pid}/task/{self.pid}/children") as f,
            ):
                self._runner = int(f.read().split()[0])
        return self._runner

    def kill(self) -> None:
        """Tell the mini-init to kill the runner (so that it still reports); if it does not end soon, kill it."""
        if self._killed:
            return
        self._killed = True
        with contextlib.suppress(OSError):
            os.write(self._control, b"k")
        pidfd = os.pidfd_open(self.pid)
        try:
            if not select.select([pidfd], [], [], INIT_GRACE_S)[0]:
                os.kill(self.pid, signal.SIGKILL)  # the namespace dies with it
        finally:
            os.close(pidfd)

    def collect(self) -> tuple[int, Usage]:
        _, init_status, init_usage = os.wait4(self.pid, 0)  # the init ends by itself once the runner did
        os.close(self._control)
        report = self._read_report()
        os.close(self._report)
        if "status" in report:
            return int(report["status"]), Usage(report["utime"], report["stime"], int(report["maxrss"]))
        self.problem = str(report.get("setup_failed", ""))
        if os.WIFEXITED(init_status) and os.WEXITSTATUS(init_status) == initproc.SETUP_FAILED:
            # nothing of the student ran: reported as a confinement failure (the grader's fault, not theirs)
            return runner.CONFINE_FAILED << 8, Usage(0.0, 0.0, 0)
        # the init was killed (grace expired): the runner died with the namespace, by SIGKILL
        usage = Usage(init_usage.ru_utime, init_usage.ru_stime, init_usage.ru_maxrss)
        return signal.SIGKILL, usage

    def _read_report(self) -> dict[str, Any]:
        data = b""
        os.set_blocking(self._report, False)
        end = time.monotonic() + 1.0
        while len(data) <= MAX_REPORT and time.monotonic() < end:
            try:
                chunk = os.read(self._report, MAX_REPORT)
            except BlockingIOError:
                break  # the init has exited: whatever it wrote is already in the pipe
            if not chunk:
                break
            data += chunk
        try:
            header, _ = wire.split(data, max_body=0)
        except wire.FrameError:
            return {}
        return header


def spawn(job: dict[str, Any], blob: bytes, fds: dict[str, int], jobdir: str, deadline: float) -> Child:
    kind = Namespaced if job["sandbox"]["namespaces"] else Direct
    return kind(job, blob, fds, jobdir, deadline)
