"""A job ended by the machine is never the student's: who ended a job, and how the grader knows.

The runner cannot send SIGKILL (its seccomp filter refuses it, to itself too), the supervisor's own kills are its
wall and disk limits (it says so in its reply), and the kernel's one SIGKILL of its own accord here is the hard
CPU limit (the CPU time shows it). Any other SIGKILL came from outside the job: another process, the OOM killer.
Such a job is run once more; a second interruption raises ``JobInterrupted``, an infrastructure fault that the
worker retries and, when its attempts run out, stores as ``internal_error`` (docs/GRADING-FAULTS.md).

An outside killer here is a thread of this test process that SIGKILLs the runner (the session leader among the
slot's uid's processes, in both modes) at a random moment.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from graders.errors import GraderError
from graders.exercise import ExerciseSpec
from graders.sandbox.child import layers
from graders.sandbox.host import ZygoteHost
from graders.sandbox.jobs import Job, run_job
from graders.sandbox.outcome import JobInterrupted, classify
from tests.graders.submissions import FAST_WEIGHT
from tests.graders.test_sandbox_modes import (  # noqa: F401  (mode_host is a fixture)
    grade_on,
    mode_host,
)

GRADINGS = 20
MAX_TRIES = 4 * GRADINGS


def runners_of(slot: int) -> list[int]:
    """Live runners of ``slot``: processes of its uid that lead their own session (a runner calls ``setsid``;
    the fallback's uid-sweep helper, of the same uid, does not). Seen from here, in either mode."""
    uid = layers.UID_BASE + slot
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            with open(f"/proc/{name}/stat", "rb") as stat:
                session = int(stat.read().rsplit(b")", 1)[1].split()[3])
        except (OSError, ValueError, IndexError):
            continue
        mine = fields.get("Uid", "").split()[:1] == [str(uid)]
        if mine and fields.get("State", "").split()[:1] != ["Z"] and session == int(name):
            found.append(int(name))
    return found


class Killer:
    """SIGKILLs one runner of ``slot`` at a random moment after each :meth:`arm` (``every``: each one it sees)."""

    def __init__(self, slot: int, *, every: bool = False, within_s: float = 0.3, seed: int = 17) -> None:
        self.slot, self.every, self.within_s = slot, every, within_s
        self.random = random.Random(seed)
        self.kills = 0
        self.killed: set[int] = set()
        self._armed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._armed.set()
        self._thread.join(5)

    def arm(self) -> None:
        self._armed.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._armed.wait()
            if not self.every:
                time.sleep(self.random.uniform(0, self.within_s))
            while not self._stop.is_set() and self._armed.is_set():
                # a runner just killed may still look alive for a moment: never kill (or count) one twice
                pids = [pid for pid in runners_of(self.slot) if pid not in self.killed]
                if pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pids[0], signal.SIGKILL)
                        self.killed.add(pids[0])
                        self.kills += 1
                    if not self.every:
                        self._armed.clear()
                    break
                time.sleep(0.001)


@pytest.fixture
def killer(mode_host: ZygoteHost) -> Iterator[Killer]:  # noqa: F811
    with Killer(mode_host.slot) as k:
        yield k


def test_a_runner_killed_from_outside_is_graded_again_never_blamed(
    mode_host: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
    killer: Killer,
) -> None:
    """20 gradings of the solution, each with one outside SIGKILL at a random moment: each ends ``passed``, or,
    where the job's second run was hit too, with the infrastructure error the worker retries; never a verdict."""
    verdicts: list[str] = []
    hit = 0
    # a grading the killer's random moment falls after (it is quick) is not counted: graded again until 20 were hit
    while hit < GRADINGS and len(verdicts) < MAX_TRIES:
        before = killer.kills
        killer.arm()
        try:
            verdicts.append(grade_on(mode_host, fast_weight, fast_weight.solution).verdict)
        except GraderError as exc:
            verdicts.append(f"retried: {exc}")
        killer._armed.clear()
        if killer.kills == before:
            verdicts[-1] += " (not hit)"
        else:
            hit += 1
    assert hit == GRADINGS, verdicts  # the test tested: 20 gradings were really interrupted
    assert all(v.startswith(("passed", "retried: ")) for v in verdicts), verdicts


