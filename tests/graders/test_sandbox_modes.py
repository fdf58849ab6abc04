"""The two sandbox modes: namespaces (mini-init as PID 1) and the forced fallback, and the fail-closed rule.

The ``mode_host`` fixture starts one zygote per mode, with ``MEMLAB_SANDBOX_NO_NAMESPACES`` set or unset in the
grader's environment when the host is made (the host passes the decision to the zygote on its command line).
``test_hostile.py`` imports it, so every hostile submission runs in both modes. Its runners run as the uid of a
slot of their own per pytest worker (:func:`worker_slot`): in the fallback the supervisor sweeps that uid after
each job (``kill(-1)`` as the uid), which would kill the runners of another worker on the same slot.
"""

from __future__ import annotations

import dataclasses
import os
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders.exercise import ExerciseSpec, Limits
from graders.grading import Grading
from graders.report import Report
from graders.sandbox import host as host_module
from graders.sandbox.child import layers, namespaces, reap
from graders.sandbox.host import NO_NAMESPACES_ENV, SandboxUnsafe, ZygoteHost
from graders.sandbox.jobs import Job, run_job
from tests.graders.submissions import fast_weight_with
from tests.support.slots import worker_slot

MODES = ["namespaces", "fallback"]
ALWAYS = {"zygote-fork", "clean-env", "closed-fds", "rlimits", "wall-kill", "landlock", "no-caps", "seccomp"}
NAMESPACED = {"pid-ns", "net-ns", "mount-ns", "ipc-ns", "uts-ns", "mini-init", "job-tmpfs"}
# slots of these tests' zygotes, one per pytest worker: away from the Celery workers' (0 and up), the fault
# tests' (900..949) and the benchmarks' (980..999)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root")


@pytest.fixture(scope="session", params=MODES)
def mode_host(request: pytest.FixtureRequest) -> Iterator[ZygoteHost]:
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "fallback":
            patch.setenv(NO_NAMESPACES_ENV, "1")
        else:
            patch.delenv(NO_NAMESPACES_ENV, raising=False)
        host = ZygoteHost(slot=worker_slot())
    assert run_job(Job("x = 1\n", [{"op": "module", "require": []}]), host).ok  # waits until it is ready
    yield host
    host.close()


def is_namespaced(host: ZygoteHost) -> bool:
    return not host.no_namespaces


def grade_on(host: ZygoteHost, spec: ExerciseSpec, source: str) -> Report:
    return Grading(spec, source, host).run("test")


def quick_limits(spec: ExerciseSpec, wall_s: float = 2.0) -> ExerciseSpec:
    return dataclasses.replace(spec, limits=Limits(wall_s=wall_s, cpu_s=1, memory_mb=256))


def run_module(host: ZygoteHost, source: str) -> str:
    """Run ``source`` at import in ``host``'s sandbox; its stdout (it must exit cleanly with SystemExit(0))."""
    outcome = run_job(Job(source + "\nraise SystemExit(0)\n", [{"op": "module", "require": []}]), host)
    assert outcome.kind == "error" and outcome.error_type == "SystemExit", outcome
    assert outcome.error_message == "0", outcome
    return outcome.stdout.decode()


def test_each_mode_lists_its_layers(mode_host: ZygoteHost) -> None:
    active = set(mode_host.layers)
    assert active >= ALWAYS
    if is_namespaced(mode_host):
        assert active >= NAMESPACED | {"uid"} and "uid-sweep" not in active
    else:
        assert not active & NAMESPACED
        assert active >= {"uid", "uid-sweep"}  # the install is reached through held descriptors


