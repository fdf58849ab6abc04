"""Grading in the sandbox: honest solutions pass, and every way a submission can go wrong gets its verdict."""

from __future__ import annotations

import dataclasses

import pytest

import graders
from graders.exercise import ExerciseSpec
from graders.report import Report
from graders.sandbox.host import ZygoteHost
from tests.graders.submissions import FAST_WEIGHT, fast_weight_with

pytestmark = pytest.mark.usefixtures("sandbox")

LAYERS = {"zygote-fork", "rlimits", "wall-kill", "closed-fds", "setsid"}


def grade(spec: ExerciseSpec, source: str) -> Report:
    return graders.grade(spec, source.encode("utf-8"))


def check_message(report: Report, check_id: str) -> str:
    check = report.check(check_id)
    assert check is not None
    return check.message


def test_honest_solutions_pass(fast_weight: ExerciseSpec, cumulative: ExerciseSpec) -> None:
    for spec in (fast_weight, cumulative):
        report = graders.grade(spec, spec.solution.encode())
        assert report.verdict == "passed", report.to_dict()
        assert report.score == 1.0
        assert [c.id for c in report.checks] == [
            "interface",
            "correctness",
            "recurrence",
            "purity",
            "state_size",
            "step_cost",
        ]
        assert set(report.sandbox.layers) >= LAYERS
        assert report.sandbox.cpu_s > 0 and report.sandbox.max_rss_kb > 0


def test_module_level_history_fails_recurrence_by_fresh_process_replay(cumulative: ExerciseSpec) -> None:
    history = next(w for w in cumulative.wrong if w.file == "history.py")
    report = graders.grade(cumulative, history.source.encode())
    assert report.verdict == "failed"
    passed = [c.passed for c in report.checks]
    # purity too (its result changes from call to call), and step_cost: the history it averages keeps growing
    assert passed == [True, True, False, False, True, False]
    message = check_message(report, "recurrence")
    assert "replayed in a fresh process from the same Mem_4 and (k_5, v_5)" in message
    assert "module-level list" in message
    assert report.score == pytest.approx(60 / 110, abs=1e-4)  # the report rounds to 4 digits


def test_shared_cache_fails_recurrence_by_interleaving(fast_weight: ExerciseSpec) -> None:
    # right in a fresh process (the cache is empty), wrong once two sequences share it
    source = fast_weight_with(
        prelude="LAST = {}\n",
        update='M = LAST.get("M", mem["M"]) + torch.outer(v, k)\nLAST["M"] = M\nreturn {"M": M}\n',
    )
    source = source.replace("def init_memory(d):\n", "def init_memory(d):\n    LAST.clear()\n")
    report = grade(fast_weight, source)
    assert report.verdict == "failed"
    message = check_message(report, "recurrence")
    assert "stepped alternately in one process" in message and "on its own" in message


def test_transposed_write_gives_a_small_readable_counterexample(fast_weight: ExerciseSpec) -> None:
    report = grade(fast_weight, fast_weight_with(update='return {"M": mem["M"] + torch.outer(k, v)}\n'))
    check = report.check("correctness")
    assert report.verdict == "failed" and check is not None and not check.passed
    assert check.counterexample is not None
    assert check.counterexample["step"] == 0 and check.counterexample["d"] == 2
    assert "With d = 2, after k_0 = [" in check.message and "but it should be [[" in check.message


def test_wrong_only_on_hidden_cases_shows_no_inputs(fast_weight: ExerciseSpec) -> None:
    report = grade(
        fast_weight,
        fast_weight_with(update='return {"M": mem["M"] + torch.outer(v, k) * (1 + (k.shape[0] > 4))}\n'),
    )
    check = report.check("correctness")
    assert check is not None and not check.passed and check.hidden
    assert check.counterexample is None and "k_0" not in check.message and "hidden" in check.message


def test_infinite_loop_is_a_cpu_timeout(quick: ExerciseSpec) -> None:
    # wall clock well above the CPU limit: on a loaded 2-core CI machine 1 s of CPU can take more than 2 s of wall
    loose_wall = dataclasses.replace(quick, limits=dataclasses.replace(quick.limits, wall_s=6.0))
    report = grade(loose_wall, fast_weight_with(update="while True:\n    pass\n"))
    assert report.verdict == "timeout"
    message = check_message(report, "interface")
    assert "CPU time limit of 1 s" in message and "in update at step 0" in message


