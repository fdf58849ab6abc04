"""Reading the course folder (content/): parse and validate everything before the database is touched.

Layout: content/concepts/<slug>.md and content/questions/<slug>.yaml (one file each, parsed by
``apps.course.content_files``), content/exercises/<slug>/ (read by the grader: graders.load_exercise). What only
the whole folder can check is here: unique slugs, links that point somewhere, no Learn-before loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from apps.course.content_files import (
    ConceptFile,
    ContentError,
    QuestionFile,
    parse_concept,
    parse_question,
    published_key,
)


@dataclass(frozen=True)
class ExerciseFile:
    path: Path
    slug: str
    title: str
    statement: str
    starter: str
    spec: dict[str, Any]
    published: bool = True  # exercise.yaml's ``published:`` (the course's key: the grader ignores it)


@dataclass(frozen=True)
class Course:
    concepts: list[ConceptFile] = field(default_factory=list)
    questions: list[QuestionFile] = field(default_factory=list)
    exercises: list[ExerciseFile] = field(default_factory=list)


def parse_exercise(folder: Path) -> ExerciseFile:
    import graders  # the grader owns the exercise format; loading it validates the spec too

    try:
        spec = graders.load_exercise(folder)
    except Exception as exc:  # the grader's own error types; any of them means "this folder is broken"
        raise ContentError(f"{folder}: {exc}") from exc
    data = spec.to_dict()
    path = folder / "exercise.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))  # the grader read it already: it is a mapping
    return ExerciseFile(
        path=folder,
        slug=spec.slug,
        title=spec.title,
        statement=spec.statement,
        starter=spec.starter,
        spec=data,
        published=published_key(raw, path),
    )


def read_course(content_dir: Path) -> Course:
    """Parse every course file and check the links between them. Raises ContentError on the first problem."""
    concepts = [parse_concept(p) for p in sorted((content_dir / "concepts").glob("*.md"))]
    questions = [parse_question(p) for p in sorted((content_dir / "questions").glob("*.yaml"))]
    exercise_dirs = sorted(p for p in (content_dir / "exercises").glob("*") if (p / "exercise.yaml").exists())
    exercises = [parse_exercise(p) for p in exercise_dirs]
    course = Course(concepts=concepts, questions=questions, exercises=exercises)
    _check_links(course)
    return course


def _check_links(course: Course) -> None:
    for kind, items in (
        ("concept", course.concepts),
        ("question", course.questions),
        ("exercise", course.exercises),
    ):
        seen: dict[str, Path] = {}
        for item in items:
            if item.slug in seen:
                raise ContentError(
                    f"{item.path}: {kind} slug {item.slug!r} is also used by {seen[item.slug]}"
                )
            seen[item.slug] = item.path
    concepts = {c.slug: c for c in course.concepts}
    exercises = {e.slug for e in course.exercises}
    owner: dict[str, Path] = {}
    for c in course.concepts:
        for target in c.learn_before + c.related:
            if target not in concepts:
                raise ContentError(f"{c.path}: links to concept {target!r}, which does not exist")
        for target in c.related:  # the database keeps "related" both ways: the files must say so both ways
            if c.slug not in concepts[target].related:
                raise ContentError(
                    f"{c.path}: is related to {target!r}, but {concepts[target].path.name} does not list it back"
                )
        for target in c.exercises:
            if target not in exercises:
                raise ContentError(f"{c.path}: lists exercise {target!r}, which does not exist")
            if target in owner:  # an exercise belongs to one concept
                raise ContentError(f"{c.path}: exercise {target!r} is also listed by {owner[target].name}")
            owner[target] = c.path
    _check_no_cycle(course)
    for q in course.questions:
        if q.concept not in concepts:
            raise ContentError(f"{q.path}: belongs to concept {q.concept!r}, which does not exist")


def _check_no_cycle(course: Course) -> None:
    """Learn-before links must not loop back (a concept cannot be its own prerequisite, however indirectly)."""
    before = {c.slug: c.learn_before for c in course.concepts}
    paths = {c.slug: c.path for c in course.concepts}
    done: set[str] = set()

    def visit(slug: str, chain: list[str]) -> None:
        if slug in chain:
            loop = " -> ".join([*chain[chain.index(slug) :], slug])
            raise ContentError(f"{paths[slug]}: learn_before goes round in a circle: {loop}")
        if slug in done:
            return
        for parent in before[slug]:
            visit(parent, [*chain, slug])
        done.add(slug)

    for slug in before:
        visit(slug, [])