def test_a_job_killed_from_outside_twice_is_an_interruption(
    mode_host: ZygoteHost,  # noqa: F811
) -> None:
    """Every run of the job killed: it runs twice, then ``JobInterrupted`` (a ``GraderError``), not an outcome."""
    sleeper = Job("import time\ntime.sleep(5)\n", [{"op": "module", "require": []}])
    with Killer(mode_host.slot, every=True) as k:
        k.arm()
        with pytest.raises(JobInterrupted, match="SIGKILL from outside its sandbox"):
            run_job(sleeper, mode_host)
    assert k.kills == 2


def test_the_student_cannot_send_sigkill_even_to_itself(
    mode_host: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
) -> None:
    """Every way a process sends a signal, SIGKILL refused: so no SIGKILL is ever the student's own."""
    attack = (
        "import os, signal, threading\n"
        "me = os.getpid()\n"
        "for name, send in [\n"
        "    ('kill', lambda: os.kill(me, signal.SIGKILL)),\n"
        "    ('group', lambda: os.kill(0, signal.SIGKILL)),\n"
        "    ('tgkill', lambda: signal.pthread_kill(threading.get_ident(), signal.SIGKILL)),\n"
        "    ('raise', lambda: signal.raise_signal(signal.SIGKILL)),\n"
        "    ('pidfd', lambda: signal.pidfd_send_signal(os.pidfd_open(me), signal.SIGKILL)),\n"
        "]:\n"
        "    try:\n"
        "        send()\n"
        "        print(name, 'sent')\n"
        "    except OSError as exc:\n"
        "        print(name, type(exc).__name__)\n"
    )
    report = grade_on(mode_host, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "passed", report.to_dict()
    lines = set(report.stdout.splitlines())
    assert lines == {f"{name} PermissionError" for name in ("kill", "group", "tgkill", "raise", "pidfd")}


def test_other_signals_the_code_sends_itself_stay_its_own(
    mode_host: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
) -> None:
    source = FAST_WEIGHT.replace(
        "def update(mem, k, v):\n",
        "def update(mem, k, v):\n"
        "    import os, signal\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n",
    )
    report = grade_on(mode_host, fast_weight, source)
    assert report.verdict == "runtime_error", report.to_dict()
    assert any("killed by SIGTERM" in c.message for c in report.checks), report.to_dict()


# --- the rule itself, on the supervisor's replies --------------------------------------------------------
def reply(**fields: object) -> dict[str, object]:
    return {"type": "result", "job": 1, "result": "missing", "cpu_s": 0.02, "wall_s": 0.05} | fields


def test_who_ended_the_job_decides_whose_fault_it_is() -> None:
    kill = -signal.SIGKILL
    with pytest.raises(JobInterrupted):  # SIGKILL that neither the supervisor nor a limit sent
        classify(reply(exit_code=kill), b"", cpu_limit_s=1.0)
    with pytest.raises(JobInterrupted):  # the supervisor did not finish (a lost zygote, a killed supervisor)
        classify({"type": "lost", "job": 1, "detail": "supervisor ended with status -9"}, b"", cpu_limit_s=1)
    # the kernel's hard CPU limit: the CPU time reached it
    assert classify(reply(exit_code=kill, cpu_s=1.0), b"", cpu_limit_s=1.0).limit == "cpu"
    # the supervisor's own kills, which its reply names
    assert classify(reply(exit_code=kill, wall_timeout=True), b"", cpu_limit_s=1.0).kind == "timeout"
    assert classify(reply(exit_code=kill, disk_limit="bytes:1"), b"", cpu_limit_s=1.0).kind == "disk"
    # any other signal: the code's own doing (a fault it caused, or a signal it sent itself)
    crashed = classify(reply(exit_code=-signal.SIGSEGV), b"", cpu_limit_s=1.0)
    assert (crashed.kind, crashed.detail) == ("crashed", "SIGSEGV")
