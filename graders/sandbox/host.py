"""The grading parent's handle on a zygote: start it, send it jobs, restart it when anything looks wrong.

The zygote is a fresh interpreter (``python -I``, scrubbed environment, ``cwd=/``, own session) speaking frames on
one end of a socket pair passed with ``pass_fds``; stdin and stdout are /dev/null, stderr is the grader's (the
zygote only writes there if it crashes). One process-wide zygote is started lazily and reused across ``grade()``
calls; it is replaced after ``max_jobs`` jobs, after any protocol error, and in a forked child process.

Each zygote runs on a sandbox slot the host claims first (:mod:`graders.sandbox.slots`: an exclusive lock, passed
to the zygote, so the slot stays held until both are gone): a slot asked for by number (a worker's pool process)
is waited for a bounded time, otherwise the first free one is taken.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.errors import GraderError
from graders.sandbox import slots
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
# How long a host asking for one slot by number waits for it: a pool process that replaced a killed one finds its
# predecessor's zygote still finishing a job (graders.exercise.LIMIT_MAXIMA's 60 s wall at most, plus the reply)
SLOT_WAIT_S = 60.0 + REPLY_GRACE_S


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
        slot: int | None = None,
        slot_wait_s: float = SLOT_WAIT_S,
    ) -> None:
        """``no_namespaces`` forces the fallback; ``None`` reads ``MEMLAB_SANDBOX_NO_NAMESPACES`` now. ``slot``
        numbers the sandbox slot (0..999): its runners run as uid 64000 + slot (in the fallback too, unless the
        zygote finds the install unreachable as that uid: its ready frame then says why in ``uid_problem``).
        Each zygote's slot is claimed when it is spawned: ``slot`` exactly (waiting up to ``slot_wait_s`` while
        another process holds it, then :class:`slots.SlotBusy`), or, ``None``, the first free one."""
        self.max_jobs = max_jobs
        self.wanted_slot = slot
        self.slot_wait_s = slot_wait_s
        self._claim: slots.Claim | None = None
        self._last_slot: int | None = slot
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
        _hosts.add(self)

    @property
    def slot(self) -> int | None:
        """The slot of the current (or latest) zygote; before the first spawn, the slot asked for (or None)."""
        return self._last_slot

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
                self._stop(keep_slot=True)
                self._spawn_if_needed()
            return Reply(reply, reply_body, time.perf_counter() - started)

    def close(self, *, at_once: bool = False) -> None:
        """Stop the zygote: it reads EOF and exits after its current job (up to 2 s), or, ``at_once``, is killed
        now (its supervisor and runner die with it: PR_SET_PDEATHSIG)."""
        with self._lock:
            self._stop(at_once=at_once)

    def _spawn_if_needed(self, *, slot_wait_s: float | None = None) -> None:
        if self._owner != os.getpid():  # we are a forked copy: the socket belongs to our parent's zygote
            self._forget()
        if self._proc is not None and self._proc.poll() is None:
            return
        if self._proc is not None:  # it died: whatever it left may still hold the slot (see _stop)
            self._stop()
        claim = self._claim or self._claim_slot(self.slot_wait_s if slot_wait_s is None else slot_wait_s)
        ours, theirs = socket.socketpair()
        command = [sys.executable, "-I", str(CHILD_DIR / "launch.py"), "--fd", str(theirs.fileno())]
        command += ["--slot", str(claim.slot), "--slot-fd", str(claim.fd)]
        if self.no_namespaces:  # passed explicitly: the zygote's own environment is scrubbed
            command.append("--no-namespaces")
        self._spawned_at = time.perf_counter()
        try:
            self._proc = subprocess.Popen(
                command,
                env=dict(CLEAN_ENV),
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(), claim.fd),  # the zygote holds the slot's lock for its whole life
                close_fds=True,
                start_new_session=True,
            )
        except BaseException:
            claim.close()
            self._claim = None
            ours.close()
            raise
        finally:
            theirs.close()
        self._claim, self._last_slot = claim, claim.slot
        self._sock = ours
        self._ready = None
        self._jobs = 0

    def _claim_slot(self, wait_s: float) -> slots.Claim:
        if self.wanted_slot is None:
            return slots.claim_free()
        return slots.claim(self.wanted_slot, wait_s=wait_s)

    def try_start(self) -> bool:
        """``start``, unless the slot asked for is held now: then nothing is started and False is returned (the
        first ``request`` waits for the slot, up to ``slot_wait_s``). For callers that must not block, such as a
        pool process's initialisation, which its pool gives a few seconds."""
        with self._lock:
            try:
                self._spawn_if_needed(slot_wait_s=0.0)
            except slots.SlotBusy:
                return False
            return True

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

    def _stop(self, *, at_once: bool = False, keep_slot: bool = False) -> None:
        """Stop the zygote. ``keep_slot``: a zygote that exited by itself on EOF (no job in flight, nothing of it
        left) leaves its slot to the next one, which this host then starts on it; between the two the slot stays
        held, so no other grader can take a worker's configured slot while its zygote is replaced. A zygote
        that had to be killed, or is already gone for reasons unknown, gives its slot back."""
        proc, sock, claim = self._proc, self._sock, self._claim
        self._proc, self._sock, self._ready, self._claim = None, None, None, None
        clean = proc is not None and proc.poll() is None and not at_once
        if sock is not None:
            sock.close()  # the zygote reads EOF and exits
        if proc is not None and at_once:
            proc.kill()
        if proc is not None:
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                clean = False
                proc.kill()
                proc.wait()
            clean = clean and proc.returncode == 0
        if claim is not None and keep_slot and clean:
            self._claim = claim
        elif claim is not None:  # our copy only: the slot is free once the zygote's jobs are gone too
            claim.close()

    def _forget(self) -> None:
        """In a forked child: drop the parent's zygote without touching it."""
        if self._sock is not None:
            self._sock.close()
        if self._claim is not None:  # never unlocked, only closed: the parent's zygote keeps the slot
            self._claim.close()
        self._proc, self._sock, self._ready, self._claim = None, None, None, None
        self._owner = os.getpid()
        self._lock = threading.Lock()


_default: ZygoteHost | None = None
_default_lock = threading.Lock()
_hosts: weakref.WeakSet[ZygoteHost] = weakref.WeakSet()  # every host of this process, forgotten in a fork


def default_host(*, slot: int | None = None) -> ZygoteHost:
    """The process-wide zygote host, created on first use and shut down at exit. ``slot`` asks for that slot
    exactly when this call creates it (a worker pool process passes its configured one); without, the host takes
    the first free slot. A host created for another slot is replaced."""
    global _default
    with _default_lock:
        if _default is not None and slot is not None and _default.wanted_slot != slot:
            _default.close()
            _default = None
        if _default is None:
            _default = ZygoteHost(slot=slot)
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
    """A forked child holds copies of every host's socket and slot lock: drop them, so that the slot is free
    once the parent's zygote is gone, whatever the child does."""
    global _default_lock
    _default_lock = threading.Lock()
    for host in list(_hosts):
        host._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
