"""A practice run ("Run on examples"): the visible cases only, never a hidden input, interface and correctness
judged, the other checks reported as not run, and the kept oracle still whole for the next real grading."""

from __future__ import annotations

import dataclasses

from graders.exercise import ExerciseSpec
from graders.grading import Grading
from graders.sandbox.host import ZygoteHost

# right on every visible case (d up to D), wrong on anything wider (a hidden case has d = 8)
SHORT_ONLY = """
import torch

def init_memory(d):
    return {"k": torch.zeros(d), "v": torch.zeros(d), "n": torch.tensor(0.0)}

def update(mem, k, v):
    i = mem["n"]
    scale = 1.0 if k.shape[0] <= D else 2.0
    return {"k": scale * (k + i * mem["k"]) / (i + 1), "v": (v + i * mem["v"]) / (i + 1), "n": i + 1}
"""


def test_a_practice_run_runs_only_the_visible_job_and_judges_the_answer(
    sandbox: ZygoteHost, cumulative: ExerciseSpec
) -> None:
    grading = Grading(cumulative, cumulative.solution, sandbox, examples_only=True)
    report = grading.run("practice")
    assert list(grading.jobs) == ["visible"]  # no hidden job, no properties job
    assert report.verdict == "passed"
    ran = {c.id: (c.ran, c.passed) for c in report.checks}
    assert ran["interface"] == (True, True) and ran["correctness"] == (True, True)
    for check in report.checks[2:]:
        assert not check.ran and "runs when you submit" in check.message
    assert "hidden" not in report.check("correctness").message  # type: ignore[union-attr]


def test_a_practice_run_never_sees_a_hidden_case(sandbox: ZygoteHost, cumulative: ExerciseSpec) -> None:
    prep = Grading(cumulative, "", sandbox).prep
    widest = max(c.d for c in prep.shown)
    assert any(
        c.d > widest for c in prep.secret
    )  # the premise: some hidden case is wider than every visible one
    source = SHORT_ONLY.replace("<= D", f"<= {widest}")
    practice = Grading(cumulative, source, sandbox, examples_only=True).run("practice")
    assert practice.verdict == "passed"  # right on every case it ran: only the visible ones
    graded = Grading(cumulative, source, sandbox).run("graded")
    assert graded.verdict == "failed" and graded.check("correctness").hidden  # type: ignore[union-attr]


def test_a_practice_run_first_leaves_the_kept_oracle_whole(
    sandbox: ZygoteHost, cumulative: ExerciseSpec
) -> None:
    fresh = dataclasses.replace(cumulative, seed=cumulative.seed + 17)  # a version nothing prepared yet
    assert Grading(fresh, fresh.solution, sandbox, examples_only=True).run("practice").verdict == "passed"
    assert Grading(fresh, fresh.solution, sandbox).run("graded").verdict == "passed"


def test_a_practice_run_of_a_sequence_exercise(sandbox: ZygoteHost) -> None:
    import graders

    spec = graders.load_exercise("window-attention")
    fresh = dataclasses.replace(spec, seed=spec.seed + 17)
    grading = Grading(fresh, fresh.solution, sandbox, examples_only=True)
    report = grading.run("practice")
    assert list(grading.jobs) == ["visible"] and report.verdict == "passed"
    assert [c.id for c in report.checks if not c.ran] == ["complexity", "causality"]
    assert Grading(fresh, fresh.solution, sandbox).run("graded").verdict == "passed"
