"""Chaos in `make run`'s embedded setup (issue 17): the broker and then the worker are SIGKILLed in the middle of
50 submissions, and nobody notices but the logs.

The setup is started by ``bin/run-local`` itself (tests/support/embedded.py): SQLite, and under supervisord a
private Redis on a unix socket, one Celery worker with beat, gunicorn. Students log in through the login form and
submit through the submit endpoint as the editor's htmx form does: the reference solution of
cumulative-average-memory, or one of its known-wrong variants (content/.../wrong/), whose verdicts
``python -m graders validate`` confirms. A prober GETs the pages every 100 ms throughout.

- The broker is SIGKILLed once the worker has graded 3 of a first burst of 20 (the rest queued in it), and 10
  more submissions follow at once; supervisord restarts it (its append-only file keeps what it had
  acknowledged), and the worker's reconnection sends every queued run again (config/worker_recovery.py).
- Once the worker grades again, 10 more submissions; then the worker's main process (not its group) is
  SIGKILLed just after a slow grading (a wrong output: a counterexample search) started: its pool and beat must
  die with it (PR_SET_PDEATHSIG); 10 more submissions follow while supervisord restarts it, and the new worker
  must requeue the orphaned run at its start.

Every submission must end with exactly one run, finished with the verdict its file deserves, stored once; no
page may refuse requests for more than 1 s; Ctrl-C (SIGINT) must then stop everything within 10 s.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from benchmarks.e2e import Student
from tests.support.embedded import STUDENT_PASSWORD, Embedded, embedded_setup, wait_for

SLUG = "cumulative-average-memory"
EXERCISE_DIR = Path(__file__).resolve().parents[2] / "content" / "exercises" / SLUG
# the known-wrong variants used, with the verdict `python -m graders validate` gives each
WRONG = {
    "divide_by_i.py": "failed",  # correctness
    "one_based_count.py": "failed",  # correctness
    "history.py": "failed",  # recurrence
    "in_place.py": "failed",  # purity
    "wrong_key.py": "invalid_output",  # interface
}
# wrong in their outputs: a grading then searches for a small counterexample (about a second here)
SLOW = ("divide_by_i.py", "one_based_count.py")
SLOW_MARGIN_S = 0.3  # the worker is killed within this of a slow grading's start (0.6 s or more here)
SUBMISSIONS = 50
WRONG_EVERY = 3  # every third submission is a wrong variant
STUDENTS = 10  # 5 submissions each: under the rate limit (6 a minute per exercise, apps/lab/selectors.py)
# the submissions' phases: before the broker's kill (a backlog queued in it), while it is down and restarting,
# before the worker's kill, while the worker is down and restarting
BURSTS = (20, 10, 10, 10)
SLOT_BASE = 960  # sandbox slots away from other tests' workers (slots are locked host-wide)
PROBE_EVERY_S = 0.1
PROBE_TIMEOUT_S = 5.0
MAX_OUTAGE_S = 1.0
DRAIN_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 10.0
STORED = re.compile(r"run (\d+) finished: (\w+) \(attempt (\d+), stored=(True|False)\)")


# --- the prober -----------------------------------------------------------------------------------------------
@dataclass
class Probe:
    url: str
    started: float
    ended: float
    ok: bool
    detail: str


@dataclass
class Prober:
    """GETs the dashboard, an exercise page, a run-status fragment and /healthz in turn, every PROBE_EVERY_S, as
    one logged-in student; records every answer. A refusal, an error status or a timeout is a failure."""

    student: Student
    probes: list[Probe] = field(default_factory=list)
    run_id: int | None = None  # a run of the prober's student, once there is one
    stop: threading.Event = field(default_factory=threading.Event)

    def urls(self) -> list[str]:
        urls = ["/", f"/exercises/{SLUG}/", "/healthz"]
        if self.run_id is not None:
            urls.append(f"/runs/{self.run_id}/status/")
        return urls

    def loop(self) -> None:
        turn = 0
        while not self.stop.is_set():
            urls = self.urls()
            self.probes.append(self._get(urls[turn % len(urls)]))
            turn += 1
            self.stop.wait(PROBE_EVERY_S)

    def _get(self, path: str) -> Probe:
        started = time.monotonic()
        try:
            response = self.student.session.get(self.student.base + path, timeout=PROBE_TIMEOUT_S)
            ok, detail = response.status_code == 200, f"HTTP {response.status_code}"
        except Exception as exc:  # a refused connection, a reset, a timeout: all failures
            ok, detail = False, f"{type(exc).__name__}: {exc}"[:200]
        return Probe(path, started, time.monotonic(), ok, detail)


def longest_outage(probes: list[Probe]) -> tuple[float, list[Probe]]:
    """The longest time from a failed request's start until a later request succeeded (its start), and the
    failures of that stretch. A stretch still failing at the end lasts until the last probe's end."""
    worst: tuple[float, list[Probe]] = (0.0, [])
    streak: list[Probe] = []
    for probe in sorted(probes, key=lambda p: p.started):
        if not probe.ok:
            streak.append(probe)
            continue
        if streak:
            worst = max(worst, (probe.started - streak[0].started, streak), key=lambda w: w[0])
            streak = []
    if streak:
        worst = max(worst, (streak[-1].ended - streak[0].started, streak), key=lambda w: w[0])
    return worst


