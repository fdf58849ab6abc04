"""``validate(spec)``: the exercise is consistent with its reference model, its solution passes, its starter does
not, and every known-wrong variant fails the check it names (the check ran and failed, not merely "not run")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graders.engine import grade
from graders.exercise import ExerciseSpec
from graders.report import Report


@dataclass(frozen=True)
class VariantResult:
    name: str  # "solution", "starter" or "wrong/<file>"
    expected: str  # "passed", "not passed" or "fails <check>"
    verdict: str
    ok: bool
    detail: str = ""
    # the whole outcome, for comparing two versions of the grader: (check id, passed, ran, points) of every check
    checks: tuple[tuple[str, bool, bool, float], ...] = ()


@dataclass
class ValidationResult:
    exercise: str
    problems: list[str] = field(default_factory=list)
    variants: list[VariantResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(v.ok for v in self.variants)

    def summary(self) -> str:
        lines = [f"{self.exercise}: {'valid' if self.ok else 'INVALID'}"]
        lines += [f"  problem: {p}" for p in self.problems]
        for v in self.variants:
            mark = "ok  " if v.ok else "FAIL"
            lines.append(
                f"  [{mark}] {v.name}: expected {v.expected}, got {v.verdict}{' - ' + v.detail if v.detail else ''}"
            )
        return "\n".join(lines)


def validate(spec: ExerciseSpec) -> ValidationResult:
    from graders.sandbox.host import default_host

    default_host().start()  # boots while the reference loads
    result = ValidationResult(spec.slug, problems=consistency_problems(spec))
    if result.problems:
        return result
    solution = grade(spec, spec.solution.encode("utf-8"))
    failing = [c.id for c in solution.checks if not c.passed]
    detail = "" if solution.passed else f"failed {failing}: {solution.checks[0].message[:200]}"
    result.variants.append(
        VariantResult("solution", "passed", solution.verdict, solution.passed, detail, _outline(solution))
    )
    starter = grade(spec, spec.starter.encode("utf-8"))
    result.variants.append(
        VariantResult("starter", "not passed", starter.verdict, not starter.passed, checks=_outline(starter))
    )
    for wrong in spec.wrong:
        report = grade(spec, wrong.source.encode("utf-8"))
        check = report.check(wrong.fails)
        ok = check is not None and check.ran and not check.passed
        failing = [c.id for c in report.checks if not c.passed and c.ran]
        result.variants.append(
            VariantResult(
                f"wrong/{wrong.file}",
                f"fails {wrong.fails}",
                report.verdict,
                ok,
                f"failed {failing}",
                _outline(report),
            )
        )
    return result


def _outline(report: Report) -> tuple[tuple[str, bool, bool, float], ...]:
    return tuple((c.id, c.passed, c.ran, c.points) for c in report.checks)


def consistency_problems(spec: ExerciseSpec) -> list[str]:
    """What in the spec disagrees with the reference model or is missing from the folder."""
    import reference

    try:
        model = reference.get_model(spec.model)
    except KeyError as exc:
        return [str(exc)]
    problems = []
    if spec.is_sequence:
        if model.read is None:
            problems.append(f"a sequence exercise needs a read-out, and model {model.id!r} has none")
        if any(c.id == "complexity" for c in spec.checks) and model.attend_parallel is None:
            problems.append(f"the complexity check needs model {model.id!r} to have a parallel read-out")
    elif spec.state != model.state_layout:
        problems.append(f"state {spec.state} differs from the model's layout {model.state_layout}")
    else:
        problems += _growth_problems(spec, model)
    if spec.has_read and model.read is None:
        problems.append(f"the exercise asks for read but model {model.id!r} has no read-out")
    try:
        model.check_hyperparams(spec.params)
    except ValueError as exc:
        problems.append(f"params: {exc}")
    for name, text in (("statement", spec.statement), ("starter", spec.starter), ("solution", spec.solution)):
        if not text.strip():
            problems.append(f"{name} is empty")
    problems += [f"wrong/{w.file} is empty" for w in spec.wrong if not w.source.strip()]
    if not spec.wrong:
        problems.append("no wrong variants: each check should have one that must fail it")
    return problems


def _growth_problems(spec: ExerciseSpec, model: Any) -> list[str]:
    """A growing memory declares what grows, and is not graded for staying fixed-size or flat in cost."""
    fixed = {"d", *spec.params}
    grows = sorted({s for shape in model.state_layout.values() for s in shape if s not in fixed})
    if model.fixed_size:
        return (
            [f"growing {list(spec.growing)}: model {model.id!r} has a fixed-size memory"]
            if spec.growing
            else []
        )
    problems = []
    if sorted(spec.growing) != grows:
        problems.append(f"growing must list {grows}, the sizes of model {model.id!r} that grow")
    listed = [c.id for c in spec.checks if c.id in ("state_size", "step_cost")]
    if listed:
        problems.append(f"model {model.id!r} grows by design: {listed} cannot pass for it")
    return problems
