"""``python -m graders grade|validate|list`` (GRADING.md §5; the command shapes are fixed).

Exit status: ``grade`` exits 0 whenever it produced a report, whatever the verdict; 2 for a usage or spec error
(unknown exercise, unreadable file); 3 when the grader itself failed (the report printed is ``internal_error``).
``validate`` exits 0 only if the exercise is valid.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graders.report import Report

EXIT_USAGE = 2
EXIT_GRADER_FAILED = 3


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from graders.errors import ExerciseError

    try:
        if args.command == "grade":
            return _grade(
                args.exercise,
                Path(args.submission),
                as_json=args.json,
                content=args.content,
                plots=args.plots,
            )
        if args.command == "validate":
            return _validate(args.exercise, content=args.content)
        return _list(content=args.content)
    except ExerciseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m graders", description="memlab grading engine")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade one submission and print the report")
    grade.add_argument("exercise", help="exercise slug, or path to an exercise folder")
    grade.add_argument("submission", help="the student's Python file")
    grade.add_argument("--json", action="store_true", help="print the JSON report (GRADING.md section 4)")
    grade.add_argument("--content", help="course content folder (default: $MEMLAB_CONTENT_DIR or ./content)")
    grade.add_argument("--plots", type=Path, help="also draw each check's plot as DIR/<check>.svg")
    validate = commands.add_parser("validate", help="check an exercise: solution passes, wrong variants fail")
    validate.add_argument("exercise")
    validate.add_argument("--content")
    listing = commands.add_parser("list", help="list exercises and reference models")
    listing.add_argument("--content")
    return parser


def _grade(
    exercise: str, submission: Path, *, as_json: bool, content: str | None, plots: Path | None = None
) -> int:
    import graders

    spec = graders.load_exercise(exercise, content)
    try:
        source = submission.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {submission}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    status = 0
    try:
        report = graders.grade(spec, source)
    except graders.GraderError as exc:
        report = graders.internal_error_report(spec, source, str(exc))
        print(f"error: the grader failed: {exc}", file=sys.stderr)
        status = EXIT_GRADER_FAILED
    print(json.dumps(report.to_dict(), indent=2) if as_json else _summary(report))
    if plots is not None:
        _draw(report, plots)
    return status


def _draw(report: Report, folder: Path) -> None:
    from graders.plots import svg  # matplotlib: only when asked

    folder.mkdir(parents=True, exist_ok=True)
    for check in report.checks:
        if check.plot is not None:
            path = folder / f"{check.id}.svg"
            path.write_text(svg(check.plot), encoding="utf-8")
            print(f"plot: {path}", file=sys.stderr)


def _summary(report: Report) -> str:
    lines = [f"{report.exercise}: {report.verdict} (score {report.score:.2f})"]
    for check in report.checks:
        mark = "pass" if check.passed else "FAIL"
        lines.append(f"  [{mark}] {check.id:<12} {check.points:g}/{check.max_points:g}")
        lines += [f"         {line}" for line in check.message.splitlines()]
    box = report.sandbox
    lines.append(
        f"sandbox: {', '.join(box.layers) or 'none'}; cpu {box.cpu_s:.3f} s, wall {box.wall_s:.3f} s, "
        f"max RSS {box.max_rss_kb // 1024} MiB"
    )
    for name, text in (("stdout", report.stdout), ("stderr", report.stderr)):
        if text:
            lines.append(f"--- {name} ---\n{text.rstrip()}")
    return "\n".join(lines)


def _validate(exercise: str, *, content: str | None) -> int:
    import graders

    result = graders.validate(graders.load_exercise(exercise, content))
    print(result.summary())
    return 0 if result.ok else 1


def _list(*, content: str | None) -> int:
    import graders
    import reference

    print("exercises:")
    for spec in graders.list_exercises(content):
        print(f"  {spec.slug:<28} model {spec.model:<20} {spec.title}")
    print("reference models:")
    for model in sorted(reference.MODELS.values(), key=lambda m: m.id):
        print(f"  {model.id:<28} {model.title} ({model.paper})")
        print(f"  {'':<28} {_describe(model)}")
    return 0


def _describe(model: Any) -> str:
    """One line: state layout, fixed or growing, cost per step and in total, parallel form, hyper-parameters."""
    layout = ", ".join(f"{k}: ({', '.join(v)})" for k, v in model.state_layout.items())
    size = "fixed-size" if model.fixed_size else "growing"
    hps = ", ".join(f"{n} in [{p.low}, {p.high}] = {p.default}" for n, p in model.hyperparams.items())
    parallel = model.parallel_form or "none (sequential)"
    return (
        f"state {{{layout}}} {size}; {model.cost_per_step} per step, {model.cost_total} total; "
        f"parallel: {parallel}; hyper-parameters: {hps or 'none'}"
    )