# --- submissions ----------------------------------------------------------------------------------------------
def source_of(index: int) -> tuple[str, str, str]:
    """The file of submission ``index`` (the reference solution, or a wrong variant in turn), its source and the
    verdict it deserves; a comment makes every source distinct."""
    if index % WRONG_EVERY == WRONG_EVERY - 1:
        name = sorted(WRONG)[(index // WRONG_EVERY) % len(WRONG)]
        source, verdict = (EXERCISE_DIR / "wrong" / name).read_text(), WRONG[name]
    else:
        name, verdict = "solution.py", "passed"
        source = (EXERCISE_DIR / name).read_text()
    return name, source + f"\n# chaos submission {index}\n", verdict


@dataclass
class Submitter:
    students: list[Student]
    expected: dict[int, str] = field(default_factory=dict)  # run id → the verdict its file deserves
    files: dict[int, str] = field(default_factory=dict)  # run id → its file's name
    sent: int = 0

    def all_finished(self, setup: Embedded) -> Callable[[], bool]:
        runs = list(self.expected)
        return lambda: finished(setup, runs) == len(runs)

    def burst(self, count: int) -> None:
        for _ in range(count):
            name, source, verdict = source_of(self.sent)
            run_id = self.students[self.sent % len(self.students)].submit(SLUG, source)
            self.expected[run_id], self.files[run_id] = verdict, name
            self.sent += 1


def finished(setup: Embedded, run_ids: list[int]) -> int:
    marks = ",".join("?" * len(run_ids))
    rows = setup.query(
        f"SELECT count(*) FROM lab_gradingrun WHERE status = 'finished' AND id IN ({marks})", tuple(run_ids)
    )
    return int(rows[0][0])


def running(setup: Embedded) -> list[int]:
    return list(running_ages(setup))


def running_ages(setup: Embedded) -> dict[int, float]:
    """The runs being graded now, and how long ago each was claimed (seconds; Django stores UTC)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = setup.query("SELECT id, started_at FROM lab_gradingrun WHERE status = 'running'")
    return {run: (now - datetime.fromisoformat(started)).total_seconds() for run, started in rows}


# --- the test -------------------------------------------------------------------------------------------------
@dataclass
class Chaos:
    """What the kills did, for the assertions and the printed summary."""

    broker_pid: int = 0
    worker_pid: int = 0
    broker_back_s: float = 0.0  # from the broker's kill until supervisord calls the new one RUNNING
    grading_again_s: float = 0.0  # from then until the worker graded 3 more runs
    worker_back_s: float = 0.0
    finished_at_kills: tuple[int, int] = (0, 0)
    orphans: list[int] = field(default_factory=list)  # runs left running by the killed worker
    pool: list[psutil.Process] = field(default_factory=list)  # the killed worker's children (pool, beat)
    pool_dead_s: float = 0.0


@pytest.mark.integration
@pytest.mark.slow
def test_broker_and_worker_killed_mid_burst_lose_nothing_and_the_pages_stay_up() -> None:
    from graders.sandbox import slots

    with embedded_setup(slot_base=SLOT_BASE) as setup:
        t0 = time.monotonic()
        submitter, prober = _start(setup)
        up_s = time.monotonic() - t0
        thread = threading.Thread(target=prober.loop, daemon=True)
        thread.start()
        try:
            chaos = _chaos(setup, submitter, prober)
            drained_s = wait_for(
                "every run finished", submitter.all_finished(setup), DRAIN_TIMEOUT_S, tail=setup.tail
            )
            time.sleep(1.0)  # probes after the drain too
        finally:
            prober.stop.set()
            thread.join(timeout=PROBE_TIMEOUT_S + 1)
        worker_after = setup.program("worker")
        stop_s, stopped, survivors = setup.interrupt(STOP_TIMEOUT_S)
        output = setup.output.read_text(errors="replace")
        outage_s, outage = longest_outage(prober.probes)
        _print_summary(chaos, prober, up_s=up_s, drained_s=drained_s, stop=(stop_s, stopped), output=output)

        assert len(submitter.expected) == SUBMISSIONS
        _assert_one_verdict_each(setup, submitter.expected, output)
        assert chaos.orphans, "the worker's kill hit no grading in flight"
        attempts = dict(
            setup.query(f"SELECT id, attempt FROM lab_gradingrun WHERE id IN ({_ids(chaos.orphans)})")
        )
        assert all(a >= 2 for a in attempts.values()), f"an orphaned run was not claimed again: {attempts}"
        assert re.search(r"recovery at reconnection to the broker: .*'sent again': [1-9]", output)
        assert re.search(r"recovery at start: \{'requeued': [1-9]", output), "the new worker requeued nothing"
        assert worker_after["statename"] == "RUNNING" and worker_after["pid"] != chaos.worker_pid
        _assert_supervisord_restarted(setup.supervisord_log.read_text(errors="replace"), chaos)
        assert len(prober.probes) >= 100, "the prober hardly ran"
        assert outage_s <= MAX_OUTAGE_S, f"the pages were down for {outage_s:.2f} s: {outage[:5]}"
        assert not survivors, f"still alive {STOP_TIMEOUT_S:.0f} s after Ctrl-C: {survivors}"
        assert slots.is_free(SLOT_BASE), (
            f"sandbox slot {SLOT_BASE} still held: {slots.describe_holders(SLOT_BASE)}"
        )


def _start(setup: Embedded) -> tuple[Submitter, Prober]:
    """``bin/run-local``, then the students, each logged in through the login form, and the prober (as the first
    student, in a session of its own)."""
    setup.start()
    names = [f"chaos-{i:02d}" for i in range(STUDENTS)]
    setup.create_students(names)
    students = [Student(setup.base_url, name) for name in names]
    for student in students:
        student.login(STUDENT_PASSWORD)
    prober = Prober(Student(setup.base_url, names[0]))
    prober.student.login(STUDENT_PASSWORD)
    return Submitter(students), prober


def _chaos(setup: Embedded, submitter: Submitter, prober: Prober) -> Chaos:
    """The four bursts: the broker killed once the worker grades the first (a backlog still queued in it), the
    worker killed while it grades the third, once it has graded again after the broker's restart."""
    chaos = Chaos()
    first, while_broker_down, before_worker_kill, while_worker_down = BURSTS
    submitter.burst(first)
    prober.run_id = next(iter(submitter.expected))  # the first submission is the prober's student's

    def done() -> int:
        return finished(setup, list(submitter.expected))

    wait_for("the first gradings", lambda: done() >= 3, 60, tail=setup.tail)

    chaos.broker_pid = setup.program("broker")["pid"]
    before = done()
    os.kill(chaos.broker_pid, signal.SIGKILL)
    killed = time.monotonic()
    submitter.burst(while_broker_down)
    setup.wait_restarted("broker", chaos.broker_pid)
    chaos.broker_back_s = time.monotonic() - killed
    # the worker reconnects and grades again (the backlog the broker kept, and what was sent again)
    chaos.grading_again_s = wait_for(
        "gradings after the restart", lambda: done() >= before + 3, 60, tail=setup.tail
    )

    submitter.burst(before_worker_kill)
    chaos.worker_pid = setup.program("worker")["pid"]
    chaos.pool = psutil.Process(chaos.worker_pid).children()
    # a slow grading (a counterexample search, about a second) in flight, so that the kill surely cuts one
    slow = {run for run, name in submitter.files.items() if name in SLOW}

    def in_flight() -> bool:  # and just started: the kill cannot come after its end
        return any(age < SLOW_MARGIN_S for run, age in running_ages(setup).items() if run in slow)

    wait_for("a slow grading just started", in_flight, 60, tail=setup.tail, poll_s=0.02)
    os.kill(chaos.worker_pid, signal.SIGKILL)  # the main process only: its pool and beat must die with it
    killed = time.monotonic()

    def pool_dead() -> bool:
        return all(map(_dead, chaos.pool))

    chaos.pool_dead_s = wait_for("the killed worker's pool and beat dead", pool_dead, 5, tail=setup.tail)
    # a write of a killed process never commits (SQLite rolls it back): what is running now was orphaned
    chaos.orphans = running(setup)
    chaos.finished_at_kills = (before, done())
    submitter.burst(while_worker_down)
    setup.wait_restarted("worker", chaos.worker_pid, timeout=90)
    chaos.worker_back_s = time.monotonic() - killed
    return chaos


def _dead(proc: psutil.Process) -> bool:
    """Gone, or a zombie waiting for init to reap it (its parent, the worker, is dead)."""
    try:
        return bool(proc.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def _ids(ids: list[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


def _print_summary(
    chaos: Chaos, prober: Prober, *, up_s: float, drained_s: float, stop: tuple[float, int], output: str
) -> None:
    outage_s, _ = longest_outage(prober.probes)
    latencies = sorted(p.ended - p.started for p in prober.probes)
    unsent = output.count("its task was not sent")
    print(
        f"\n[chaos] up in {up_s:.1f} s (bin/run-local, students, logins); {SUBMISSIONS} submissions; "
        f"finished when the broker / worker were killed: {chaos.finished_at_kills}; broker back in "
        f"{chaos.broker_back_s:.2f} s ({unsent} sends failed meanwhile), grading again {chaos.grading_again_s:.1f} s "
        f"later; worker's pool and beat dead {chaos.pool_dead_s:.2f} s after its kill, orphaned {chaos.orphans}, "
        f"worker back in {chaos.worker_back_s:.1f} s; all graded {drained_s:.1f} s after the last submission; "
        f"{len(prober.probes)} probes, {sum(not p.ok for p in prober.probes)} failed, longest outage "
        f"{outage_s:.2f} s, latency p50 {latencies[len(latencies) // 2]:.3f} s max {latencies[-1]:.3f} s; "
        f"Ctrl-C stopped all {stop[1]} processes in {stop[0]:.1f} s"
    )


def _assert_one_verdict_each(setup: Embedded, expected: dict[int, str], output: str) -> None:
    """Every submission has exactly one run, finished with the verdict its file deserves (never internal_error),
    and no run was stored twice (the workers log every store, refused or not)."""
    rows = setup.query(
        "SELECT id, submission_id, status, verdict FROM lab_gradingrun WHERE submission_id IN "
        f"(SELECT submission_id FROM lab_gradingrun WHERE id IN ({_ids(list(expected))}))"
    )
    per_submission = Counter(submission for _, submission, _, _ in rows)
    assert len(per_submission) == len(expected), f"{len(per_submission)} submissions for {len(expected)} sent"
    assert set(per_submission.values()) == {1}, f"runs doubled: {per_submission.most_common(3)}"
    wrong = [(run, status, verdict, expected[run]) for run, _, status, verdict in rows]
    wrong = [w for w in wrong if w[1:3] != ("finished", w[3])]
    assert not wrong, (
        f"{len(wrong)} runs without the verdict they deserve (run, status, verdict, deserved): {wrong}"
    )
    stores = Counter(int(run) for run, _, _, stored in STORED.findall(output) if stored == "True")
    doubled = {run: n for run, n in stores.items() if run in expected and n > 1}
    assert not doubled, f"runs stored more than once: {doubled}"


def _assert_supervisord_restarted(log: str, chaos: Chaos) -> None:
    """supervisord saw both deaths (by SIGKILL, not expected) and started each program again."""
    for name, pid in (("broker", chaos.broker_pid), ("worker", chaos.worker_pid)):
        assert re.search(rf"exited: {name} \(terminated by SIGKILL", log), (
            f"supervisord did not log {name}'s death"
        )
        spawned = re.findall(rf"spawned: '{name}' with pid (\d+)", log)
        assert str(pid) in spawned[:-1], f"{name} (pid {pid}) was not started again: spawned {spawned}"
        assert log.count(f"success: {name} entered RUNNING state") >= 2


def test_an_outage_runs_from_the_first_failure_to_the_next_success() -> None:
    """The prober's measure itself (no services): refusals in a row count from the first one's start until a
    request succeeds again; one still failing at the end counts until it ended."""
    ok, refused = True, False
    probes = [
        Probe("/", t, t + 0.05, up, "") for t, up in [(0.0, ok), (0.1, refused), (0.2, refused), (1.4, ok)]
    ]
    probes += [Probe("/", t, t + 0.05, up, "") for t, up in [(1.5, refused), (1.6, ok), (2.0, refused)]]
    outage_s, failures = longest_outage(probes)
    assert outage_s == pytest.approx(1.3) and [p.started for p in failures] == [0.1, 0.2]
    assert longest_outage(probes[:1]) == (0.0, [])
    tail_s, _ = longest_outage([*probes[:1], Probe("/", 1.0, 6.0, False, "timeout")])
    assert tail_s == pytest.approx(5.0)
