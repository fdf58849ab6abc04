"""The sequence interface (``attend(Q, K, V)``): outputs, causality and complexity, through real gradings."""

from __future__ import annotations

import pytest
import torch

import graders
from graders.checks import complexity
from graders.checks.complexity import fitted_exponent
from graders.exercise import ExerciseSpec

pytestmark = pytest.mark.usefixtures("sandbox")

WINDOW = "window-attention"


@pytest.fixture(scope="module")
def window() -> ExerciseSpec:
    return graders.load_exercise(WINDOW)


def _grade(spec: ExerciseSpec, source: str) -> graders.Report:
    return graders.grade(spec, source.encode())


def test_each_length_keeps_the_least_cpu_time_of_its_calls(window: ExerciseSpec) -> None:
    """The ladder runs REPEATS times; a call inflated by other load on the machine (here the first call at
    T = 1024, four times its cost) must not flatten the fitted growth of a T² cost."""
    cases = complexity.ladder_cases(window)
    n = len(cases)
    quadratic = [case.T * case.T * 10 for case in cases]  # ns
    cpu = [list(quadratic) for _ in range(complexity.REPEATS)]
    cpu[0][2] *= 4  # T = 1024, first pass
    per_call = torch.tensor([x for run in cpu for x in run], dtype=torch.int64)
    work = torch.tensor([case.T for case in cases] * complexity.REPEATS, dtype=torch.int64)
    outputs = {"cx/cpu_ns": per_call, "cx/ops": work, "cx/elements": work}
    found = complexity.costs(outputs, cases)
    assert found is not None and found.cpu_ns == quadratic
    assert found.exponent(found.cpu_ns) == pytest.approx(2.0)
    inflated = [cpu[0][i] for i in range(n)]  # what one pass alone would have fitted
    assert fitted_exponent(found.T[-3:], inflated[-3:]) < 1.6  # it would have passed as linear
    assert complexity.costs({**outputs, "cx/cpu_ns": per_call[:n]}, cases) is None  # one pass only: malformed


def test_fitted_exponent_recovers_powers() -> None:
    T = [512, 1024, 2048]
    assert fitted_exponent(T, [t * t for t in T]) == pytest.approx(2.0)
    assert fitted_exponent(T, [7 * t + 0 for t in T]) == pytest.approx(1.0)


def test_the_solution_passes_every_check_with_its_costs_explained(window: ExerciseSpec) -> None:
    report = _grade(window, window.solution)
    assert report.verdict == "passed", report.to_dict()
    complexity = report.check("complexity")
    assert complexity is not None and "O(T^1)" in complexity.message and "T^1." in complexity.message


def test_a_full_matrix_is_caught_by_its_element_count(window: ExerciseSpec) -> None:
    source = next(w.source for w in window.wrong if w.file == "full_matrix.py")
    report = _grade(window, source)
    check = report.check("complexity")
    assert check is not None and not check.passed and check.counterexample is not None
    assert check.counterexample["work_exponent"] > 1.6
    assert report.check("correctness").passed and report.check("causality").passed  # type: ignore[union-attr]


def test_looking_ahead_names_the_row_and_the_cut(window: ExerciseSpec) -> None:
    source = next(w.source for w in window.wrong if w.file == "centered_window.py")
    check = _grade(window, source).check("causality")
    assert check is not None and not check.passed and check.counterexample is not None
    row, cut = check.counterexample["row"], check.counterexample["cut"]
    assert row <= cut and f"row {row}" in check.message and f"after position {cut}" in check.message


def test_a_wrong_row_is_shown_with_the_pairs_it_read(window: ExerciseSpec) -> None:
    source = next(w.source for w in window.wrong if w.file == "off_by_one.py")
    check = _grade(window, source).check("correctness")
    assert check is not None and not check.passed and check.counterexample is not None
    assert (
        "n_c = 4" in check.message and check.counterexample["row"] >= 4
    )  # the window is full only from row 3


def test_an_output_of_the_wrong_shape_is_invalid_and_named(window: ExerciseSpec) -> None:
    source = "import torch\n\ndef attend(Q, K, V, n_c):\n    return V.T.clone()\n"
    report = _grade(window, source)
    assert report.verdict == "invalid_output"
    assert "(T, d)" in report.checks[0].message


def test_wrong_outputs_at_long_lengths_do_not_earn_complexity(window: ExerciseSpec) -> None:
    source = window.solution + (
        "\n_exact = attend\n\ndef attend(Q, K, V, n_c):\n"
        "    return _exact(Q, K, V, n_c) if Q.shape[0] <= 100 else V.clone()\n"
    )
    report = _grade(window, source)
    check = report.check("complexity")
    assert report.check("correctness").passed  # type: ignore[union-attr]
    assert check is not None and not check.passed and "T = 256" in check.message


def test_wrong_short_outputs_leave_complexity_not_judged(window: ExerciseSpec) -> None:
    """Wrong everywhere: the complexity check says it was not judged, and never that the short sequences were
    right; no job is run for it."""
    source = (
        window.solution
        + "\n_exact = attend\n\ndef attend(Q, K, V, n_c):\n    return 2 * _exact(Q, K, V, n_c)\n"
    )
    report = _grade(window, source)
    check = report.check("complexity")
    assert not report.check("correctness").passed  # type: ignore[union-attr]
    assert check is not None and not check.passed and check.points == 0
    assert check.message.startswith("Not judged because the outputs are wrong"), check.message
    assert "right on the short" not in check.message and "complexity" not in report.timings.get("jobs", {})


LOOP_SOLUTION = """
import torch

def attend(Q, K, V, n_c):
    T, d = Q.shape
    out = []
    for i in range(T):
        lo = max(0, i - n_c + 1)
        w = torch.softmax(K[lo : i + 1] @ Q[i] / d**0.5, dim=0)
        out.append(w @ V[lo : i + 1])
    return torch.stack(out)
"""


def test_a_plain_loop_over_positions_is_linear_and_passes(window: ExerciseSpec) -> None:
    """The CPU-time guard must not punish the simplest right answer: Python overhead per position is O(1)."""
    report = _grade(window, LOOP_SOLUTION)
    assert report.verdict == "passed", [c.message for c in report.checks if not c.passed]
    complexity = report.check("complexity")
    assert complexity is not None and "CPU time grew as T^" in complexity.message  # long enough to be timed
