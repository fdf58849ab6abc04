"""Each worker pool process grades on a sandbox slot of its own (its runners' uid is 64000 + slot), claimed
with a host-wide lock: a worker whose configured slots are held does not start, and a SIGKILLed worker's pool
processes die with it, so that its slots become free again."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import suppress
from pathlib import Path

import pytest

from apps.lab.tasks import sandbox_slot
from config.celery_settings import worker_command
from graders.sandbox import host as host_module
from graders.sandbox import slots
from tests.support.slots import celery_slot_base
from tests.support.worker import REPO, celery_worker


def test_pool_processes_get_distinct_slots_from_an_optional_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMLAB_SANDBOX_SLOT_BASE", raising=False)
    assert [sandbox_slot(i) for i in (None, 0, 1, 2)] == [0, 0, 1, 2]
    monkeypatch.setenv("MEMLAB_SANDBOX_SLOT_BASE", "100")
    assert [sandbox_slot(i) for i in (0, 3)] == [100, 103]


def test_the_default_host_takes_the_slot_it_is_created_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_module, "_default", None)  # a private default for this test (nothing is started)
    first = host_module.default_host(slot=5)
    assert first.slot == 5 and host_module.default_host() is first  # later callers share it
    second = host_module.default_host(slot=6)
    assert second is not first and second.slot == 6
    second.close()


def test_the_default_host_without_a_slot_claims_a_free_one_when_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Code that asks for the process-wide host without a slot (the CLI, eager tasks, services) takes the first
    free slot when its zygote starts, never a fixed one that another grader of the host may hold."""
    monkeypatch.setattr(host_module, "_default", None)
    host = host_module.default_host()
    assert host.slot is None  # nothing claimed before it starts
    try:
        host.start()
        assert host.slot is not None and not slots.is_free(host.slot)
    finally:
        host.close()
    assert slots.is_free(host.slot)


def _worker_env(tmp_path: Path, broker_url: str, base: int) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "integration-test-key-" + "x" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": broker_url,
        "MEMLAB_SANDBOX_SLOT_BASE": str(base),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.mark.slow
def test_a_worker_whose_configured_slot_is_held_exits_at_start_naming_it(tmp_path: Path) -> None:
    """Checked in worker_init, before the pool forks, and raised as SystemExit: Celery's signal dispatch catches
    an Exception from a receiver and only logs it. No broker is reached before that check (memory://)."""
    base = celery_slot_base()
    with slots.claim(base + 1):  # the second pool process's
        result = subprocess.run(
            [*worker_command(concurrency=2, name=f"held-{os.getpid()}@%h"), "--without-heartbeat"],
            cwd=REPO,
            env=_worker_env(tmp_path, "memory://", base),
            capture_output=True,
            timeout=120,
            check=False,
        )
    output = result.stdout.decode() + result.stderr.decode()
    assert result.returncode != 0, output
    assert f"sandbox slot {base + 1} is held by pid {os.getpid()}" in output, output
    assert f"MEMLAB_SANDBOX_SLOT_BASE={base} + 1" in output
    assert " ready." not in output  # it never served


def _pool_processes(main: int) -> list[int]:
    """The live children of ``main``, whichever of its threads forked them (a replacement pool process is forked
    by billiard's supervising thread, and listed under that thread's task only)."""
    found: list[int] = []
    for task in os.listdir(f"/proc/{main}/task"):
        with suppress(OSError), open(f"/proc/{main}/task/{task}/children") as listing:
            found += [int(pid) for pid in listing.read().split()]
    return [pid for pid in found if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_a_sigkilled_workers_pool_processes_die_with_it_and_free_their_slots(tmp_path: Path) -> None:
    """The worker's main process is SIGKILLed: its pool processes must not live on holding their slots. One pool
    process is killed and replaced first: on this broker (memory://, as the filesystem one) the pool is
    billiard's threaded one, whose replacements are forked from a thread, not the main one (a pidfd watch stands
    in for PR_SET_PDEATHSIG there); the first pool processes were forked from the main thread."""
    base = celery_slot_base()
    mine = [base, base + 1]
    with celery_worker(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        broker_url="memory://",
        log=tmp_path / "worker.log",
        extra_env={"MEMLAB_SANDBOX_SLOT_BASE": str(base)},
        concurrency=2,
    ) as worker:
        first = _pool_processes(worker.pid)
        assert len(first) == 2
        deadline = time.monotonic() + 60  # each pool process claims its slot as it starts its zygote
        while any(slots.is_free(s) for s in mine) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(slots.is_free(s) for s in mine), "the pool processes did not claim their slots"
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(set(_pool_processes(worker.pid)) - set(first)) < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        pool = sorted(set(first) | set(_pool_processes(worker.pid)))
        assert len(pool) == 3, "the killed pool process was not replaced"
        os.kill(worker.pid, signal.SIGKILL)  # the main process only, not its group
        worker.wait()
        deadline = time.monotonic() + 30  # bounded: an idle zygote exits as soon as its pool process is gone
        while (any(_alive(p) for p in pool) or not all(slots.is_free(s) for s in mine)) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)
        survivors = [p for p in pool if _alive(p)]
        for pid in survivors:  # do not leave them behind when the test fails
            os.kill(pid, signal.SIGKILL)
        assert not survivors, "pool processes outlived their SIGKILLed worker"
        assert all(slots.is_free(s) for s in mine), [slots.describe_holders(s) for s in mine]
