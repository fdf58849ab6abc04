"""The two sandbox modes: namespaces (mini-init as PID 1) and the forced fallback, and the fail-closed rule.

The ``mode_host`` fixture starts one zygote per mode, with ``MEMLAB_SANDBOX_NO_NAMESPACES`` set or unset in the
grader's environment when the host is made (the host passes the decision to the zygote on its command line).
``test_hostile.py`` imports it, so every hostile submission runs in both modes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders.exercise import ExerciseSpec, Limits
from graders.grading import Grading
from graders.report import Report
from graders.sandbox import host as host_module
from graders.sandbox.child import layers
from graders.sandbox.host import NO_NAMESPACES_ENV, SandboxUnsafe, ZygoteHost
from graders.sandbox.jobs import Job, run_job

MODES = ["namespaces", "fallback"]
ALWAYS = {"zygote-fork", "clean-env", "closed-fds", "rlimits", "wall-kill", "landlock", "no-caps", "seccomp"}
NAMESPACED = {"pid-ns", "net-ns", "mount-ns", "ipc-ns", "uts-ns", "mini-init", "job-tmpfs", "uid"}


@pytest.fixture(scope="session", params=MODES)
def mode_host(request: pytest.FixtureRequest) -> Iterator[ZygoteHost]:
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "fallback":
            patch.setenv(NO_NAMESPACES_ENV, "1")
        else:
            patch.delenv(NO_NAMESPACES_ENV, raising=False)
        host = ZygoteHost()
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
        assert active >= NAMESPACED
    else:
        assert not active & NAMESPACED


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


def test_the_runner_has_no_capabilities_and_its_slot_uid_where_namespaces_allow(
    mode_host: ZygoteHost,
) -> None:
    probe = (
        "import os\n"
        "print(*os.getresuid(), *os.getresgid(), len(os.getgroups()), os.stat('.').st_uid)\n"
        "status = open('/proc/self/status').read()\n"
        "print(*(line.split()[1] for line in status.splitlines() if line.startswith(('CapEff', 'CapBnd'))))\n"
        "import decimal, sqlite3, torch.distributions\n"  # lazy imports still read the install
    )
    ids, caps = run_module(mode_host, probe).splitlines()
    expected = 64000 + mode_host.slot if is_namespaced(mode_host) else 0
    assert ids.split() == [str(expected)] * 6 + ["0", str(expected)]
    assert caps.split() == ["0000000000000000", "0000000000000000"]


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
    # the real zygote, on a machine where Landlock is missing (ABI 0) and namespaces are off
    child_dir = Path(host_module.__file__).resolve().parent / "child"
    (tmp_path / "launch.py").write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(child_dir)!r})\n"
        "import landlock\n"
        "landlock.abi_version = lambda: 0\n"
        "import zygote\n"
        "os._exit(zygote.serve(int(sys.argv[sys.argv.index('--fd') + 1]), no_namespaces=True))\n"
    )
    monkeypatch.setattr(host_module, "CHILD_DIR", tmp_path)
    unsafe = ZygoteHost(no_namespaces=True)
    try:
        with pytest.raises(SandboxUnsafe, match="neither Linux namespaces .* nor Landlock"):
            run_job(Job("print('ran')\n", [{"op": "module", "require": []}]), unsafe)
        assert unsafe.starts == 0  # never became ready, so no job was ever sent
    finally:
        unsafe.close()
