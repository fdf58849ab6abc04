from __future__ import annotations

import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.course.models import Concept
from apps.lab.models import Exercise
from apps.quiz.models import Question


def _sync(content: Path) -> str:
    out = StringIO()
    call_command("sync_course", "--content", str(content), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_sync_creates_the_seed_then_is_idempotent(content_dir: Path) -> None:
    first = _sync(content_dir)
    assert "created" in first
    seed = Concept.objects.get(slug="general-recurrent-formula")
    assert "f\\big((k_i, v_i)" in seed.body
    assert Question.objects.get(slug="step-100-needs-history").answer == {"value": False}
    assert set(Exercise.objects.values_list("slug", flat=True)) >= {
        "cumulative-average-memory",
        "fast-weight-memory",
    }
    assert Exercise.objects.get(slug="fast-weight-memory").concept == Concept.objects.get(
        slug="linear-attention-fast-weights"
    )  # each exercise under the concept it practises (issue 19, item 4)

    second = _sync(content_dir)
    assert "created" not in second and "updated" not in second
    assert "unchanged" in second


@pytest.mark.django_db
def test_a_broken_file_names_file_and_line_and_changes_nothing(content_dir: Path, tmp_path: Path) -> None:
    _sync(content_dir)
    copy = tmp_path / "content"
    shutil.copytree(content_dir, copy)
    seed = copy / "concepts" / "general-recurrent-formula.md"
    seed.write_text(seed.read_text().replace("title: General", "title: Changed\n  bad: [unclosed"))
    question = copy / "questions" / "step-100-needs-history.yaml"
    question.write_text(question.read_text().replace("value: false", "value: true"))

    with pytest.raises(CommandError) as error:
        _sync(copy)
    assert "general-recurrent-formula.md, line" in str(error.value)
    assert "Nothing was changed" in str(error.value)
    assert (
        Concept.objects.get(slug="general-recurrent-formula").title
        == "General Recurrent Formula for Memory Update"
    )
    assert Question.objects.get(slug="step-100-needs-history").answer == {"value": False}


@pytest.mark.django_db
def test_a_dangling_link_is_refused(content_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "content"
    shutil.copytree(content_dir, copy)
    seed = copy / "concepts" / "general-recurrent-formula.md"
    text = re.sub(
        r"(?m)^learn_before:.*(\n(?:  - .*\n)*)?",
        "learn_before: [no-such-concept]\n",
        seed.read_text(),
        count=1,
    )
    seed.write_text(text)
    with pytest.raises(CommandError, match="links to concept 'no-such-concept', which does not exist"):
        _sync(copy)
    assert not Concept.objects.exists()


def test_export_then_sync_changes_nothing(synced_course, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    from apps.content.services import course_sync

    call_command("export_course", "--out", str(tmp_path))
    counts = course_sync(content_dir=tmp_path)
    assert set(counts) == {"unchanged"}, counts  # every concept, question and exercise round-trips


def test_a_draft_round_trips_through_export_and_sync(synced_course, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Only a draft says ``published: false`` in its file; syncing the export gives the drafts back."""
    import graders
    from apps.content.services import course_sync

    drafts = {Concept: "attention-sinks", Question: "step-100-needs-history", Exercise: "window-memory"}
    for model, slug in drafts.items():
        model.objects.filter(slug=slug).update(published=False)
    call_command("export_course", "--out", str(tmp_path))
    files = {
        "attention-sinks": tmp_path / "concepts" / "attention-sinks.md",
        "step-100-needs-history": tmp_path / "questions" / "step-100-needs-history.yaml",
        "window-memory": tmp_path / "exercises" / "window-memory" / "exercise.yaml",
    }
    for slug, path in files.items():
        assert "\npublished: false\n" in path.read_text(), slug
    published = [
        tmp_path / "concepts" / "delta-rule.md",
        tmp_path / "exercises" / "ema-memory" / "exercise.yaml",
    ]
    assert not any("published:" in path.read_text() for path in published)
    assert graders.load_exercise(tmp_path / "exercises" / "window-memory").slug == "window-memory"

    assert set(course_sync(content_dir=tmp_path)) == {"unchanged"}  # the drafts stay drafts
    for model in drafts:
        model.objects.update(published=True)
    assert course_sync(content_dir=tmp_path)["updated"] == 3  # the files say which are drafts
    for model, slug in drafts.items():
        assert set(model.objects.filter(published=False).values_list("slug", flat=True)) == {slug}


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (("position: 70", "position: seventy"), "'position' must be an integer"),
        (("tags:", "tags: Cache\nold_tags:"), "'tags' must be a list"),
        (("position: 70", "position: 70\npublished: maybe"), "'published' must be true or false"),
    ],
)
def test_malformed_front_matter_names_the_file_and_changes_nothing(
    db, content_dir, tmp_path, edit, complaint
) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "content"
    shutil.copytree(content_dir, copy)
    seed = copy / "concepts" / "general-recurrent-formula.md"
    old, new = edit
    assert old in seed.read_text()
    seed.write_text(seed.read_text().replace(old, new, 1))
    with pytest.raises(CommandError, match=complaint) as info:
        _sync(copy)
    assert "general-recurrent-formula.md" in str(info.value) and not Concept.objects.exists()


def test_a_one_sided_related_link_and_a_shared_exercise_are_refused(db, content_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "content"
    shutil.copytree(content_dir, copy)
    page = copy / "concepts" / "attention-sinks.md"
    text = page.read_text()
    page.write_text(re.sub(r"(?m)^related:.*(\n(?:  - .*\n)*)?", "related: [delta-rule]\n", text, count=1))
    with pytest.raises(CommandError, match="delta-rule.md does not list it back"):
        _sync(copy)
    page.write_text(text)
    window = copy / "concepts" / "window-memory.md"
    window.write_text(window.read_text().replace("exercises:", "exercises:\n  - fast-weight-memory", 1))
    with pytest.raises(CommandError, match="exercise 'fast-weight-memory' is also listed by"):
        _sync(copy)


def test_a_prerequisite_cycle_is_refused_with_its_path(db, content_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "content"
    shutil.copytree(content_dir, copy)
    first = copy / "concepts" / "kv-cache-as-memory.md"
    text = re.sub(
        r"(?m)^learn_before:.*(\n(?:  - .*\n)*)?",
        "learn_before: [general-recurrent-formula]\n",
        first.read_text(),
        count=1,
    )
    first.write_text(text)
    with pytest.raises(CommandError, match="goes round in a circle: .*kv-cache-as-memory"):
        _sync(copy)
    assert not Concept.objects.exists()
