"""What every concept page of the synced course has (issue 20, must show): at least one figure drawn from the
reference and at least three questions."""

from __future__ import annotations

from django.db.models import Count

from apps.course.models import Concept


def test_every_concept_has_a_figure_and_three_questions(synced_course) -> None:  # type: ignore[no-untyped-def]
    concepts = Concept.objects.annotate(n=Count("questions"))
    assert concepts.count() >= 17
    short = {c.slug: c.n for c in concepts if c.n < 3}
    assert not short, f"concepts with fewer than three questions: {short}"
    bare = [c.slug for c in concepts if not c.figures]
    assert not bare, f"concepts without a figure: {bare}"
