"""A sandbox slot is claimed with a host-wide lock, and never shared (graders/sandbox/slots.py, host.py).

The claim tests use a private lock directory (``MEMLAB_SANDBOX_SLOT_DIR``), so that no other grader of the host
takes their slots meanwhile; the host tests use the real one, on slots nobody else asks for by number."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders.sandbox import slots
from graders.sandbox.host import ZygoteHost
from graders.sandbox.jobs import Job, run_job
from tests.support.slots import worker_slot

UNUSED_UID = 65000  # no account, no slot (slots are uids 64000..64999)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")


@pytest.fixture
def slot_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A lock directory of this test's own, below one that other users may enter (as /tmp is)."""
    parent = Path(tempfile.mkdtemp(prefix="memlab-slot-test-"))
    parent.chmod(0o755)
    path = parent / "slots"  # missing: the first claim makes it
    monkeypatch.setenv(slots.SLOT_DIR_ENV, str(path))
    yield path
    for child in path.glob("*") if path.exists() else []:
        child.unlink()
    if path.exists():
        path.rmdir()
    parent.rmdir()


def test_the_first_claim_makes_the_directory_sticky_and_world_writable(slot_dir: Path) -> None:
    with slots.claim(3):
        assert slot_dir.stat().st_mode & 0o7777 == 0o1777
        assert (slot_dir / "slot-003.lock").stat().st_mode & 0o777 == 0o644


def test_a_second_claim_of_a_held_slot_fails_naming_the_slot_and_its_holder(slot_dir: Path) -> None:
    with slots.claim(7):
        with pytest.raises(slots.SlotBusy) as info:
            slots.claim(7)
        assert info.value.slot == 7
        assert "sandbox slot 7 is held by" in str(info.value) and f"pid {os.getpid()}" in str(info.value)
        assert not slots.is_free(7) and slots.is_free(8)
    assert slots.is_free(7)  # closing the claim's descriptor let it go


def test_a_second_claim_waits_for_the_slot_to_be_let_go(slot_dir: Path) -> None:
    first = slots.claim(7)
    releaser = threading.Timer(0.3, first.close)
    releaser.start()
    try:
        second = slots.claim(7, wait_s=30)  # returns as soon as the first is closed
    finally:
        releaser.join()
    assert second.slot == 7 and first.closed
    second.close()


def test_a_wait_is_bounded(slot_dir: Path) -> None:
    with slots.claim(7), pytest.raises(slots.SlotBusy, match=r"slot 7 is held .*\(waited 0.2 s\)"):
        slots.claim(7, wait_s=0.2)


def test_the_first_free_slot_skips_held_ones(slot_dir: Path) -> None:
    with slots.claim(999), slots.claim(997):
        with slots.claim_free() as a, slots.claim_free() as b:
            assert (a.slot, b.slot) == (998, 996)  # from the top down, past the held ones
        with slots.claim_free(range(997, 1000)) as c:
            assert c.slot == 998
            with pytest.raises(slots.SlotBusy, match="every sandbox slot is held"):
                slots.claim_free(range(997, 1000))


def test_a_slot_outside_the_range_is_refused(slot_dir: Path) -> None:
    for slot in (-1, slots.MAX_SLOTS):
        with pytest.raises(slots.SlotError, match="outside 0..999"):
            slots.claim(slot)


def test_a_child_that_inherited_the_lock_holds_the_slot_after_the_parent_closed_it(slot_dir: Path) -> None:
    claim = slots.claim(11)
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE, pass_fds=(claim.fd,)
    )
    try:
        claim.close()
        assert not slots.is_free(11)  # the child's copy still holds it
        assert f"pid {os.getpid()}" in slots.describe_holders(11)  # the kernel names who locked it
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
    assert slots.is_free(11)


def test_a_symbolic_link_in_place_of_a_lock_file_is_not_followed(slot_dir: Path, tmp_path: Path) -> None:
    slots.claim(1).close()  # makes the directory
    target = tmp_path / "elsewhere"
    target.write_text("not a lock file")
    (slot_dir / "slot-002.lock").symlink_to(target)
    with pytest.raises(slots.SlotError, match="cannot open the lock file of sandbox slot 2"):
        slots.claim(2)
    (slot_dir / "slot-002.lock").unlink()


