"""Two graders on one host never share a sandbox slot (issue 17): a worker grades 100 submissions while
`python -m graders validate` of every exercise runs in a loop beside it, in namespace mode and in the fallback.

The worker is configured for the slots the CLI would try first (998 and 999: a grader that asks for no slot takes
the first free one from 999 down), so the two meet at the slots' locks on every validate: without the locks they
would run jobs as one uid, and in the fallback each job's sweep of its uid would kill the other's runner (what a
student saw as "your code was killed by SIGKILL"). A sampler reads /proc every 20 ms and records every zygote
(``launch.py --slot N``, whose parent is not one) by slot: no two may ever be alive on one slot at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from django.db import connection

from apps.lab import services
from apps.lab.models import Exercise, GradingRun
from graders.sandbox import slots
from graders.sandbox.host import NO_NAMESPACES_ENV
from tests.apps.lab.test_faults import _database_url, _services_and_redis
from tests.apps.lab.test_grading_integration import HISTORY, HONEST
from tests.support.worker import REPO, broker, celery_worker

SLUG = "cumulative-average-memory"
SUBMISSIONS = 100
WRONG_EVERY = 4  # every fourth submission keeps a hidden history: failed (recurrence)
WORKER_SLOT_BASE = 998  # with concurrency 2: slots 998 and 999, the CLI's first choices
REDIS_DB = {False: 10, True: 11}  # per mode: a database of this file's own on the machine's Redis
SAMPLE_S = 0.02
# The submissions are paced by the loop, so that the worker grades for as long as one round of validate takes
# (every exercise once, 1-2 minutes here): submission i waits until i/100 of the round is done.
SUBMIT_EVERY_S = 0.1


def _exercises() -> list[str]:
    return sorted(path.name for path in (REPO / "content" / "exercises").iterdir() if path.is_dir())


class ZygoteSampler(threading.Thread):
    """Samples every zygote of the host (a ``launch.py --slot N`` process whose parent is not one: its job
    processes are forks with the same command line) until stopped; ``clashes`` lists each sample in which two
    lived on one slot."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopped = threading.Event()
        self.seen: dict[int, set[int]] = defaultdict(set)  # slot -> zygote pids
        self.clashes: list[tuple[int, list[int]]] = []
        self.samples = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            by_slot: dict[int, list[int]] = defaultdict(list)
            for pid, slot in _zygotes():
                by_slot[slot].append(pid)
                self.seen[slot].add(pid)
            # A sample is read one process at a time, so it may see a zygote that ended and the one started after
            # it on its slot (a swap after max_jobs takes a few ms): a clash counts only if every one of them is
            # still alive once the sample is done, that is, at one moment after the last of them was seen.
            self.clashes += [
                (slot, pids)
                for slot, pids in by_slot.items()
                if len(pids) > 1 and all(_alive(pid) for pid in pids)
            ]
            self.samples += 1
            time.sleep(SAMPLE_S)


def _zygotes() -> list[tuple[int, int]]:
    """(pid, slot) of every live zygote."""
    launched: dict[int, tuple[int, int]] = {}  # pid -> (parent, slot)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        args = slots._argv(int(name))
        slot = slots._arg_after(args, "--slot")
        if not any(a.endswith("launch.py") for a in args) or slot is None or not _alive(int(name)):
            continue
        launched[int(name)] = (_parent(int(name)), int(slot))
    return [(pid, slot) for pid, (parent, slot) in launched.items() if parent not in launched]


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


