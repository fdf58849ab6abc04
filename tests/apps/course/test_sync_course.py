from __future__ import annotations

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
    assert Exercise.objects.get(slug="fast-weight-memory").concept == seed

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
    seed.write_text(seed.read_text().replace("learn_before: []", "learn_before: [no-such-concept]"))
    with pytest.raises(CommandError, match="links to concept 'no-such-concept', which does not exist"):
        _sync(copy)
    assert not Concept.objects.exists()