def _claim_as(uid: int, slot: int) -> int:
    """Claim ``slot`` in a forked child that switched to ``uid`` first: 0 if it got it, 1 if it was held, 2 if
    anything else failed."""
    pid = os.fork()
    if pid == 0:
        status = 2
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            with slots.claim(slot):
                status = 0
        except slots.SlotBusy:
            status = 1
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@needs_root
def test_another_user_claims_a_slot_whose_lock_file_root_made_and_the_other_way_round(slot_dir: Path) -> None:
    slots.claim(5).close()  # root makes the directory and slot 5's file
    assert (slot_dir / "slot-005.lock").stat().st_uid == 0
    assert _claim_as(UNUSED_UID, 5) == 0  # opened without O_CREAT, locked read-only
    assert _claim_as(UNUSED_UID, 6) == 0  # a file of its own in the sticky directory
    assert (slot_dir / "slot-006.lock").stat().st_uid == UNUSED_UID
    with slots.claim(6):  # root claims that user's file (without O_CREAT too)
        assert _claim_as(UNUSED_UID, 6) == 1  # and holds it against that user
    with slots.claim(5):
        assert _claim_as(UNUSED_UID, 5) == 1


# --- the host -------------------------------------------------------------------------------------------------

NOOP = Job("x = 1\n", [{"op": "module", "require": []}])


def freed(slot: int, within_s: float = 10.0) -> bool:
    """Whether ``slot`` comes free within ``within_s``. A closed host's slot is free once the last process of its
    zygote is gone: the zygote exits at once, but a job's supervisor (and in namespace mode its mini-init, which
    hold the lock too, so that the slot is never free while anything of a job lives) may take a moment longer to
    be reaped on a busy machine."""
    try:
        slots.claim(slot, wait_s=within_s).close()
    except slots.SlotBusy:
        return False
    return True


def _fd_targets(pid: int) -> set[str]:
    """Where each descriptor of ``pid`` points (read as root, or as the same user)."""
    targets = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return targets


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        for task in os.listdir(f"/proc/{current}/task"):
            try:
                with open(f"/proc/{current}/task/{task}/children") as listing:
                    children = [int(p) for p in listing.read().split()]
            except OSError:
                continue
            found += children
            stack += children
    return found


def _uid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def test_hosts_without_a_slot_take_different_free_slots() -> None:
    first, second = ZygoteHost(), ZygoteHost()
    try:
        first.start()
        second.start()
        assert first.slot is not None and second.slot is not None and first.slot != second.slot
        assert not slots.is_free(first.slot) and not slots.is_free(second.slot)
    finally:
        first.close()
        second.close()
    assert first.slot is not None and freed(first.slot)


def test_a_host_asking_for_a_held_slot_waits_a_bounded_time_then_says_who_holds_it() -> None:
    slot = worker_slot()
    with slots.claim(slot):
        host = ZygoteHost(slot=slot, slot_wait_s=0.2)
        assert not host.try_start()  # does not block
        with pytest.raises(slots.SlotBusy, match=rf"sandbox slot {slot} is held by pid {os.getpid()}"):
            run_job(NOOP, host)
        assert host._proc is None  # nothing was started
    assert run_job(NOOP, host).ok  # free now: the next job claims it and runs
    host.close()


