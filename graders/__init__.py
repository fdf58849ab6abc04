"""memlab's grading engine: exercise specs → sandboxed runs → checks → a JSON report (GRADING.md).

Public API (docs/INTERFACES.md)::

    spec = graders.load_exercise("fast-weight-memory")
    report = graders.grade(spec, source_bytes)      # never raises for anything the student did
    report.to_dict()                                # GRADING.md §4, schema 1
    graders.validate(spec).ok                       # solution passes, each wrong variant fails its check

Importing ``graders`` does not import torch, Django or Celery; the first ``grade`` loads torch and the reference.
"""

from graders.engine import grade, internal_error_report
from graders.errors import ExerciseError, ExerciseNotFound, GraderError
from graders.exercise import ExerciseSpec, Limits, Tolerance, list_exercises, load_exercise
from graders.report import GRADER_VERSION, CheckResult, Report, SandboxSummary
from graders.validation import ValidationResult, validate

__all__ = [
    "GRADER_VERSION",
    "CheckResult",
    "ExerciseError",
    "ExerciseNotFound",
    "ExerciseSpec",
    "GraderError",
    "Limits",
    "Report",
    "SandboxSummary",
    "Tolerance",
    "ValidationResult",
    "grade",
    "internal_error_report",
    "list_exercises",
    "load_exercise",
    "validate",
]
