"""Faults against the real PostgreSQL and Redis: every submission ends with exactly one final verdict.

- A worker SIGKILLed (its whole process group) in the middle of a burst of 300 submissions.
- Redis (a server of this test's own, without persistence) killed and restarted during a burst: the queued
  messages are lost, submissions made meanwhile cannot be sent; the sweeper sends them again.
- A real connection loss (PostgreSQL terminates the backend) while a run's report is stored: retried, not lost.
- A grading that runs past the task's soft time limit: given back and retried, never a verdict of a cut grading.

Recovery rests on conditional UPDATEs (apps.lab.services) and the sweeper run by an embedded beat; the leases
and intervals are shortened through their settings (README "Faults and recovery"). "Stored once" is read from
the workers' logs: run_finish logs every store with `stored=True|False`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest
from django.db import connection

from apps.lab import services
from apps.lab.models import Exercise, GradingRun
from tests.apps.lab.test_grading_integration import HISTORY, HONEST
from tests.support.services import IN_CI, require_service
from tests.support.worker import broker, celery_worker

SLUG = "cumulative-average-memory"
BURST = 300
WRONG_EVERY = 10  # every tenth submission keeps a hidden history: its recurrence check fails
# Redis databases of this file's own on the machine's Redis (the Redis restart uses a server of its own).
REDIS_DB_KILL, REDIS_DB_FINISH, REDIS_DB_SOFT = 12, 13, 14
# Short leases, nested as in production: soft < hard time limit < run lease < visibility timeout.
FAST = {
    "MEMLAB_GRADE_SOFT_TIME_LIMIT_S": "10",
    "MEMLAB_GRADE_TIME_LIMIT_S": "12",
    "MEMLAB_RUN_LEASE_S": "15",
    "MEMLAB_QUEUE_LEASE_S": "20",
    "MEMLAB_REDIS_VISIBILITY_TIMEOUT_S": "30",
    "MEMLAB_SWEEP_INTERVAL_S": "3",
}
STORED = re.compile(r"run (\d+) finished: (\w+) \(attempt (\d+), stored=(True|False)\)")
REDIS_SERVER = "/usr/bin/redis-server"
# The Redis restart's burst: most before (their queued messages are lost), some while Redis is down (each send
# fails after kombu's publish retries, ~0.6 s), a few after it is back.
BEFORE_OUTAGE, DURING_OUTAGE, AFTER_OUTAGE = 280, 10, 10

RUNAWAY = """import time

import torch

def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.zeros(())}

def update(mem, k, v):
    time.sleep(3600)  # never returns: only the sandbox's wall limit (10 s) would end it, long after the soft limit
"""

FAULT_MARKS = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.pg,
    pytest.mark.django_db(transaction=True),
]


def _mark(test):  # type: ignore[no-untyped-def]
    """The marks of a fault test: a real worker on PostgreSQL (the `pg` pass) with committed transactions."""
    for mark in FAULT_MARKS:
        test = mark(test)
    return test


# --- helpers ---------------------------------------------------------------------------------------------
def _database_url() -> str:
    assert connection.vendor == "postgresql"
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _services_and_redis(db: int) -> str:
    """PostgreSQL and Redis up (in CI, or fail), and a Redis database of this test's own, emptied: its URL."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    require_service("Redis", "127.0.0.1", 6379)
    url = f"redis://127.0.0.1:6379/{db}"
    _flush_redis(url)
    return url


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def _submit(
    student, count: int, start: int, *, tolerate_send_errors: bool = False
) -> tuple[dict[int, str], int]:  # type: ignore[no-untyped-def]
    """``count`` submissions through the service (the HTTP view calls the same); the expected verdict of each.
    With ``tolerate_send_errors`` a failed send (the broker is down) is counted: the submission is stored."""
    exercise = Exercise.objects.get(slug=SLUG)
    expected: dict[int, str] = {}
    unsent = _Unsent()
    logging.getLogger(services.__name__).addHandler(unsent)
    try:
        for i in range(start, start + count):
            wrong = i % WRONG_EVERY == WRONG_EVERY - 1
            source = (HISTORY if wrong else HONEST) + f"\n# submission {i}\n"
            submission = services.submission_create(user=student, exercise=exercise, source=source)
            expected[submission.pk] = "failed" if wrong else "passed"
    finally:
        logging.getLogger(services.__name__).removeHandler(unsent)
    if unsent.count and not tolerate_send_errors:
        raise AssertionError(f"{unsent.count} tasks were not sent, with the broker up")
    return expected, unsent.count


