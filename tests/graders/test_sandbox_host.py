"""The parent's zygote handle when the zygote itself is broken: an infrastructure fault, never a verdict."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

import graders
from graders import cli
from graders.errors import GraderError
from graders.exercise import ExerciseSpec, Limits
from graders.sandbox import host as host_module
from graders.sandbox.host import SandboxBroken, ZygoteHost
from graders.sandbox.jobs import Job, run_job
from tests.support.slots import worker_slot


@pytest.mark.parametrize(
    "launcher",
    [
        "import sys\nsys.exit(1)\n",  # dies before saying ready
        "import os, sys\nfd = int(sys.argv[-1])\nos.write(fd, b'not a frame at all')\n",  # speaks garbage
    ],
)
def test_a_broken_zygote_raises_grader_error(
    launcher: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "launch.py").write_text(launcher)
    monkeypatch.setattr(host_module, "CHILD_DIR", tmp_path)
    broken = ZygoteHost(start_timeout_s=5)
    try:
        with pytest.raises(SandboxBroken) as info:
            run_job(Job("x = 1\n", [{"op": "module", "require": []}]), broken)
        assert isinstance(info.value, GraderError)
    finally:
        broken.close()


def test_cli_prints_an_internal_error_report_and_fails_when_the_grader_fails(
    fast_weight: ExerciseSpec,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing_grade(spec: ExerciseSpec, source: bytes) -> graders.Report:
        raise GraderError("zygote exploded")

    monkeypatch.setattr(graders, "grade", failing_grade)
    submission = tmp_path / "s.py"
    submission.write_text(fast_weight.solution)
    status = cli.main(["grade", "fast-weight-memory", str(submission), "--json"])
    assert status == cli.EXIT_GRADER_FAILED
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "internal_error" and "zygote exploded" in report["checks"][0]["message"]


class Interrupted(Exception):
    """Stands for the worker's soft time limit: an exception raised by a signal handler in the grading thread."""


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (read from /proc's children lists; they cross pid namespaces)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                for child in map(int, children.read_text().split()):
                    if child not in found:
                        found.add(child)
                        todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("no_namespaces", [False, True], ids=["namespaces", "fallback"])
def test_restart_after_an_interrupted_job_kills_it_and_boots_a_replacement(
    no_namespaces: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the worker does at its soft time limit: the grading is interrupted mid-job, then ``restart()`` kills
    the zygote with the job still running (its supervisor and runner die with it, in the fallback too, where the
    runner's uid switch had cleared its parent-death signal) and a fresh zygote serves the next job."""
    sandbox = ZygoteHost(no_namespaces=no_namespaces, slot=worker_slot())
    monkeypatch.setattr(host_module, "_default", sandbox)  # what restart() acts on
    try:
        _interrupt_and_restart(sandbox)
    finally:
        sandbox.close()


def _interrupt_and_restart(sandbox: ZygoteHost) -> None:
    run_job(Job("x = 1\n", [{"op": "module", "require": []}]), sandbox)  # the zygote is ready
    zygote = sandbox._proc
    assert zygote is not None

    def interrupt(*_: object) -> None:
        if (
            len(_descendants(zygote.pid)) < 2
        ):  # the supervisor and its runner are not both up yet: a busy machine
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            return
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    # a wall limit far above the wait below: a runner that outlived its supervisor would still be sleeping
    job = Job("import time\ntime.sleep(60)\n", [{"op": "module", "require": []}], limits=Limits(wall_s=40.0))
    try:
        with pytest.raises(Interrupted):
            run_job(job, sandbox)
        below = _descendants(zygote.pid)  # the job's supervisor and runner, still going
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert below, "the interrupted job left no process to stop (it should still be sleeping)"
    left = _jobdirs(sandbox.slot)
    assert left, "the interrupted job has no job directory"
    host_module.restart()
    assert zygote.poll() is not None and sandbox._proc is not None and sandbox._proc.pid != zygote.pid
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in below) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in below if _alive(pid)], "the interrupted job's processes outlived the restart"
    outcome = run_job(Job("x = 1\n", [{"op": "module", "require": []}]), sandbox)
    assert outcome.ok, outcome
    # the killed supervisor could not remove its job directory: the replacement removed it before its first job
    assert not left & _jobdirs(sandbox.slot) and sandbox._ready is not None
    assert sandbox._ready["swept_jobdirs"] >= len(left)


def _prefix(slot: int) -> str:
    """``supervisor.jobdir_prefix`` (the child's modules are not importable here: they import one another by
    their bare names)."""
    return f"memlab-job-{slot}-"


def _jobdirs(slot: int) -> set[Path]:
    """The job directories of ``slot`` (the zygote's environment is scrubbed: its temporary directory is /tmp)."""
    return set(Path("/tmp").glob(f"{_prefix(slot)}*"))


def test_a_zygote_removes_only_its_own_slots_leftover_job_directories() -> None:
    slot = worker_slot()
    mine = Path(tempfile.mkdtemp(prefix=_prefix(slot), dir="/tmp"))
    (mine / "written-by-a-runner").write_bytes(b"x" * 100)
    # another slot's: one no zygote ever has (slots are 0..999), so that no other test process sweeps it meanwhile
    other = Path(tempfile.mkdtemp(prefix=_prefix(slot + 1000), dir="/tmp"))
    # one of this slot's that a running job still holds (its supervisor keeps a flock on it): it must stay
    live = Path(tempfile.mkdtemp(prefix=_prefix(slot), dir="/tmp"))
    hold = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(hold, fcntl.LOCK_EX)
    host = ZygoteHost(slot=slot)
    try:
        assert run_job(Job("x = 1\n", [{"op": "module", "require": []}]), host).ok
        assert not mine.exists() and other.exists() and live.exists()
        assert host._ready is not None and host._ready["swept_jobdirs"] >= 1
        assert _jobdirs(slot) == {live}  # and the job it ran removed its own
    finally:
        host.close()
        os.close(hold)
        shutil.rmtree(other, ignore_errors=True)
        shutil.rmtree(live, ignore_errors=True)
