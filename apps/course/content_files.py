"""One course file's text format, both ways: parse a concept or a question file, and write one back.

Layout: content/concepts/<slug>.md (YAML front matter + Markdown body), content/questions/<slug>.yaml.
Two readers share these parsers, with the same messages and rules: ``apps.content`` (the whole folder, then the
sync) and the browser editor (``apps.course.authoring``, one item). They live here, below ``apps.content``,
because the editor's pages are the course app's; the folder as a whole (exercises, the links between files) is
``apps.content.files``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from apps.quiz import kinds
from apps.quiz.credit import DEFAULT_MAX_ATTEMPTS, default_credit

if TYPE_CHECKING:  # the writers' argument types only: parsing needs no model (nor the app registry)
    from apps.course.models import Concept
    from apps.quiz.models import Question

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ContentError(ValueError):
    """A broken course file. The message names the file (and the line where known)."""


@dataclass(frozen=True)
class ConceptFile:
    path: Path
    slug: str
    title: str
    summary: str
    body: str
    tags: list[str]
    position: int
    learn_before: list[str]
    related: list[str]
    exercises: list[str]
    published: bool = True  # the files are the published course: only a draft says ``published: false``


@dataclass(frozen=True)
class QuestionFile:
    path: Path
    slug: str
    concept: str
    kind: str
    stem: str
    choices: list[str]
    answer: dict[str, Any]
    explanation: str
    position: int
    generator: str = ""  # randomized: apps.quiz.generators computes the variants (and their answers) at sync
    feedback: list[str] = field(default_factory=list)  # per choice, shown when picked ("" for none)
    max_attempts: int | None = DEFAULT_MAX_ATTEMPTS  # None: unlimited
    credit: list[float] = field(default_factory=default_credit)  # what attempt 1, 2, … earns
    published: bool = True  # only a draft says ``published: false``


def _yaml(text: str, path: Path, line_offset: int = 0) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1 + line_offset}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContentError(f"{path}{where}: invalid YAML ({problem})") from exc
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    return data


def _require(data: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    if key not in data:
        raise ContentError(f"{path}: missing required key '{key}'")
    if not isinstance(data[key], kind):
        raise ContentError(f"{path}: '{key}' must be a {kind.__name__}, got {type(data[key]).__name__}")
    return data[key]


def _slug(data: dict[str, Any], path: Path) -> str:
    slug = _require(data, "slug", str, path)
    if not SLUG.match(slug):
        raise ContentError(f"{path}: slug {slug!r} must be lowercase words joined by hyphens")
    return str(slug)


def parse_concept(path: Path) -> ConceptFile:
    return parse_concept_text(path.read_text(encoding="utf-8"), path)


def parse_concept_text(text: str, path: Path) -> ConceptFile:
    """A concept file's text (front matter + body); ``path`` names it in messages (the browser editor too)."""
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, flags=re.DOTALL)
    if not match:
        raise ContentError(
            f"{path}, line 1: a concept file starts with YAML front matter between '---' lines"
        )
    meta = _yaml(match.group(1), path, line_offset=1)
    return ConceptFile(
        path=path,
        slug=_slug(meta, path),
        title=_require(meta, "title", str, path),
        summary=str(meta.get("summary") or ""),
        body=match.group(2).strip() + "\n",
        tags=_names(meta, "tags", path),
        position=_position(meta, path),
        learn_before=_names(meta, "learn_before", path),
        related=_names(meta, "related", path),
        exercises=_names(meta, "exercises", path),
        published=published_key(meta, path),
    )


def _names(data: dict[str, Any], key: str, path: Path) -> list[str]:
    """An optional list of strings (a bare string is refused: YAML would otherwise give its letters)."""
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContentError(f"{path}: '{key}' must be a list of names, e.g. [a, b], got {value!r}")
    return list(value)


def published_key(data: dict[str, Any], path: Path | str) -> bool:
    """The optional ``published:`` of a course file (concept, question or exercise.yaml): true when absent."""
    value = data.get("published", True)
    if not isinstance(value, bool):
        raise ContentError(f"{path}: 'published' must be true or false, got {value!r}")
    return value