class _Unsent(logging.Handler):
    """Counts the runs stored whose task could not be sent (services._enqueue logs each, and the page works)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "task was not sent" in record.getMessage()


def _runs(expected: dict[int, str]):  # type: ignore[no-untyped-def]
    return GradingRun.objects.filter(submission_id__in=list(expected))


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout} s: {what}")


def _finished(expected: dict[int, str]) -> int:
    return _runs(expected).filter(status=GradingRun.Status.FINISHED).count()


def _running(expected: dict[int, str]) -> set[int]:
    return set(_runs(expected).filter(status=GradingRun.Status.RUNNING).values_list("pk", flat=True))


def _stores(logs: list[Path]) -> list[tuple[int, str, int]]:
    """(run, verdict, attempt) of every store the workers logged."""
    found = []
    for log in logs:
        for run, verdict, attempt, stored in STORED.findall(log.read_text(errors="replace")):
            if stored == "True":
                found.append((int(run), verdict, int(attempt)))
    return found


def _assert_exactly_one_verdict(
    expected: dict[int, str],
    logs: list[Path],
    *,
    unlogged: set[int] | None = None,
) -> None:
    """Every submission has one run, finished with the verdict its source deserves, stored exactly once.

    ``unlogged``: runs a SIGKILL may have cut between the committed store and its log line (at most one line)."""
    runs = list(_runs(expected).values("pk", "submission_id", "status", "verdict", "attempt"))
    per_submission = Counter(r["submission_id"] for r in runs)
    assert len(per_submission) == len(expected) and set(per_submission.values()) == {1}, (
        "runs lost or doubled"
    )
    wrong = [r for r in runs if (r["status"], r["verdict"]) != ("finished", expected[r["submission_id"]])]
    if wrong:  # the first wrong run's checks say why: the test's database is dropped at its end
        first = GradingRun.objects.get(pk=wrong[0]["pk"]).report or {}
        checks = [c for c in first.get("checks", []) if c.get("status") != "passed"]
        raise AssertionError(
            f"{len(wrong)} runs without the right final verdict, e.g. {wrong[:5]}; the first one's report: "
            f"{json.dumps({**first, 'checks': checks})[:4000]}"
        )
    stores = _stores(logs)
    counts = Counter(run for run, _, _ in stores)
    ours = {r["pk"]: r for r in runs}
    doubled = {run: n for run, n in counts.items() if run in ours and n > 1}
    assert not doubled, f"runs stored more than once: {doubled}"
    missing = set(ours) - set(counts) - (unlogged or set())
    assert not missing, f"runs finished without a logged store: {sorted(missing)[:10]}"
    for run, verdict, attempt in stores:
        if run in ours:
            assert (verdict, attempt) == (ours[run]["verdict"], ours[run]["attempt"]), (run, verdict, attempt)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable(port: int) -> bool:
    with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _print_drain(what: str, started: float, n: int) -> None:
    print(f"\n[faults] {what}: {n} submissions drained in {time.monotonic() - started:.1f} s")


# --- a: SIGKILL --------------------------------------------------------------------------------------------
@_mark
def test_a_worker_killed_mid_burst_loses_and_duplicates_nothing(
    student, synced_course, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    redis_url = _services_and_redis(REDIS_DB_KILL)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    common = {"database_url": _database_url(), "broker_url": redis_url, "concurrency": 2}
    with broker(redis_url):
        with celery_worker(
            **common,
            log=logs[0],
            beat_schedule=tmp_path / "beat-1",
            name="killed",
            extra_env={**FAST, "MEMLAB_SANDBOX_SLOT_BASE": "900"},
        ) as worker:
            started = time.monotonic()
            expected, _ = _submit(student, BURST, 0)
            _wait(
                lambda: _finished(expected) >= BURST // 3 and bool(_running(expected)),
                300,
                "a third of the burst graded",
            )
            before = _running(expected)
            os.killpg(worker.pid, signal.SIGKILL)  # the main process, its pool and its beat, mid-grading
            worker.wait()
            time.sleep(1.0)  # a store already sent to PostgreSQL still commits: let it land
            orphans = _running(expected)  # claimed by a process that no longer exists
            killed_at = _finished(expected)
        assert orphans, "the kill hit no grading in flight"
        with celery_worker(
            **common,
            log=logs[1],
            beat_schedule=tmp_path / "beat-2",
            name="fresh",
            extra_env={**FAST, "MEMLAB_SANDBOX_SLOT_BASE": "910"},
        ):
            _wait(lambda: _finished(expected) == BURST, 600, "every run of the burst finished")
            _print_drain("SIGKILL", started, BURST)
    print(f"[faults] killed after {killed_at} finished; {len(orphans)} claims orphaned: {sorted(orphans)}")
    # A store may have committed in the instant of the kill, before its log line was written.
    _assert_exactly_one_verdict(expected, logs, unlogged=before - orphans)
    attempts = dict(_runs(expected).filter(pk__in=orphans).values_list("pk", "attempt"))
    assert all(a >= 2 for a in attempts.values()), attempts  # each was claimed again after the kill
    assert "sweep: " in logs[1].read_text(), "the sweeper never requeued anything"


# --- b: Redis restarted ------------------------------------------------------------------------------------
@_mark
def test_redis_restarted_mid_burst_loses_and_duplicates_nothing(
    student, synced_course, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    require_service("PostgreSQL", "127.0.0.1", 5432)
    if not Path(REDIS_SERVER).exists():
        message = f"{REDIS_SERVER} is missing; the Redis restart test starts a server of its own"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    port = _free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    log = tmp_path / "worker.log"
    folder = tmp_path / "redis"
    folder.mkdir()
    server = _RedisServer(port, folder)
    server.start()
    try:
        with (
            broker(redis_url),
            celery_worker(
                database_url=_database_url(),
                broker_url=redis_url,
                log=log,
                concurrency=2,
                beat_schedule=tmp_path / "beat",
                name="redis-restart",
                extra_env={**FAST, "MEMLAB_SANDBOX_SLOT_BASE": "920"},
            ),
        ):
            started = time.monotonic()
            expected, _ = _submit(student, BEFORE_OUTAGE, 0)
            _wait(lambda: _finished(expected) >= BURST // 3, 300, "a third of the burst graded")
            server.kill()  # no persistence: every queued and unacknowledged message is gone
            down = time.monotonic()
            lost_at = _finished(expected)
            # the web side meanwhile: each send fails (after kombu's publish retries); the submission is stored and
            # the request succeeds
            during, failed_sends = _submit(student, DURING_OUTAGE, BEFORE_OUTAGE, tolerate_send_errors=True)
            expected |= during
            time.sleep(max(0.0, 5.0 - (time.monotonic() - down)))
            server.start()  # the same port, empty
            outage = time.monotonic() - down
            # and after it: the web side's producer reconnects by itself
            after, _ = _submit(student, AFTER_OUTAGE, BEFORE_OUTAGE + DURING_OUTAGE)
            expected |= after
            _wait(lambda: _finished(expected) == BURST, 600, "every run of the burst finished")
            _print_drain("Redis restart", started, BURST)
    finally:
        server.stop()
    print(
        f"[faults] Redis down for {outage:.1f} s after {lost_at} finished; "
        f"{failed_sends} of {DURING_OUTAGE} sends failed during the outage"
    )
    assert failed_sends == DURING_OUTAGE, "the web side sent to a Redis that was down?"
    _assert_exactly_one_verdict(expected, [log])
    text = log.read_text()
    assert "Connection to broker lost" in text or "Cannot connect to redis" in text, (
        "the worker saw no outage"
    )
    assert re.search(r"sweep: \{[^}]*'sent again': [1-9]", text), "the sweeper sent nothing again"


class _RedisServer:
    """A Redis of this test's own, without persistence: a restart loses every message."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        cmd = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        cmd += ["--dir", str(self.folder)]
        with (self.folder / f"redis-{len(self.procs)}.log").open("wb") as out:
            self.procs.append(
                subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            )
        _wait(lambda: _reachable(self.port), 10, f"redis-server on port {self.port}")

    def kill(self) -> None:
        self.procs[-1].send_signal(signal.SIGKILL)
        self.procs[-1].wait()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()