@pytest.mark.parametrize("no_namespaces", [False, True], ids=["namespaces", "fallback"])
def test_the_zygote_holds_the_slot_and_the_runner_does_not(no_namespaces: bool) -> None:
    """The host passes its locked descriptor to the zygote: the slot stays held after the host's own copy is
    closed, until the zygote is gone. The runner, student code, holds no copy, in either mode (in namespace mode
    it is forked by the mini-init, which holds one)."""
    host = ZygoteHost(no_namespaces=no_namespaces, slot=worker_slot())
    try:
        assert run_job(NOOP, host).ok
        assert host.slot is not None and host._proc is not None and host._claim is not None
        lock_file = str(slots.lock_path(host.slot))
        zygote = host._proc.pid
        assert lock_file in _fd_targets(zygote)
        outcome: list[object] = []
        sleeper = Job("import time\ntime.sleep(3)\n", [{"op": "module", "require": []}])
        job = threading.Thread(target=lambda: outcome.append(run_job(sleeper, host)))
        job.start()
        runner_uid = 64000 + host.slot
        deadline = time.monotonic() + 30
        runners: list[int] = []
        while not runners and time.monotonic() < deadline:
            runners = [p for p in _descendants(zygote) if _uid(p) == runner_uid]
            time.sleep(0.02)
        assert runners, "no runner of the slot's uid appeared"
        held_by_runner = [p for p in runners if lock_file in _fd_targets(p)]
        # the same reading sees the copy the job's supervisor inherited from the zygote
        held_by_others = [p for p in _descendants(zygote) if p not in runners and lock_file in _fd_targets(p)]
        job.join()
        assert not held_by_runner and held_by_others
        host._claim.close()  # as if the host had died: the zygote alone keeps the slot
        assert not slots.is_free(host.slot)
    finally:
        host.close()
    assert freed(host.slot)


def test_a_forked_child_of_a_grader_does_not_hold_its_slot() -> None:
    host = ZygoteHost(slot=worker_slot())
    try:
        assert run_job(NOOP, host).ok
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # waits until its parent closes the pipe, holding whatever it inherited
            os.close(write_end)
            os.read(read_end, 1)
            os._exit(0)
        os.close(read_end)
    finally:
        host.close()
    try:
        assert host.slot is not None and freed(host.slot)
    finally:
        os.close(write_end)
        os.waitpid(pid, 0)


def test_a_zygote_refuses_to_start_on_a_slot_it_does_not_hold() -> None:
    """``launch.py --slot-fd`` checks the lock: a descriptor on a slot someone else holds is refused."""
    slot = worker_slot()
    with slots.claim(slot):
        other = os.open(slots.lock_path(slot), os.O_RDONLY)
        try:
            launch = Path(__file__).resolve().parents[2] / "graders" / "sandbox" / "child" / "launch.py"
            result = subprocess.run(
                [
                    sys.executable,
                    "-I",
                    str(launch),
                    "--fd",
                    "0",
                    "--slot",
                    str(slot),
                    "--slot-fd",
                    str(other),
                ],
                pass_fds=(other,),
                capture_output=True,
                timeout=60,
                check=False,
            )
        finally:
            os.close(other)
    assert result.returncode == 1
    assert f"slot {slot}'s lock is not held here" in result.stderr.decode()


def test_a_zygote_replaced_after_its_last_job_hands_its_slot_to_the_next_without_letting_it_go() -> None:
    """After ``max_jobs`` the host replaces its zygote: the claim is kept across the swap (the same locked
    descriptor goes to the new zygote), so no other grader can take the slot in between, and a host asking
    for no slot stays on the one it had."""
    host = ZygoteHost(max_jobs=1)
    try:
        assert run_job(NOOP, host).ok  # the first zygote ends after this job; the next one is spawned at once
        first_claim, second_zygote = host._claim, host._proc
        assert first_claim is not None and second_zygote is not None
        assert run_job(NOOP, host).ok
        assert host._claim is first_claim and not first_claim.closed
        assert host._proc is not None and host._proc.pid != second_zygote.pid
        assert host.slot == first_claim.slot and not slots.is_free(first_claim.slot)
    finally:
        host.close()
    assert first_claim.closed and freed(first_claim.slot)


def test_a_zygote_that_died_gives_its_slot_back_before_the_next_one_claims() -> None:
    """A zygote that did not end by itself (killed here) may leave job processes behind: the host lets its
    slot go and claims again, which waits until nothing of the old zygote holds the lock."""
    host = ZygoteHost(slot=worker_slot())
    try:
        assert run_job(NOOP, host).ok
        first_claim = host._claim
        assert host._proc is not None and first_claim is not None
        host._proc.kill()
        host._proc.wait()
        assert run_job(NOOP, host).ok
        assert first_claim.closed and host._claim is not None and host._claim is not first_claim
        assert host.slot == first_claim.slot
    finally:
        host.close()