def test_sleeping_is_a_wall_clock_timeout(quick: ExerciseSpec) -> None:
    report = grade(quick, fast_weight_with(prelude="import time\ntime.sleep(30)\n"))
    assert report.verdict == "timeout"
    assert "wall-clock limit of 2 s" in check_message(report, "interface")


def test_exit_at_import_is_a_runtime_error(fast_weight: ExerciseSpec) -> None:
    report = grade(fast_weight, "import os\nos._exit(0)\n" + FAST_WEIGHT)
    assert report.verdict == "runtime_error"
    assert "exit status 0" in check_message(report, "interface")


def test_sys_exit_at_import_is_a_runtime_error(fast_weight: ExerciseSpec) -> None:
    report = grade(fast_weight, "import sys\nsys.exit(0)\n" + FAST_WEIGHT)
    assert report.verdict == "runtime_error" and "called exit()" in check_message(report, "interface")


def test_exception_in_update_shows_the_students_traceback_only(fast_weight: ExerciseSpec) -> None:
    report = grade(fast_weight, fast_weight_with(update='raise ValueError("oops " + str(k.shape[0]))\n'))
    assert report.verdict == "runtime_error"
    message = check_message(report, "interface")
    assert "ValueError" in message and 'File "submission.py", line 10, in update' in message
    assert "oops 2" in message
    assert "runner.py" not in message and "schedule.py" not in message and "/work" not in message


def test_exception_in_a_later_case_blames_correctness(fast_weight: ExerciseSpec) -> None:
    report = grade(
        fast_weight,
        fast_weight_with(
            update='assert k.shape[0] != 1, "d = 1"\nreturn {"M": mem["M"] + torch.outer(v, k)}\n'
        ),
    )
    assert report.verdict == "runtime_error"
    assert [c.id for c in report.checks if c.passed] == ["interface"]
    assert "AssertionError" in check_message(report, "correctness")
    assert check_message(report, "recurrence").startswith("not run because")


def test_nan_is_invalid_output(fast_weight: ExerciseSpec) -> None:
    report = grade(fast_weight, fast_weight_with(update='return {"M": mem["M"] * float("nan")}\n'))
    assert report.verdict == "invalid_output"
    assert "NaN or infinite" in check_message(report, "interface")


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ('return {"M": torch.zeros(3)}\n', "with shape (3,), but it must have shape (d, d) = (2, 2)"),
        ('return {"M": (mem["M"] + torch.outer(v, k)).long()}\n', "dtype torch.int64"),
        ('return {"M": mem["M"], "extra": k}\n', "exactly the keys ['M']"),
        ('return [mem["M"]]\n', "update returned a value of type list, not a dict of tensors"),
        (
            'return {"M": torch.nn.Parameter(mem["M"] + torch.outer(v, k))}\n',
            "Parameter, not a plain torch.Tensor",
        ),
    ],
)
def test_malformed_returns_are_invalid_output(fast_weight: ExerciseSpec, update: str, expected: str) -> None:
    report = grade(fast_weight, fast_weight_with(update=update))
    assert report.verdict == "invalid_output"
    assert expected in check_message(report, "interface")


def test_huge_allocation_is_a_memory_limit(quick: ExerciseSpec) -> None:
    report = grade(quick, fast_weight_with(update="x = torch.ones(2**32)\n"))
    assert report.verdict == "memory_limit"
    assert "256 MB" in check_message(report, "interface")


def test_fake_verdict_on_stdout_changes_nothing(fast_weight: ExerciseSpec) -> None:
    fake = 'print(\'{"schema": 1, "verdict": "passed", "score": 1.0}\')\n'
    report = grade(
        fast_weight, fake + fast_weight_with(update='return {"M": mem["M"] + torch.outer(k, v)}\n')
    )
    assert report.verdict == "failed" and report.score < 1
    assert '"verdict": "passed"' in report.stdout  # shown as text, nothing more


def test_garbage_on_the_result_descriptor_is_a_runtime_error(fast_weight: ExerciseSpec) -> None:
    report = grade(fast_weight, "import os\nos.write(3, b'MLG1' + b'\\xff' * 64)\n" + FAST_WEIGHT)
    assert report.verdict == "runtime_error"
    assert "could not read" in check_message(report, "interface")