# --- c: a database error while finishing --------------------------------------------------------------------
KILL_FIRST_FINISH = """
CREATE SEQUENCE memlab_fault_finishes;
CREATE FUNCTION memlab_fault_kill_first_finish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'finished' AND OLD.status <> 'finished' THEN
        -- a sequence is not transactional: it still counts after this transaction dies
        IF nextval('memlab_fault_finishes') = 1 THEN
            PERFORM pg_terminate_backend(pg_backend_pid());
            PERFORM pg_sleep(5);  -- checks for interrupts: the backend dies here, the UPDATE never commits
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER memlab_fault_kill_first_finish BEFORE UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION memlab_fault_kill_first_finish();
"""
DROP_KILL_FIRST_FINISH = """
DROP TRIGGER IF EXISTS memlab_fault_kill_first_finish ON {table};
DROP FUNCTION IF EXISTS memlab_fault_kill_first_finish();
DROP SEQUENCE IF EXISTS memlab_fault_finishes;
"""


@_mark
def test_a_connection_lost_while_finishing_is_retried_not_lost(
    student, synced_course, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    redis_url = _services_and_redis(REDIS_DB_FINISH)
    log = tmp_path / "worker.log"
    table = connection.ops.quote_name(GradingRun._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(DROP_KILL_FIRST_FINISH.format(table=table))
        cursor.execute(KILL_FIRST_FINISH.format(table=table))
    try:
        with (
            broker(redis_url),
            celery_worker(
                database_url=_database_url(),
                broker_url=redis_url,
                log=log,
                name="db-error",
                extra_env={**FAST, "MEMLAB_SANDBOX_SLOT_BASE": "930"},
            ),
        ):
            expected, _ = _submit(student, 3, 0)
            _wait(lambda: _finished(expected) == 3, 180, "the runs finished")
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_value, is_called FROM memlab_fault_finishes")
            kills = cursor.fetchone()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(DROP_KILL_FIRST_FINISH.format(table=table))
    assert kills == (4, True), f"the trigger saw {kills}: expected 3 stores + the 1 it killed"
    _assert_exactly_one_verdict(expected, [log])
    text = log.read_text()
    # logged for OperationalError/InterfaceError only: the connection the trigger terminated
    assert text.count("storing the report failed (try 1 of 4); retrying") == 1
    assert "storing the report failed (try 2" not in text  # the fresh connection stored it at once
    assert set(_runs(expected).values_list("attempt", flat=True)) == {1}  # retried in place, not regraded


# --- d: the soft time limit ---------------------------------------------------------------------------------
@_mark
def test_a_grading_past_the_soft_time_limit_is_given_back_never_misjudged(
    student, synced_course, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The soft limit (3 s) is set below the sandbox's wall limit (10 s) on purpose, so that it fires inside a
    sandbox job of a submission that never returns. Each time the run is given back and the task retried; after
    the last retry it is an internal_error (not counted against the student), never the `failed` of a cut
    grading. A normal submission graded afterwards shows that the interrupted sandbox was replaced."""
    redis_url = _services_and_redis(REDIS_DB_SOFT)
    log = tmp_path / "worker.log"
    limits = {"MEMLAB_GRADE_SOFT_TIME_LIMIT_S": "3", "MEMLAB_GRADE_TIME_LIMIT_S": "10"}
    exercise = Exercise.objects.get(slug=SLUG)
    with (
        broker(redis_url),
        celery_worker(
            database_url=_database_url(),
            broker_url=redis_url,
            log=log,
            name="soft-limit",
            extra_env={**FAST, **limits, "MEMLAB_SANDBOX_SLOT_BASE": "940"},
        ),
    ):
        warm, _ = _submit(student, 1, 0)  # the zygote is up before the runaway starts
        _wait(lambda: _finished(warm) == 1, 120, "the first run finished")
        runaway = services.submission_create(user=student, exercise=exercise, source=RUNAWAY).runs.get()
        _wait(
            lambda: GradingRun.objects.get(pk=runaway.pk).status == GradingRun.Status.FINISHED,
            120,
            "the runaway run finished",
        )
        after, _ = _submit(student, 1, 1)
        _wait(lambda: _finished(after) == 1, 120, "the run after it finished")
        # the worker logs a store just after committing it: stopping it at once can cut that line
        graded = set(_runs(warm | after).values_list("pk", flat=True))
        _wait(lambda: graded <= {run for run, *_ in _stores([log])}, 30, "the stores were logged")
    final = GradingRun.objects.get(pk=runaway.pk)
    assert (final.status, final.verdict) == ("finished", "internal_error")
    assert final.attempt == 4  # the first try and three retries, each a fresh claim of the released run
    assert "the grading ran past its time limit" in json.dumps(final.report)
    text = log.read_text()
    given_back = rf"\[run {runaway.pk}/(\d)\] the grading ran past its soft time limit; the run is given back"
    assert [int(a) for a in re.findall(given_back, text)] == [1, 2, 3, 4]  # once per claim
    stores = [s for s in _stores([log]) if s[0] == runaway.pk]
    assert stores == [(runaway.pk, "internal_error", 4)], stores  # nothing stored before the last retry
    _assert_exactly_one_verdict(warm | after, [log])


# --- the time limits against the grader ---------------------------------------------------------------------
def test_the_time_limits_nest_above_the_graders_worst_case() -> None:
    """hard > soft > every sandbox job of a grading at the largest wall limit, plus the counterexample search;
    and the run lease and Redis visibility timeout above the hard limit (the defaults, as production runs)."""
    from config import celery_settings as cs
    from graders.checks import shrink
    from graders.exercise import LIMIT_MAXIMA

    assert LIMIT_MAXIMA["wall_s"] == cs.MAX_WALL_S
    worst = cs.GRADING_JOBS * LIMIT_MAXIMA["wall_s"] + shrink.MAX_SECONDS + 2.0  # + its last short job
    assert cs.GRADE_TIME_LIMIT_S > cs.GRADE_SOFT_TIME_LIMIT_S > worst
    from django.conf import settings

    assert settings.MEMLAB_RUN_LEASE_S > cs.GRADE_TIME_LIMIT_S
    assert cs.REDIS_VISIBILITY_TIMEOUT_S > cs.GRADE_TIME_LIMIT_S
    from config.celery import app

    app.loader.import_default_modules()
    task = app.tasks[services.GRADE_TASK]
    assert (task.soft_time_limit, task.time_limit) == (cs.GRADE_SOFT_TIME_LIMIT_S, cs.GRADE_TIME_LIMIT_S)


@pytest.mark.slow
@pytest.mark.parametrize(("slug", "jobs"), [("cumulative-average-memory", 3), ("window-attention", 4)])
def test_a_grading_runs_no_more_sandbox_jobs_than_the_time_limits_assume(
    slug: str, jobs: int, content_dir: Path
) -> None:
    """GRADING_JOBS in the settings is the most jobs a grading runs: a sequence exercise's four, a recurrent one's
    three (four when its long run fails and recurrence and purity run again; tests/graders cover that one)."""
    import graders
    from config import celery_settings as cs

    spec = graders.load_exercise(content_dir / "exercises" / slug)
    report = graders.grade(spec, spec.solution.encode())
    assert report.verdict == "passed", report.to_dict()
    assert report.timings["jobs_run"] == jobs <= cs.GRADING_JOBS


# --- the soft time limit, without a worker -------------------------------------------------------------------
def test_the_soft_time_limit_releases_the_run_and_stores_nothing(synced_course, student, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from celery.exceptions import SoftTimeLimitExceeded

    from apps.lab import tasks
    from config.celery import app
    from graders.sandbox import host

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)
    stopped: list[bool] = []
    monkeypatch.setattr(host, "restart", lambda: stopped.append(True))
    exercise = Exercise.objects.get(slug=SLUG)
    run = services.submission_create(user=student, exercise=exercise, source=HONEST).runs.get()

    def cut(*, run):  # type: ignore[no-untyped-def]
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "run_grade", cut)
    with pytest.raises(SoftTimeLimitExceeded):  # called directly, task.retry re-raises; a worker retries
        tasks.grade_run.run(run.pk)
    stored = GradingRun.objects.get(pk=run.pk)
    assert (stored.status, stored.verdict, stored.report, stored.attempt) == ("queued", "", None, 1)
    assert stopped == [True]  # the interrupted sandbox is replaced