def test_reports_list_the_active_layers(mode_host: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    report = grade_on(mode_host, fast_weight, fast_weight.solution)
    assert report.verdict == "passed", report.to_dict()
    assert report.sandbox.layers == mode_host.layers


def test_the_runner_sees_its_own_namespaces_or_the_host(mode_host: ZygoteHost) -> None:
    probe = (
        "import os, socket\n"
        "print(os.getpid(), os.getppid(), socket.gethostname())\n"
        "try:\n"
        "    print(sorted(p for p in os.listdir('/proc') if p.isdigit()))\n"
        "except PermissionError as exc:\n"
        "    print('proc', type(exc).__name__)\n"
        "print(open('/proc/self/status').read().count('Pid:') > 0)\n"
    )
    lines = run_module(mode_host, probe).splitlines()
    pid, ppid, hostname = lines[0].split()
    if is_namespaced(mode_host):
        # PID 2 under the mini-init, named by the uts namespace, seeing only its own namespace's /proc
        assert (pid, ppid, hostname) == ("2", "1", "sandbox")
        assert lines[1] == "['1', '2']"
    else:
        assert int(pid) > 2 and hostname == os.uname().nodename
        assert lines[1] == "proc PermissionError"  # the host's /proc is off limits, /proc/self is not
    assert lines[2] == "True"


def test_the_runner_has_no_capabilities_and_its_slot_uid(mode_host: ZygoteHost) -> None:
    probe = (
        "import os\n"
        "print(*os.getresuid(), *os.getresgid(), len(os.getgroups()), os.stat('.').st_uid)\n"
        "status = open('/proc/self/status').read()\n"
        "print(*(line.split()[1] for line in status.splitlines() if line.startswith(('CapEff', 'CapBnd'))))\n"
        "import decimal, sqlite3, torch.distributions\n"  # lazy imports still read the install
    )
    ids, caps = run_module(mode_host, probe).splitlines()
    expected = 64000 + mode_host.slot
    assert ids.split() == [str(expected)] * 6 + ["0", str(expected)]
    assert caps.split() == ["0000000000000000", "0000000000000000"]


def test_a_submission_runs_as_its_slot_uid_and_imports_modules_the_zygote_did_not(
    mode_host: ZygoteHost, fast_weight: ExerciseSpec
) -> None:
    # a job may run the module more than once: the first run is the one that imports them
    prelude = """
    import sys
    print("preloaded", sorted(name for name in ("fractions", "wave", "sched") if name in sys.modules))
    import fractions, os, sched, wave
    print("uid", os.getuid(), os.geteuid(), fractions.Fraction(2, 6) * 3, wave.WAVE_FORMAT_PCM)
    """
    report = grade_on(mode_host, fast_weight, fast_weight_with(prelude=prelude))
    assert report.verdict == "passed", report.to_dict()
    uid = 64000 + mode_host.slot
    lines = report.stdout.splitlines()
    assert lines[:2] == ["preloaded []", f"uid {uid} {uid} 1 1"], lines
    assert set(lines) <= {"preloaded []", "preloaded ['fractions', 'sched', 'wave']", f"uid {uid} {uid} 1 1"}


def test_the_fallbacks_held_descriptors_reach_the_install_and_nothing_beside_it(
    mode_host: ZygoteHost,
) -> None:
    if is_namespaced(mode_host):
        pytest.skip("namespace mode binds the install back instead of holding descriptors")
    if namespaces.blocked_ancestor(sys.base_prefix) is None:
        pytest.skip("the install is readable by every uid here: no descriptor is held")
    probe = (
        "import os\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    here = f'/proc/self/fd/{fd}'\n"
        "    if os.path.isdir(here):\n"
        "        for up in ('..', '../..', '../../..'):\n"
        "            try:\n"
        "                print(os.readlink(here), up, len(os.listdir(f'{here}/{up}')))\n"
        "            except PermissionError:\n"
        "                print(os.readlink(here), up, 'denied')\n"
    )
    held = [line.split() for line in run_module(mode_host, probe).splitlines()]
    assert any(target == os.path.realpath(sys.base_prefix) for target, _, _ in held), held
    assert all(answer == "denied" for _, _, answer in held), held


def test_the_runner_can_neither_trace_nor_dump_core(mode_host: ZygoteHost) -> None:
    # the fallback's runner is dumpable again (for /proc/self/fd): that must open neither ptrace nor a core file
    probe = (
        "import ctypes, os, resource\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(resource.getrlimit(resource.RLIMIT_CORE))\n"
        "for request, pid in ((0, 0), (16, os.getppid())):\n"  # PTRACE_TRACEME, PTRACE_ATTACH
        "    print(libc.ptrace(request, pid, None, None), ctypes.get_errno())\n"
    )
    assert run_module(mode_host, probe).splitlines() == ["(0, 0)", "-1 1", "-1 1"]


def test_the_sandbox_start_is_measured_up_to_the_confined_runner(mode_host: ZygoteHost) -> None:
    outcome = run_job(Job("x = 1\n", [{"op": "module", "require": []}]), mode_host)
    assert outcome.ok and outcome.start_s is not None
    assert 0 < outcome.start_s < min(outcome.roundtrip_s, 1.0)


def test_threads_still_work(mode_host: ZygoteHost) -> None:
    probe = (
        "import threading, torch\n"
        "out = []\n"
        "t = threading.Thread(target=lambda: out.append(float((torch.ones(3) * 2).sum())))\n"
        "t.start(); t.join()\n"
        "print(out)\n"
    )
    assert run_module(mode_host, probe).strip() == "[6.0]"


def test_the_job_directory_is_writable_and_capped(mode_host: ZygoteHost) -> None:
    probe = (
        "import os\n"
        "open('notes.txt', 'w').write('hello')\n"
        "print(open('notes.txt').read())\n"
        "try:\n"
        "    with open('big.bin', 'wb') as f:\n"
        "        f.write(b'x' * (17 << 20))\n"  # over RLIMIT_FSIZE (16 MiB)
        "except OSError as exc:\n"
        "    print('big', exc.errno)\n"
    )
    assert run_module(mode_host, probe).splitlines() == ["hello", "big 27"]  # EFBIG


def test_decide_gives_the_slot_uid_in_both_modes_unless_the_fallback_cannot_reach_the_install() -> None:
    assert layers.decide(forced_off=False, namespaces_problem=None, landlock_abi=7, slot=3)["uid"] == 64003
    fallback = layers.decide(forced_off=True, namespaces_problem=None, landlock_abi=7, slot=3)
    assert fallback["uid"] == 64003 and fallback["uid_problem"] == ""
    assert layers.layer_names(fallback)[-4:] == ["uid", "uid-sweep", "no-caps", "seccomp"]
    stuck = layers.decide(
        forced_off=True, namespaces_problem=None, landlock_abi=7, slot=3, uid_problem="EACCES"
    )
    assert stuck["uid"] is None and stuck["uid_problem"] == "EACCES"
    assert not {"uid", "uid-sweep"} & set(layers.layer_names(stuck))
    # namespace mode reaches the install through its mounts: the fallback's problem does not apply
    mounted = layers.decide(
        forced_off=False, namespaces_problem=None, landlock_abi=7, slot=3, uid_problem="EACCES"
    )
    assert mounted["uid"] == 64003 and "uid-sweep" not in layers.layer_names(mounted)
    assert layers.decide(forced_off=True, namespaces_problem=None, landlock_abi=7, slot=1000)["uid"] is None


def start_victim(uid: int) -> int:
    """A process running as ``uid`` that descends from no sandbox (double fork and setuid from this test
    process); returns the read end of a pipe that reaches end of file when the process dies."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            if os.fork() == 0:
                os.setsid()
                os.closerange(3, write_end)
                os.closerange(write_end + 1, 1 << 16)  # none of this test run's sockets or pipes
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                os.write(write_end, b"up")
                time.sleep(60)
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    assert os.read(read_end, 2) == b"up"
    return read_end


def died(pipe: int, within_s: float) -> bool:
    try:
        return bool(select.select([pipe], [], [], within_s)[0]) and os.read(pipe, 1) == b""
    finally:
        os.close(pipe)


@needs_root
def test_the_uid_sweep_kills_a_process_of_its_uid_that_descends_from_nothing_of_ours() -> None:
    uid = layers.UID_BASE + layers.MAX_SLOTS + worker_slot()  # no slot's uid
    victim, bystander = start_victim(uid), start_victim(uid + 1)
    try:
        assert reap.live_processes_of(uid)
        assert reap.sweep_uid(uid)
        assert died(victim, 2.0)
        assert not reap.live_processes_of(uid)
    finally:
        reap.sweep_uid(uid + 1)
    assert died(bystander, 2.0)  # alive until its own uid was swept


@needs_root
def test_a_fallback_job_sweeps_its_slot_uid(mode_host: ZygoteHost) -> None:
    if is_namespaced(mode_host):
        pytest.skip("in namespace mode the end of the pid namespace ends the job's processes")
    victim = start_victim(64000 + mode_host.slot)
    assert run_job(Job("x = 1\n", [{"op": "module", "require": []}]), mode_host).ok
    assert died(victim, 2.0)


def test_decide_fails_closed_only_without_namespaces_and_landlock() -> None:
    assert not layers.decide(forced_off=False, namespaces_problem=None, landlock_abi=0)["refuse"]
    assert not layers.decide(forced_off=True, namespaces_problem=None, landlock_abi=7)["refuse"]
    denied = layers.decide(forced_off=False, namespaces_problem="unshare: EPERM", landlock_abi=0)
    assert "refusing to run student code" in denied["refuse"] and "EPERM" in denied["refuse"]
    forced = layers.decide(forced_off=True, namespaces_problem=None, landlock_abi=0)
    assert "MEMLAB_SANDBOX_NO_NAMESPACES" in forced["refuse"] and not forced["namespaces"]


def test_a_zygote_without_namespaces_or_landlock_refuses_every_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real launch and zygote, on a machine where Landlock is missing (ABI 0) and namespaces are off
    patched_launch(tmp_path, monkeypatch, "import landlock\nlandlock.abi_version = lambda: 0\n")
    unsafe = ZygoteHost(no_namespaces=True)
    try:
        with pytest.raises(SandboxUnsafe, match="neither Linux namespaces .* nor Landlock"):
            run_job(Job("print('ran')\n", [{"op": "module", "require": []}]), unsafe)
        assert unsafe.starts == 0  # never became ready, so no job was ever sent
    finally:
        unsafe.close()


def test_a_fallback_that_cannot_reach_the_install_as_its_uid_runs_as_root_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real launch and zygote, on a machine where the zygote's uid probe fails
    failing = (
        "import confine\nconfine.probe_uid = lambda uid: 'PermissionError: the install is out of reach'\n"
    )
    patched_launch(tmp_path, monkeypatch, failing)
    rooted = ZygoteHost(no_namespaces=True, slot=worker_slot())
    try:
        assert run_module(rooted, "import os\nprint(os.getuid())\n") == "0\n"
        assert not {"uid", "uid-sweep"} & set(rooted.layers) and "seccomp" in rooted.layers
        assert rooted._ready is not None
        assert rooted._ready["sandbox"]["uid_problem"] == "PermissionError: the install is out of reach"
    finally:
        rooted.close()


def patched_launch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, patch: str) -> None:
    """Make the next zygote start run ``patch`` (source, with the child modules importable) before the real
    ``launch.py``: the real zygote on a machine that differs in what ``patch`` changes."""
    child_dir = Path(host_module.__file__).resolve().parent / "child"
    (tmp_path / "launch.py").write_text(
        f"import runpy, sys\nsys.path.insert(0, {str(child_dir)!r})\n{patch}"
        f"runpy.run_path({str(child_dir / 'launch.py')!r}, run_name='__main__')\n"
    )
    monkeypatch.setattr(host_module, "CHILD_DIR", tmp_path)