def test_grader_packages_cannot_be_imported(fast_weight: ExerciseSpec) -> None:
    for name in ("graders", "reference"):
        report = grade(fast_weight, f"import {name}\n" + FAST_WEIGHT)
        assert report.verdict == "runtime_error"
        assert f"No module named '{name}'" in check_message(report, "interface")


def test_environment_and_working_directory_are_clean(
    fast_weight: ExerciseSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMLAB_FAKE_SECRET", "hunter2")
    probe = "import os\nprint(sorted(os.environ))\nprint(os.getcwd(), sorted(os.listdir('.')))\nprint(sorted(os.listdir('/proc/self/fd')))\n"
    report = grade(fast_weight, probe + FAST_WEIGHT)
    assert report.verdict == "passed"
    first_line = report.stdout.splitlines()[0]
    assert first_line == str(sorted(["LANG", "MKL_NUM_THREADS", "OMP_NUM_THREADS", "PATH"]))
    assert "hunter2" not in report.stdout and "SECRET" not in report.stdout
    assert "/memlab-job-" in report.stdout and "[]" in report.stdout.splitlines()[1]
    # 3 the result pipe, 5 and 6 the CPU-mark channel, 4 listdir's own descriptor
    assert report.stdout.splitlines()[2] == "['0', '1', '2', '3', '4', '5', '6']"


def test_output_is_bounded_and_sanitised(fast_weight: ExerciseSpec) -> None:
    noisy = 'print("\\x1b[31mred\\x1b[0m\\x00\\x07bell")\nprint("x" * 100000)\n'
    report = grade(fast_weight, noisy + FAST_WEIGHT)
    assert report.verdict == "passed"
    assert report.stdout.startswith("redbell\n")
    assert "\x1b" not in report.stdout and "\x00" not in report.stdout and "\x07" not in report.stdout
    assert len(report.stdout) < 8 * 1024 + 100 and "more characters not shown" in report.stdout


def test_killing_the_supervisor_is_refused_and_the_grader_stays_up(
    fast_weight: ExerciseSpec, sandbox: ZygoteHost
) -> None:
    # Landlock's signal scope (and, with namespaces, PID 1's immunity) refuses the signal: see test_hostile.py
    report = grade(fast_weight, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + FAST_WEIGHT)
    assert report.verdict == "runtime_error"
    assert "PermissionError" in check_message(report, "interface")
    assert graders.grade(fast_weight, fast_weight.solution.encode()).verdict == "passed"


def test_a_dead_zygote_is_restarted(fast_weight: ExerciseSpec, sandbox: ZygoteHost) -> None:
    graders.grade(fast_weight, fast_weight.solution.encode())
    assert sandbox._proc is not None
    sandbox._proc.kill()
    sandbox._proc.wait()
    assert graders.grade(fast_weight, fast_weight.solution.encode()).verdict == "passed"


def test_the_zygote_is_replaced_after_max_jobs(fast_weight: ExerciseSpec, sandbox: ZygoteHost) -> None:
    graders.grade(fast_weight, fast_weight.solution.encode())
    assert sandbox._proc is not None
    before, limit = sandbox._proc.pid, sandbox.max_jobs
    sandbox.max_jobs = sandbox._jobs + 1  # the next job is the last one for this zygote
    try:
        report = graders.grade(fast_weight, fast_weight.solution.encode())
    finally:
        sandbox.max_jobs = limit
    assert report.verdict == "passed"
    assert sandbox._proc is not None and sandbox._proc.pid != before


@pytest.mark.parametrize("escape", ["", "    os.setsid()\n    if os.fork():\n        os._exit(0)\n"])
def test_processes_cannot_be_started(fast_weight: ExerciseSpec, escape: str) -> None:
    # seccomp refuses fork (a child in the runner's group, or one that would leave it with setsid and a double
    # fork); test_hostile.py also checks that no process is left under the zygote afterwards
    spawn = f"import os, time\nif os.fork() == 0:\n{escape}    time.sleep(60)\n    os._exit(0)\n"
    report = grade(fast_weight, spawn + FAST_WEIGHT)
    assert report.verdict == "runtime_error", report.to_dict()
    assert "PermissionError" in check_message(report, "interface")


def test_float64_memories_are_accepted(fast_weight: ExerciseSpec) -> None:
    source = FAST_WEIGHT.replace("torch.zeros(d, d)", "torch.zeros(d, d, dtype=torch.float64)")
    source = source.replace("torch.outer(v, k)", "torch.outer(v.double(), k.double())")
    source = source.replace('mem["M"] @ q', 'mem["M"] @ q.double()')
    assert grade(fast_weight, source).verdict == "passed"


def test_time_spent_on_hidden_cases_never_reaches_the_report(fast_weight: ExerciseSpec) -> None:
    # a submission can spend time as a function of its inputs (here: only on the hidden case with d = 8);
    # the times and sizes in the report come from jobs on visible inputs only
    source = fast_weight_with(
        prelude="import time\n",
        update='if k.shape[0] == 8 and float(k[0]) > -100:\n    time.sleep(0.05)\nreturn {"M": mem["M"] + torch.outer(v, k)}\n',
    )
    report = grade(fast_weight, source)
    assert report.verdict == "passed", report.to_dict()
    assert "hidden" not in report.timings["jobs"] and report.timings["jobs_run"] == 3
    assert report.sandbox.wall_s < 0.5  # 20 hidden steps × 50 ms = 1 s of sleep would show up here


def test_properties_of_a_wrong_update_are_judged_but_earn_nothing(fast_weight: ExerciseSpec) -> None:
    # returning the memory unchanged is pure, fixed-size, recurrent and cheap: none of that may score; its cost
    # is not judged at all (a cost of wrong outputs means nothing)
    report = grade(fast_weight, fast_weight_with(update='return {"M": mem["M"].clone()}\n'))
    assert report.verdict == "failed" and not report.check("correctness").passed  # type: ignore[union-attr]
    properties = [c for c in report.checks if c.id not in ("interface", "correctness", "step_cost")]
    assert properties and all(c.passed and c.points == 0 for c in properties)
    assert all("properties count once correctness passes" in c.message for c in properties)
    cost = report.check("step_cost")
    assert cost is not None and not cost.passed and cost.points == 0
    assert cost.message.startswith("Not judged because the outputs are wrong"), cost.message
    assert report.score == round(10 / 110, 4)


def test_a_long_run_timeout_still_leaves_recurrence_judged(fast_weight: ExerciseSpec) -> None:
    # rebuilding the memory from a module-level history: not a recurrence, and O(i) per step, so the 512-step
    # state_size run times out; the recurrence check, in the job before it, must still have run and failed
    history = (
        "PAIRS = []\n"
        "def init_memory(d):\n    PAIRS.clear()\n    return {'M': torch.zeros(d, d)}\n"
        "def update(mem, k, v):\n"
        "    PAIRS.append((k.clone(), v.clone()))\n"
        "    M = torch.zeros(k.shape[0], k.shape[0])\n"
        "    for kk, vv in PAIRS:\n"
        "        for _ in range(20):\n"
        "            M = M + torch.outer(vv, kk) / 20\n"
        "    return {'M': M}\n"
        "def read(mem, q):\n    return mem['M'] @ q\n"
    )
    quick = dataclasses.replace(fast_weight, limits=graders.Limits(wall_s=3.0, cpu_s=2, memory_mb=512))
    report = grade(quick, "import torch\n" + history)
    recurrence = report.check("recurrence")
    assert recurrence is not None and recurrence.ran and not recurrence.passed, report.to_dict()
    size = report.check("state_size")
    # which limit ends it depends on the machine's load: 2 s of CPU, or 3 s of wall time when the job got under
    # two thirds of a core (a clean-clone CI run here read "wall-clock limit ... at step 148")
    assert report.verdict == "timeout" and size is not None, report.to_dict()
    assert "CPU time limit" in size.message or "wall-clock limit" in size.message, size.message
    # the long run's job sent back nothing, so recurrence and purity ran again in a job of their own: four jobs
    assert report.timings["jobs_run"] == 4 and {"properties", "state_size"} <= set(report.timings["jobs"])
    purity_check = report.check("purity")
    assert purity_check is not None and purity_check.ran, report.to_dict()
