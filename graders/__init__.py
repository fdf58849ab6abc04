"""memlab's grading engine: exercise specs → sandboxed runs → checks → a JSON report (GRADING.md).

Public API (docs/INTERFACES.md)::

    spec = graders.load_exercise("fast-weight-memory")
    report = graders.grade(spec, source_bytes)      # never raises for anything the student did
    report.to_dict()                                # GRADING.md §4, schema 1
    graders.validate(spec).ok                       # solution passes, each wrong variant fails its check
    graders.precheck(spec, source_bytes)            # the instant checks, in the web process: text or Rejection
    graders.consistency_problems(spec)              # an authored spec's problems, each a sentence
    graders.default_checks("recurrent")             # the checks an interface may list, with suggested points
    graders.plot_svg(report_check["plot"])          # a check's plot as SVG (loads matplotlib)
    graders.worker.start_sandbox(slot)              # the sandbox's lifecycle in a worker (graders/worker.py)

This is the whole of what the apps may use (an import-linter contract in pyproject.toml holds them to it).
Importing ``graders`` does not import torch, Django or Celery; the first ``grade`` loads torch and the reference.
"""

from typing import Any

from graders import checks as _checks
from graders import worker
from graders.engine import grade, internal_error_report
from graders.errors import ExerciseError, ExerciseNotFound, GraderError
from graders.exercise import ExerciseSpec, Limits, Tolerance, list_exercises, load_exercise
from graders.precheck import Rejection, precheck
from graders.report import GRADER_VERSION, CheckResult, Report, SandboxSummary
from graders.validation import ValidationResult, consistency_problems, validate


def default_checks(interface: str) -> list[dict[str, Any]]:
    """Every check ``interface`` may list, in order, with the points the registry suggests (an authoring
    template's starting point)."""
    return [{"id": c.id, "points": c.points} for c in _checks.registered() if interface in c.interfaces]


def plot_svg(plot: dict[str, Any]) -> str:
    """A check's ``plot`` (its report's data) drawn as an SVG document; matplotlib loads on the first call."""
    from graders.plots import svg

    return svg(plot)


__all__ = [
    "GRADER_VERSION",
    "CheckResult",
    "ExerciseError",
    "ExerciseNotFound",
    "ExerciseSpec",
    "GraderError",
    "Limits",
    "Rejection",
    "Report",
    "SandboxSummary",
    "Tolerance",
    "ValidationResult",
    "consistency_problems",
    "default_checks",
    "grade",
    "internal_error_report",
    "list_exercises",
    "load_exercise",
    "plot_svg",
    "precheck",
    "validate",
    "worker",
]
