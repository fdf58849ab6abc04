"""The public entry points: ``grade`` one submission, ``validate`` an exercise.

Importing this module is cheap (no torch): the pre-checks run in the parent without the heavy modules, which are
imported on the first real grading, so the web app can build specs and reject bad files without loading torch.
"""

from __future__ import annotations

import hashlib
import time

from graders.exercise import ExerciseSpec
from graders.precheck import Rejection, precheck
from graders.report import CheckResult, Report, not_run


def grade(spec: ExerciseSpec, source: bytes, *, examples_only: bool = False) -> Report:
    """Grade ``source`` against ``spec``. Never raises for anything the student did; ``GraderError`` on faults.

    ``examples_only``: a practice run, on the visible cases only (never a hidden input): the interface and
    correctness checks, the others reported as not run. Its report is feedback, not a grade."""
    started = time.perf_counter()
    sha = hashlib.sha256(source).hexdigest()
    checked = precheck(spec, source)
    precheck_s = time.perf_counter() - started
    if isinstance(checked, Rejection):
        report = _rejected(spec, sha, checked.message)
    else:
        from graders.sandbox.host import default_host

        default_host().start()  # returns at once: a cold zygote boots while torch loads here
        from graders.grading import Grading  # heavy: torch, reference

        report = Grading(spec, checked, examples_only=examples_only).run(sha)
    report.timings["precheck_s"] = precheck_s
    report.timings["total_s"] = time.perf_counter() - started
    return report


def _rejected(spec: ExerciseSpec, sha: str, message: str) -> Report:
    first, *rest = spec.checks
    checks = [CheckResult(first.id, False, 0.0, first.points, message)]
    checks += [not_run(c.id, c.points, "the interface check failed") for c in rest]
    return Report(exercise=spec.slug, verdict="rejected", checks=checks, submission_sha256=sha)


def internal_error_report(spec: ExerciseSpec, source: bytes, message: str) -> Report:
    """The report a worker stores when grading failed for infrastructure reasons after its retries."""
    checks = [
        not_run(
            c.id,
            c.points,
            f"grading was interrupted on the server and could not be finished ({message}). This is not a "
            "verdict on your code, and this attempt is not counted: submit it again",
        )
        for c in spec.checks
    ]
    sha = hashlib.sha256(source).hexdigest()
    return Report(exercise=spec.slug, verdict="internal_error", checks=checks, submission_sha256=sha)
