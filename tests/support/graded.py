"""Submissions graded at once, without a worker: a report with the checks a test names as failing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from apps.accounts.models import User
from apps.lab import services
from apps.lab.models import Exercise, GradingRun, Submission


def check(check_id: str, passed: bool, *, ran: bool = True) -> dict[str, Any]:
    return {"id": check_id, "passed": passed, "ran": ran, "points": 0, "max_points": 0, "message": ""}


Graded = Callable[..., Submission]


@pytest.fixture
def graded(monkeypatch: pytest.MonkeyPatch) -> Graded:
    """A submission graded at once: ``graded(user, exercise, score, failing=["state_size"])``, verdict passed at
    score 1 (or as given), with a report whose checks are ``correctness`` (passed unless listed), the failing
    ones, and ``causal``, not run."""
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)

    def make(
        user: User, exercise: Exercise, score: float, *, failing: tuple[str, ...] = (), verdict: str = ""
    ) -> Submission:
        submission = services.submission_create(user=user, exercise=exercise, source=f"x = {score}\n")
        finish(submission.runs.get(), score, failing=failing, verdict=verdict)
        return submission

    return make


def finish(run: GradingRun, score: float | None, *, failing: tuple[str, ...] = (), verdict: str = "") -> None:
    checks = [check("correctness", "correctness" not in failing)]
    checks += [check(c, False) for c in failing if c != "correctness"] + [check("causal", False, ran=False)]
    verdict = verdict or ("passed" if score == 1 else "failed")
    report = {"schema": 1, "verdict": verdict, "score": score, "checks": checks}
    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None
    services.run_finish(run=claimed, report=report)
