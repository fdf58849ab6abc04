"""The grading parent's handle on a zygote: start it, send it jobs, restart it when anything looks wrong.

The zygote is a fresh interpreter (``python -I``, scrubbed environment, ``cwd=/``, own session) speaking frames on
one end of a socket pair passed with ``pass_fds``; stdin and stdout are /dev/null, stderr is the grader's (the
zygote only writes there if it crashes). One process-wide zygote is started lazily and reused across ``grade()``
calls; it is replaced after ``max_jobs`` jobs, after any protocol error, and in a forked child process.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.errors import GraderError
from graders.sandbox.child import wire

CHILD_DIR = Path(__file__).resolve().parent / "child"
CLEAN_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
NO_NAMESPACES_ENV = "MEMLAB_SANDBOX_NO_NAMESPACES"  # "1" in the grader's environment forces the fallback
MAX_REPLY_BODY = 80 << 20
REPLY_GRACE_S = 10.0  # on top of a job's wall limit: fork, drain and transfer


class SandboxBroken(GraderError):
    """The zygote died, timed out or spoke out of protocol; it has been stopped and will be restarted."""


class SandboxUnsafe(GraderError):
    """The zygote found too few layers on this machine to run student code (it fails closed); not retried."""


@dataclass(frozen=True)
class Reply:
    header: dict[str, Any]
    body: bytes
    roundtrip_s: float


class ZygoteHost:
    def __init__(
        self,
        *,
        max_jobs: int = 200,
        start_timeout_s: float = 120.0,
        no_namespaces: bool | None = None,
        slot: int = 0,
    ) -> None:
        """``no_namespaces`` forces the fallback; ``None`` reads ``MEMLAB_SANDBOX_NO_NAMESPACES`` now. ``slot``
        numbers the worker slot (0..999): its runners run as uid 64000 + slot (in the fallback too, unless the
        zygote finds the install unreachable as that uid: its ready frame then says why in ``uid_problem``)."""
        self.max_jobs = max_jobs
        self.slot = slot
        if no_namespaces is None:
            no_namespaces = os.environ.get(NO_NAMESPACES_ENV, "") == "1"
        self.no_namespaces = no_namespaces
        self.start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._spawned_at = 0.0
        self._ready: dict[str, Any] | None = None
        self._jobs = 0
        self._owner = os.getpid()
        self._layers: list[str] = []
        self.last_start_s: float | None = None  # how long the latest start took, for the timings
        self.starts = 0  # zygotes that became ready so far

    @property
    def layers(self) -> list[str]:
        """The layers of the latest zygote that became ready (kept while a replacement boots after max_jobs)."""
        return list(self._layers)

    @property
    def prefork(self) -> dict[str, Any]:
        """What the ready zygote did to be cheap to fork (``prefork.settle``); empty until one is ready."""
        return dict(self._ready.get("prefork") or {}) if self._ready is not None else {}

    def start(self) -> None:
        """Spawn the zygote if none is running; returns at once (``request`` waits for it to be ready)."""
        with self._lock:
            self._spawn_if_needed()

    def request(self, header: dict[str, Any], body: bytes, *, timeout_s: float) -> Reply:
        """Send one job and wait for its reply; ``SandboxBroken`` if the zygote fails in any way."""
        with self._lock:
            self._ensure_ready()
            assert self._sock is not None
            fd = self._sock.fileno()
            started = time.perf_counter()
            try:
                wire.write_all(fd, wire.encode(header, body))
                reply, reply_body = wire.read_frame(
                    fd, max_body=MAX_REPLY_BODY, deadline=time.monotonic() + timeout_s
                )
                if wire.pending(fd):
                    raise wire.FrameError("extra bytes after the reply")
                if reply.get("job") != header.get("id") or reply.get("type") not in ("result", "lost"):
                    raise wire.FrameError(
                        f"unexpected reply {reply.get('type')!r} for job {reply.get('job')!r}"
                    )
            except (wire.FrameError, OSError) as exc:
                self._stop()
                raise SandboxBroken(f"sandbox zygote failed: {exc}") from exc
            self._jobs += 1
            if self._jobs >= self.max_jobs:  # replace it now, so that the next one boots while we evaluate
                self._stop()
                self._spawn_if_needed()
            return Reply(reply, reply_body, time.perf_counter() - started)

    def close(self, *, at_once: bool = False) -> None:
        """Stop the zygote: it reads EOF and exits after its current job (up to 2 s), or, ``at_once``, is killed
        now (its supervisor and runner die with it: PR_SET_PDEATHSIG)."""
        with self._lock:
            self._stop(at_once=at_once)

    def _spawn_if_needed(self) -> None:
        if self._owner != os.getpid():  # we are a forked copy: the socket belongs to our parent's zygote
            self._forget()
        if self._proc is not None and self._proc.poll() is None:
            return
        self._stop()
        ours, theirs = socket.socketpair()
        command = [sys.executable, "-I", str(CHILD_DIR / "launch.py"), "--fd", str(theirs.fileno())]
        command += ["--slot", str(self.slot)]
        if self.no_namespaces:  # passed explicitly: the zygote's own environment is scrubbed
            command.append("--no-namespaces")
        self._spawned_at = time.perf_counter()
        self._proc = subprocess.Popen(
            command,
            env=dict(CLEAN_ENV),
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            pass_fds=(theirs.fileno(),),
            close_fds=True,
            start_new_session=True,
        )
        theirs.close()
        self._sock = ours
        self._ready = None
        self._jobs = 0

    def _ensure_ready(self) -> None:
        self._spawn_if_needed()
        if self._ready is not None:
            return
        assert self._sock is not None
        try:
            deadline = time.monotonic() + self.start_timeout_s
            ready, _ = wire.read_frame(self._sock.fileno(), max_body=0, deadline=deadline)
            if ready.get("type") != "ready" or not isinstance(ready.get("layers"), list):
                raise wire.FrameError(f"unexpected first frame {ready!r}")
        except (wire.FrameError, OSError) as exc:
            self._stop()
            raise SandboxBroken(f"sandbox zygote did not start: {exc}") from exc
        chosen = ready.get("sandbox")
        refuse = chosen.get("refuse") if isinstance(chosen, dict) else None
        if refuse:
            self._stop()
            raise SandboxUnsafe(str(refuse))
        self._ready = ready
        self._layers = [str(name) for name in ready["layers"]]
        self.last_start_s = time.perf_counter() - self._spawned_at
        self.starts += 1

    def _stop(self, *, at_once: bool = False) -> None:
        proc, sock = self._proc, self._sock
        self._proc, self._sock, self._ready = None, None, None
        if sock is not None:
            sock.close()  # the zygote reads EOF and exits
        if proc is not None and at_once:
            proc.kill()
        if proc is not None:
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _forget(self) -> None:
        """In a forked child: drop the parent's zygote without touching it."""
        if self._sock is not None:
            self._sock.close()
        self._proc, self._sock, self._ready = None, None, None
        self._owner = os.getpid()
        self._lock = threading.Lock()


_default: ZygoteHost | None = None
_default_lock = threading.Lock()


def default_host(*, slot: int | None = None) -> ZygoteHost:
    """The process-wide zygote host, created on first use and shut down at exit. ``slot`` numbers it when this
    call creates it (a worker pool process passes its own, so concurrent sandboxes never share a uid); a host
    created for another slot is replaced."""
    global _default
    with _default_lock:
        if _default is not None and slot is not None and _default.slot != slot:
            _default.close()
            _default = None
        if _default is None:
            _default = ZygoteHost(slot=slot or 0)
            atexit.register(shutdown)
        return _default


def shutdown() -> None:
    """Stop the process-wide zygote (a later ``grade()`` starts a new one)."""
    with _default_lock:
        if _default is not None:
            _default.close()


def restart() -> None:
    """Stop the process-wide zygote, which an interrupted job may have left mid-reply, and start its replacement
    booting at once, so that the next grading does not wait for the boot."""
    with _default_lock:
        if _default is not None:
            _default.close(at_once=True)
            _default.start()


def job_timeout_s(wall_s: float) -> float:
    return wall_s + REPLY_GRACE_S


def _after_fork_in_child() -> None:
    global _default_lock
    _default_lock = threading.Lock()
    if _default is not None:
        _default._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