def _position(data: dict[str, Any], path: Path) -> int:
    value = data.get("position", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ContentError(f"{path}: 'position' must be an integer of 0 or more, got {value!r}")
    return value


def parse_question(path: Path) -> QuestionFile:
    return parse_question_text(path.read_text(encoding="utf-8"), path)


def parse_question_text(text: str, path: Path) -> QuestionFile:
    """A question file's YAML; ``path`` names it in messages (the browser editor too)."""
    data = _yaml(text, path)
    kind = _require(data, "kind", str, path)
    question_kind = kinds.find(kind)
    if question_kind is None:
        raise ContentError(f"{path}: kind {kind!r} is not one of {sorted(kinds.names())}")
    generator = str(data.get("generator") or "")
    choices = [str(c) for c in data.get("choices", [])]
    if generator:  # the answers come from the reference, variant by variant
        if not question_kind.randomizable:
            randomizable = [k.name for k in kinds.all_kinds() if k.randomizable]
            raise ContentError(f"{path}: a randomized question (generator) must be {_either(randomizable)}")
        if "answer" in data:
            raise ContentError(
                f"{path}: a randomized question takes its answers from its generator: drop 'answer'"
            )
        from apps.quiz.generators import GENERATORS  # torch: only when a course has randomized questions

        if generator not in GENERATORS:
            raise ContentError(f"{path}: no generator {generator!r} (known: {sorted(GENERATORS)})")
        answer: dict[str, Any] = {}
    else:  # a kind that is not keyed (ordering) takes its key from the choices and ignores any 'answer'
        answer = _require(data, "answer", dict, path) if question_kind.keyed else {}
        _check_answer(question_kind, answer, choices, path)
    return QuestionFile(
        path=path,
        slug=_slug(data, path),
        concept=_require(data, "concept", str, path),
        kind=kind,
        stem=_require(data, "stem", str, path),
        choices=choices,
        answer=answer,
        explanation=_require(data, "explanation", str, path),
        position=_position(data, path),
        generator=generator,
        feedback=_feedback(data, choices, path),
        max_attempts=_max_attempts(data, path),
        credit=_credit(data, path),
        published=published_key(data, path),
    )


def _feedback(data: dict[str, Any], choices: list[str], path: Path) -> list[str]:
    """An optional list parallel to ``choices``: the text a student sees after picking that option."""
    value = data.get("feedback")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) or v is None for v in value):
        raise ContentError(f"{path}: 'feedback' must be a list of texts, one per choice ('' for none)")
    if len(value) != len(choices):
        raise ContentError(
            f"{path}: 'feedback' has {len(value)} entries for {len(choices)} choices: give one per choice"
        )
    return [v or "" for v in value]


def _max_attempts(data: dict[str, Any], path: Path) -> int | None:
    value = data.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if value == "unlimited":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ContentError(
            f"{path}: 'max_attempts' must be a number of 1 or more, or unlimited, got {value!r}"
        )
    return value


def _credit(data: dict[str, Any], path: Path) -> list[float]:
    value = data.get("credit")
    if value is None:
        return default_credit()
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in value)
    ):
        raise ContentError(
            f"{path}: 'credit' must list what each attempt earns, from 0 to 1, e.g. [1.0, 0.5, 0.25]"
        )
    return [float(v) for v in value]


def _check_answer(kind: kinds.QuestionKind, answer: dict[str, Any], choices: list[str], path: Path) -> None:
    """The kind's own rule for its answer key, its message prefixed with the file like every other."""
    try:
        kind.check_key(answer=answer, choices=choices)
    except kinds.AnswerKeyError as exc:
        raise ContentError(f"{path}: {exc}") from exc


def _either(names: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def concept_text(concept: Concept, *, with_state: bool = True) -> str:
    """The inverse of ``parse_concept_text``: parsing it gives back the stored concept and its links.

    A draft says ``published: false`` (``with_state=False``: never, for the browser editor, whose checkbox says it).
    """
    meta: dict[str, Any] = {"slug": concept.slug, "title": concept.title}
    if with_state and not concept.published:
        meta["published"] = False
    meta |= {
        "summary": concept.summary,
        "position": concept.position,
        "tags": list(concept.tags),
        "learn_before": [c.slug for c in concept.learn_before.order_by("position", "slug")],
        "related": [c.slug for c in concept.related.order_by("position", "slug")],
        "exercises": [e.slug for e in concept.exercises.order_by("position", "slug")],
    }
    return f"---\n{_dump(meta)}---\n{concept.body}"


def question_text(question: Question, *, with_state: bool = True) -> str:
    """The inverse of ``parse_question_text`` (a randomized question: its generator, not its variants); a draft
    says ``published: false`` (``with_state=False``: never, for the browser editor, whose checkbox says it)."""
    data: dict[str, Any] = {"slug": question.slug}
    if with_state and not question.published:
        data["published"] = False
    data |= {
        "concept": question.concept.slug,
        "kind": question.kind,
        "position": question.position,
        "stem": question.stem,
    }
    if question.choices:
        data["choices"] = list(question.choices)
    if question.generator:  # randomized: the variants are computed again at the next sync
        data["generator"] = question.generator
    elif question.answer:
        data["answer"] = dict(question.answer)
    if question.feedback:
        data["feedback"] = list(question.feedback)
    if question.max_attempts != DEFAULT_MAX_ATTEMPTS:
        data["max_attempts"] = question.max_attempts if question.max_attempts is not None else "unlimited"
    if list(question.credit) != default_credit():
        data["credit"] = list(question.credit)
    data["explanation"] = question.explanation
    return _dump(data)
