"""Every exercise belongs to the concept it practises: its breadcrumb, that concept's "Practise it" and the course
map's progress all follow the concept files' ``exercises:`` lists, so each folder must be listed exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from apps.course.content_files import parse_concept

CONTENT = Path(__file__).resolve().parents[3] / "content"


def _listed() -> Counter[str]:
    return Counter(
        slug for p in sorted((CONTENT / "concepts").glob("*.md")) for slug in parse_concept(p).exercises
    )


def test_every_exercise_folder_is_listed_by_exactly_one_concept() -> None:
    folders = {p.parent.name for p in (CONTENT / "exercises").glob("*/exercise.yaml")}
    listed = _listed()
    assert folders, "no exercise folders found"
    assert sorted(f for f in folders if listed[f] == 0) == []  # orphans: reachable from no concept
    assert sorted(s for s, n in listed.items() if n > 1) == []  # claimed by two concepts
    assert set(listed) <= folders  # no concept lists a folder that does not exist


def test_exercises_sit_under_the_concept_of_their_model() -> None:
    """The cases issue 19 found: each of these sat under another concept, or under none."""
    owner = {slug: p.stem for p in (CONTENT / "concepts").glob("*.md") for slug in parse_concept(p).exercises}
    assert owner["cumulative-average-memory"] == "cumulative-average"
    assert owner["fix-the-recurrence"] == "cumulative-average"
    assert owner["fast-weight-memory"] == "linear-attention-fast-weights"
    assert owner["gradient-memory"] == "neural-network-as-memory"
    for folder in (CONTENT / "exercises").glob("*/exercise.yaml"):  # the folder's slug is its own
        assert yaml.safe_load(folder.read_text(encoding="utf-8"))["slug"] == folder.parent.name
