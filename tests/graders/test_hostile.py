"""Hostile submissions, each in namespace mode and in forced fallback mode: contained, with the right verdict.

Containment is checked from outside the sandbox: canary listeners on loopback (TCP and UDP) that must receive
nothing, a secret file beside which nothing may appear, a sleeper process of ours that must survive, no process
left under the zygote, and a grader that still grades an honest solution afterwards. Each canary first proves
it works (the test process itself connects, sends, reads), so that a silent canary cannot pass a test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graders.exercise import ExerciseSpec
from graders.report import Report
from graders.sandbox.host import ZygoteHost
from tests.graders.submissions import FAST_WEIGHT, fast_weight_with
from tests.graders.test_sandbox_modes import (  # noqa: F401  (mode_host is a fixture)
    grade_on,
    is_namespaced,
    mode_host,
    quick_limits,
    run_module,
)


@pytest.fixture
def box(mode_host: ZygoteHost) -> ZygoteHost:  # noqa: F811  (the imported fixture, one zygote per mode)
    return mode_host


def printed(report: Report) -> set[str]:
    """The distinct lines printed: module-level code runs once per job, and a grading runs several jobs."""
    return set(report.stdout.splitlines())


@pytest.fixture
def tcp_canary() -> Iterator[socket.socket]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    yield listener
    listener.close()


@pytest.fixture
def udp_canary() -> Iterator[socket.socket]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    yield receiver
    receiver.close()


def tcp_was_reached(listener: socket.socket) -> bool:
    try:
        connection, _ = listener.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


def udp_was_reached(receiver: socket.socket) -> bool:
    try:
        receiver.recv(100)
    except BlockingIOError:
        return False
    return True


def zygote_children(host: ZygoteHost) -> list[int]:
    """Processes still under the zygote once a job is done (supervisors, runners, escaped daemons)."""
    assert host._proc is not None
    root = host._proc.pid
    found: list[int] = []
    for tid in os.listdir(f"/proc/{root}/task"):
        with open(f"/proc/{root}/task/{tid}/children") as listing:
            found += [int(pid) for pid in listing.read().split()]
    return found


def message(report: Report, check_id: str = "interface") -> str:
    check = report.check(check_id)
    assert check is not None
    return check.message


def assert_grader_alive(host: ZygoteHost, spec: ExerciseSpec) -> None:
    assert zygote_children(host) == []
    assert grade_on(host, spec, spec.solution).verdict == "passed"


def test_the_canaries_notice_a_connection_and_a_datagram(
    tcp_canary: socket.socket, udp_canary: socket.socket
) -> None:
    assert not tcp_was_reached(tcp_canary) and not udp_was_reached(udp_canary)
    with socket.create_connection(tcp_canary.getsockname(), timeout=1):
        time.sleep(0.05)
        assert tcp_was_reached(tcp_canary)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"x", udp_canary.getsockname())
    time.sleep(0.05)
    assert udp_was_reached(udp_canary)


def test_tcp_to_a_loopback_listener_is_refused(
    box: ZygoteHost, fast_weight: ExerciseSpec, tcp_canary: socket.socket
) -> None:
    host, port = tcp_canary.getsockname()
    attack = f"import socket\nsocket.create_connection(({host!r}, {port}), timeout=1).sendall(b'hi')\n"
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "runtime_error" and "PermissionError" in message(report)
    time.sleep(0.05)
    assert not tcp_was_reached(tcp_canary)
    assert_grader_alive(box, fast_weight)


def test_udp_to_a_loopback_listener_is_refused(
    box: ZygoteHost, fast_weight: ExerciseSpec, udp_canary: socket.socket
) -> None:
    host, port = udp_canary.getsockname()
    attack = (
        "import socket\n"
        f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'leak', ({host!r}, {port}))\n"
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "runtime_error" and "PermissionError" in message(report)
    time.sleep(0.05)
    assert not udp_was_reached(udp_canary)


def test_files_outside_the_job_directory_can_be_neither_read_nor_written(
    box: ZygoteHost, fast_weight: ExerciseSpec, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("hunter2")
    planted = tmp_path / "planted.txt"
    attack = (
        "for attempt in (\n"
        f"    lambda: print(open({str(secret)!r}).read()),\n"
        f"    lambda: open({str(planted)!r}, 'w').write('x'),\n"
        "    lambda: print(open('/etc/passwd').read()[:40]),\n"
        f"    lambda: print(open({str(Path(__file__).resolve())!r}).read()[:40]),\n"  # the grader's own tree
        "):\n"
        "    try:\n"
        "        attempt()\n"
        "    except PermissionError:\n"
        "        print('denied')\n"
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "passed", report.to_dict()
    assert report.stdout.startswith("denied\ndenied\ndenied\ndenied\n") and printed(report) == {"denied"}
    assert "hunter2" not in report.stdout and not planted.exists()


def test_a_daemon_cannot_escape(box: ZygoteHost, fast_weight: ExerciseSpec, tmp_path: Path) -> None:
    marker = tmp_path / "daemon-was-here"
    attack = (
        "import os, time\n"
        "def daemon():\n"
        "    if os.fork():\n"
        "        return\n"
        "    os.setsid()\n"
        "    if os.fork():\n"
        "        os._exit(0)\n"
        "    time.sleep(0.5)\n"
        f"    open({str(marker)!r}, 'w').write('escaped')\n"
        "    os._exit(0)\n"
        "try:\n"
        "    daemon()\n"
        "except PermissionError:\n"
        "    print('no fork')\n"
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "passed" and printed(report) == {"no fork"}, report.to_dict()
    time.sleep(1.0)  # the daemon would have written by now
    assert not marker.exists()
    assert_grader_alive(box, fast_weight)


def test_a_fork_bomb_goes_nowhere(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    attack = "import os\nwhile True:\n    os.fork()\n"
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "runtime_error" and "PermissionError" in message(report)
    assert_grader_alive(box, fast_weight)


def test_a_subprocess_cannot_be_started(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    attack = "import subprocess\nsubprocess.run(['/bin/sh', '-c', 'echo pwned'])\n"
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "runtime_error" and "PermissionError" in message(report)
    assert "pwned" not in report.stdout


def test_a_memory_bomb_is_a_memory_limit(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    attack = "blocks = []\nwhile True:\n    blocks.append(bytearray(64 << 20))\n"
    report = grade_on(box, quick_limits(fast_weight), attack + FAST_WEIGHT)
    assert report.verdict == "memory_limit", report.to_dict()
    assert_grader_alive(box, fast_weight)


def test_raising_the_memory_limit_is_refused(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    attack = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n"
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "runtime_error" and "not allowed to raise maximum limit" in message(report)


def test_an_infinite_loop_is_a_cpu_timeout(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    # SIGXCPU reaches the runner: with namespaces it is PID 2, not PID 1 (which would drop the signal); the
    # wall limit is 5 s so that the 1 s of CPU is used up first even on a loaded machine
    spec = quick_limits(fast_weight, wall_s=5.0)
    report = grade_on(box, spec, fast_weight_with(update="while True:\n    pass\n"))
    assert report.verdict == "timeout" and "CPU time limit of 1 s" in message(report), report.to_dict()
    assert_grader_alive(box, fast_weight)


def test_sleeping_is_a_wall_clock_timeout(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    started = time.monotonic()
    attack = "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ntime.sleep(30)\n"
    report = grade_on(box, quick_limits(fast_weight), attack + FAST_WEIGHT)
    assert report.verdict == "timeout" and "wall-clock limit of 2 s" in message(report), report.to_dict()
    assert time.monotonic() - started < 10
    assert_grader_alive(box, fast_weight)


def test_giant_output_is_capped(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    attack = "import sys\nfor _ in range(2000):\n    sys.stdout.write('x' * 50000 + '\\n')\n"
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "passed", report.to_dict()
    assert len(report.stdout) < 9000 and "more characters not shown" in report.stdout


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process of ours, outside the sandbox, that a submission will try to kill."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_killing_the_parent_the_zygote_or_our_processes_is_refused(
    box: ZygoteHost, fast_weight: ExerciseSpec, sleeper: subprocess.Popen[bytes]
) -> None:
    assert box._proc is not None
    targets = ["os.getppid()", str(box._proc.pid), str(sleeper.pid), str(os.getpid())]
    attack = (
        "import os, signal\n"
        f"for target in ({', '.join(targets)},):\n"
        "    try:\n"
        "        os.kill(target, signal.SIGKILL)\n"
        "        print('sent')\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "passed", report.to_dict()
    # Landlock's signal scope refuses all four; in a pid namespace the outside pids do not even exist
    expected = {"PermissionError", "ProcessLookupError"} if is_namespaced(box) else {"PermissionError"}
    lines = report.stdout.splitlines()
    assert len(lines) >= 4 and set(lines) <= expected, lines
    time.sleep(0.05)
    assert sleeper.poll() is None
    assert_grader_alive(box, fast_weight)


def test_kill_everything_is_refused_and_hits_nothing_outside(
    box: ZygoteHost, fast_weight: ExerciseSpec, sleeper: subprocess.Popen[bytes]
) -> None:
    if "seccomp" not in box.layers:
        # without the filter, kill(-1) from a root runner in the fallback could take down this test run itself
        pytest.skip("kill(-1, SIGKILL) is attempted only under the seccomp filter that refuses it")
    attack = (
        "import os, signal\n"
        "for target in (-1, -os.getppid()):\n"  # everything this process may signal; another process group
        "    try:\n"
        "        os.kill(target, signal.SIGKILL)\n"
        "        print('sent')\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
        "print('still here')\n"
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    # refused by the seccomp filter in both modes (in a pid namespace it would reach nothing outside anyway)
    assert report.verdict == "passed" and printed(report) == {"PermissionError", "still here"}, (
        report.to_dict()
    )
    assert sleeper.poll() is None
    assert_grader_alive(box, fast_weight)


def test_exit_at_import_is_a_runtime_error(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    report = grade_on(box, fast_weight, "import os\nos._exit(0)\n" + FAST_WEIGHT)
    assert report.verdict == "runtime_error" and "exit status 0" in message(report)


def test_fake_verdicts_on_stdout_and_inherited_descriptors_change_nothing(
    box: ZygoteHost, fast_weight: ExerciseSpec
) -> None:
    attack = (
        "import os\n"
        'fake = b\'{"schema": 1, "verdict": "passed", "score": 1.0}\'\n'
        "print(fake.decode())\n"
        "closed = 0\n"
        "for fd in range(4, 64):\n"
        "    try:\n"
        "        os.write(fd, fake)\n"
        "    except OSError:\n"
        "        closed += 1\n"
        "print('closed', closed)\n"
    )
    wrong = fast_weight_with(update='return {"M": mem["M"] + torch.outer(k, v)}\n')
    report = grade_on(box, fast_weight, attack + wrong)
    assert report.verdict == "failed" and report.score < 1, report.to_dict()
    # past the result pipe only the CPU-mark channel is open: its write end takes bytes, as marks (which only
    # time the run: a flood of them leaves the CPU time unjudged), and its read end refuses writes
    assert "closed 59" in report.stdout
    assert_grader_alive(box, fast_weight)


def test_signals_ignored_by_the_student_do_not_stop_the_wall_kill(
    box: ZygoteHost, fast_weight: ExerciseSpec
) -> None:
    attack = (
        "import signal, time\n"
        "for s in (signal.SIGALRM, signal.SIGTERM, signal.SIGXCPU, signal.SIGINT, signal.SIGHUP):\n"
        "    signal.signal(s, signal.SIG_IGN)\n"
        "while True:\n"
        "    time.sleep(0.01)\n"
    )
    report = grade_on(box, quick_limits(fast_weight), attack + FAST_WEIGHT)
    assert report.verdict == "timeout", report.to_dict()
    assert_grader_alive(box, fast_weight)


def test_terminal_injection_is_refused(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    attack = (
        "import fcntl, termios\n"
        "try:\n"
        "    fcntl.ioctl(1, termios.TIOCSTI, b'x')\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "passed" and printed(report) == {"1"}, report.to_dict()  # EPERM, not ENOTTY


def test_unsharing_or_mounting_is_refused(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:
    attack = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), ctypes.get_errno())\n"  # CLONE_NEWUSER
        "print(libc.mount(b'none', b'.', b'tmpfs', 0, None), ctypes.get_errno())\n"
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "passed", report.to_dict()
    assert printed(report) == {"-1 1"}


def test_big_or_many_files_fill_only_the_job_tmpfs(box: ZygoteHost) -> None:
    if not is_namespaced(box):
        pytest.skip("the fallback's job directory is watched instead: see the test after this one")
    attack = (
        "import errno\n"
        "def fill(count, size):\n"
        "    for i in range(count):\n"
        "        try:\n"
        "            with open(f'f{size}-{i}', 'wb') as f:\n"
        "                f.write(b'x' * size)\n"
        "        except OSError as exc:\n"
        "            return f'{errno.errorcode[exc.errno]} after {i}'\n"
        "    return 'all written'\n"
        "print(fill(10, 15 << 20))\n"  # 150 MiB in files under RLIMIT_FSIZE; the tmpfs holds 64 MiB
        "print(fill(10000, 0))\n"  # more files than the tmpfs has inodes
    )
    big, many = run_module(box, attack).splitlines()
    assert big.startswith("ENOSPC after ") and int(big.split()[-1]) <= 5
    assert many.startswith("ENOSPC after ") and int(many.split()[-1]) < 4096


# far past the bounds (64 MiB, 4096 files), so that the watcher (every 20 ms) stops the runner long before it is
# done even on a loaded machine: 10 000 empty files took a runner under 0.1 s, and once one finished first
@pytest.mark.parametrize(("count", "size"), [(40, 15 << 20), (100_000, 0)], ids=["big files", "many files"])
def test_the_fallback_stops_a_runner_that_fills_its_job_directory(
    box: ZygoteHost, fast_weight: ExerciseSpec, count: int, size: int
) -> None:
    if is_namespaced(box):
        pytest.skip("namespace mode bounds the job directory with a tmpfs: see the test before this one")
    attack = (
        "import os, tempfile\n"
        f"for i in range({count}):\n"
        f"    with open(f'f{{i}}', 'wb') as f:\n"
        f"        f.write(b'x' * {size})\n"
        "print('all written')\n"
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "runtime_error", report.to_dict()
    assert "into its working folder" in report.checks[0].message and "all written" not in report.stdout
    tmp = Path(
        tempfile.gettempdir()
    )  # other jobs may run beside this test: look for this attack's files only
    assert not any((job / "f0").exists() for job in tmp.glob("memlab-job-*")), "the job directory was left"
    assert_grader_alive(box, fast_weight)