class ValidateLoop(threading.Thread):
    """``python -m graders validate`` of every exercise, over and over, until stopped (it finishes the round it
    is in); each run's exit status and output are kept."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.env = env
        self.stopped = threading.Event()
        self.results: list[tuple[str, int, str]] = []

    def run(self) -> None:
        while not self.stopped.is_set():
            for slug in _exercises():
                done = subprocess.run(
                    [sys.executable, "-m", "graders", "validate", slug],
                    cwd=REPO,
                    env=self.env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                self.results.append((slug, done.returncode, done.stdout[-3000:] + done.stderr[-3000:]))
                if self.stopped.is_set():
                    return


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("no_namespaces", [False, True], ids=["namespaces", "fallback"])
def test_validate_in_a_loop_beside_a_worker_grading_100_submissions(
    no_namespaces: bool, student, synced_course, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert connection.vendor == "postgresql"
    mode = {NO_NAMESPACES_ENV: "1"} if no_namespaces else {}
    held = [slot for slot in (WORKER_SLOT_BASE, WORKER_SLOT_BASE + 1) if not slots.is_free(slot)]
    assert not held, f"slots {held} are held before the test: {[slots.describe_holders(s) for s in held]}"
    redis_url = _services_and_redis(REDIS_DB[no_namespaces])
    cli_env = {name: value for name, value in os.environ.items() if name != NO_NAMESPACES_ENV} | mode
    sampler, validate = ZygoteSampler(), ValidateLoop(cli_env)
    exercise = Exercise.objects.get(slug=SLUG)
    started = time.monotonic()
    with (
        broker(redis_url),
        celery_worker(
            database_url=_database_url(),
            broker_url=redis_url,
            log=tmp_path / "worker.log",
            concurrency=2,
            name="two-graders",
            extra_env={**mode, "MEMLAB_SANDBOX_SLOT_BASE": str(WORKER_SLOT_BASE)},
        ),
    ):
        sampler.start()
        deadline = time.monotonic() + 60  # each pool process claims its slot as it starts its zygote
        while (
            any(slots.is_free(s) for s in (WORKER_SLOT_BASE, WORKER_SLOT_BASE + 1))
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        validate.start()  # from now on every validate meets the worker's locks first
        expected: dict[int, str] = {}
        for i in range(SUBMISSIONS):
            wrong = i % WRONG_EVERY == WRONG_EVERY - 1
            source = (HISTORY if wrong else HONEST) + f"\n# submission {i}\n"
            submission = services.submission_create(user=student, exercise=exercise, source=source)
            expected[submission.pk] = "failed" if wrong else "passed"
            time.sleep(SUBMIT_EVERY_S)
            while len(validate.results) < (i + 1) * len(_exercises()) // SUBMISSIONS and validate.is_alive():
                time.sleep(SUBMIT_EVERY_S)
        runs = GradingRun.objects.filter(submission_id__in=list(expected))
        deadline = time.monotonic() + 600
        while runs.filter(status=GradingRun.Status.FINISHED).count() < SUBMISSIONS:
            assert time.monotonic() < deadline, "the worker did not grade the 100 submissions in 600 s"
            time.sleep(0.5)
        overlapping = {slug for slug, _, _ in validate.results}  # validated while the worker graded
        validate.stopped.set()
        validate.join(timeout=400)
    sampler.stopped.set()
    sampler.join()
    graded = list(runs.values_list("submission_id", "verdict"))
    wrong = [(pk, verdict, expected[pk]) for pk, verdict in graded if verdict != expected[pk]]
    failed_validates = [(slug, rc, out) for slug, rc, out in validate.results if rc != 0]
    print(
        f"\n[two graders, {'fallback' if no_namespaces else 'namespaces'}] {SUBMISSIONS} gradings and "
        f"{len(validate.results)} validates ({len(overlapping)} exercises while it graded) in {time.monotonic() - started:.0f} s; verdicts "
        f"{dict(Counter(v for _, v in graded))}; zygotes per slot "
        f"{ {slot: len(pids) for slot, pids in sorted(sampler.seen.items())} } over {sampler.samples} samples"
    )
    assert len(graded) == SUBMISSIONS and not wrong, f"{len(wrong)} wrong verdicts, e.g. {wrong[:5]}"
    assert overlapping == set(_exercises()), (
        f"not validated while the worker graded: {set(_exercises()) - overlapping}"
    )
    assert not failed_validates, f"{len(failed_validates)} validates failed, the first: {failed_validates[0]}"
    assert not sampler.clashes, f"two zygotes on one slot at once: {sampler.clashes[:5]}"
    # the meeting happened: the worker's zygotes held 998 and 999, and the CLI's went below them
    assert sampler.seen[998] and sampler.seen[999], dict(sampler.seen)
    cli_slots = {slot for slot in sampler.seen if slot < WORKER_SLOT_BASE}
    assert cli_slots, f"no validate zygote was seen: {dict(sampler.seen)}"
