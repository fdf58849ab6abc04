"""The grading report (GRADING.md §4, schema 1) and the sanitising of anything the student's code printed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

GRADER_VERSION = "0.1.0"
SCHEMA = 1
OUTPUT_CAP = 8 * 1024  # characters of stdout / stderr kept in a report

Verdict = Literal[
    "passed",
    "failed",
    "runtime_error",
    "timeout",
    "memory_limit",
    "invalid_output",
    "rejected",
    "internal_error",
]
VERDICTS: tuple[Verdict, ...] = (
    "passed", "failed", "runtime_error", "timeout", "memory_limit", "invalid_output", "rejected", "internal_error",
)  # fmt: skip

_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
# C0 controls but \t and \n, DEL, C1 controls, and bidi overrides that could reorder text in feedback
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def sanitize(data: bytes | str, cap: int = OUTPUT_CAP) -> str:
    """Printable text: invalid UTF-8 replaced, ANSI escapes stripped, control characters but ``\\n``/``\\t`` dropped,
    at most ``cap`` characters (with a note saying how much was cut)."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.replace("\r\n", "\n")
    text = _CONTROL.sub("", _ANSI.sub("", text))
    if len(text) > cap:
        text = text[:cap] + f"\n… [{len(text) - cap} more characters not shown]"
    return text


@dataclass
class CheckResult:
    """One check's outcome. ``ran``: False when the check was not run or not judged (its points are 0 then and
    its message says why); in the JSON since a practice run shows only what ran (older reports lack it: ran)."""

    id: str
    passed: bool
    points: float
    max_points: float
    message: str
    counterexample: dict[str, Any] | None = None
    hidden: bool = False
    ran: bool = True
    plot: dict[str, Any] | None = None  # graders.plot_data: drawn by graders.plots.svg where it is shown

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "passed": self.passed,
            "points": self.points,
            "max_points": self.max_points,
            "message": self.message,
            "counterexample": self.counterexample,
            "hidden": self.hidden,
            "plot": self.plot,
            "ran": self.ran,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass
class SandboxSummary:
    layers: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    max_rss_kb: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": list(self.layers),
            "cpu_s": round(self.cpu_s, 4),
            "wall_s": round(self.wall_s, 4),
            "max_rss_kb": self.max_rss_kb,
        }


@dataclass
class Report:
    exercise: str
    verdict: Verdict
    checks: list[CheckResult]
    submission_sha256: str
    sandbox: SandboxSummary = field(default_factory=SandboxSummary)
    stdout: str = ""
    stderr: str = ""
    timings: dict[str, Any] = field(default_factory=dict)
    grader_version: str = GRADER_VERSION

    @property
    def score(self) -> float:
        """Points of passed checks over all points, in [0, 1]."""
        total = sum(c.max_points for c in self.checks)
        earned = sum(c.points for c in self.checks if c.passed)
        return round(earned / total, 4) if total else 0.0

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def check(self, check_id: str) -> CheckResult | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report of GRADING.md §4: exactly these keys, schema 1."""
        return {
            "schema": SCHEMA,
            "exercise": self.exercise,
            "verdict": self.verdict,
            "score": self.score,
            "checks": [c.to_dict() for c in self.checks],
            "sandbox": self.sandbox.to_dict(),
            "stdout": self.stdout,
            "stderr": self.stderr,
            "grader_version": self.grader_version,
            "submission_sha256": self.submission_sha256,
            "timings": self.timings,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Rebuild a report stored with :meth:`to_dict` (the score is derived again from the checks)."""
        if data.get("schema") != SCHEMA:
            raise ValueError(f"unsupported report schema {data.get('schema')!r}")
        return cls(
            exercise=data["exercise"],
            verdict=data["verdict"],
            checks=[CheckResult.from_dict(c) for c in data["checks"]],
            submission_sha256=data["submission_sha256"],
            sandbox=SandboxSummary(**data["sandbox"]),
            stdout=data["stdout"],
            stderr=data["stderr"],
            timings=data["timings"],
            grader_version=data["grader_version"],
        )


def not_run(check_id: str, max_points: float, reason: str) -> CheckResult:
    """A check that was skipped: failed, no points, and it says why."""
    return CheckResult(check_id, False, 0.0, max_points, f"not run because {reason}", ran=False)


WRONG_OUTPUTS = (
    "the outputs are wrong (see correctness): a cost counts only for code that computes the right answer"
)


def not_judged(check_id: str, max_points: float, reason: str = WRONG_OUTPUTS) -> CheckResult:
    """A check whose job may have run but whose judgement would mean nothing (a cost of wrong outputs)."""
    return CheckResult(check_id, False, 0.0, max_points, f"Not judged because {reason}.", ran=False)
