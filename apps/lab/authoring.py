"""Exercises written in the browser: the spec as YAML plus the three texts, checked by the grader's own parser.

The same rules as the course files apply (``graders.ExerciseSpec.from_dict``: known checks only, limits capped,
wrong variants naming a check), plus the consistency with the reference model that ``validate`` checks first.
"""

from __future__ import annotations

from typing import Any

import yaml

import graders

TEXTS = ("statement", "starter", "solution")
TEMPLATE: dict[str, Any] = {
    "slug": "my-exercise",
    "title": "A new exercise",
    "model": "cumulative-average",
    "interface": "recurrent",
    "functions": ["init_memory", "update"],
    "params": {},
    "dims": {"d": [1, 8]},
    "state": {"k": ["d"], "v": ["d"], "n": []},
    "tolerance": {"rtol": 1e-5, "atol": 1e-6},
    "checks": graders.default_checks("recurrent"),  # every check the interface may list, from the registry
    "limits": {"wall_s": 10, "cpu_s": 5, "memory_mb": 512},
    "hints": ["A first nudge.", "A closer hint.", "Nearly the answer."],
    "wrong": [{"file": "one_based.py", "fails": "correctness", "why": "divides by i", "source": "..."}],
}


def spec_yaml(spec: dict[str, Any] | None) -> str:
    """The spec without its three texts, as the YAML an instructor edits."""
    data = {k: v for k, v in (spec or TEMPLATE).items() if k not in TEXTS}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def build_spec(spec_text: str, texts: dict[str, str]) -> tuple[dict[str, Any] | None, list[str]]:
    """The validated spec (as ``to_dict``) or the problems, each a sentence for the instructor."""
    import graders

    try:
        data = yaml.safe_load(spec_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" on line {mark.line + 1}" if mark is not None else ""
        return None, [f"The spec is not valid YAML{where}: {getattr(exc, 'problem', exc)}"]
    if not isinstance(data, dict):
        return None, ["The spec must be a YAML mapping (slug: …, title: …, …)."]
    try:
        spec = graders.ExerciseSpec.from_dict({**data, **texts})
    except graders.ExerciseError as exc:
        return None, [str(exc)]
    problems = graders.consistency_problems(spec)
    return (None, problems) if problems else (spec.to_dict(), [])
