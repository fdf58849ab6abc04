"""The course map: every concept reachable, arrows along Learn-before, colours by the student's progress."""

from __future__ import annotations

from django.urls import reverse

from apps.course.course_map import layers, wrap
from apps.course.models import Concept
from apps.quiz.models import Attempt, Question


def test_layers_follow_the_longest_prerequisite_chain_and_survive_a_cycle() -> None:
    before = {1: [], 2: [1], 3: [1, 2], 4: [4, 3]}  # 4 lists itself: the cycle is cut
    concepts = [Concept(pk=pk, slug=f"c{pk}", title="t") for pk in before]
    assert layers(concepts, before) == {1: 0, 2: 1, 3: 2, 4: 3}


def test_long_titles_wrap_to_two_lines() -> None:
    lines = wrap("Comparison of Memory Storage in Window-based and Moving Average Caches")
    assert len(lines) == 2 and lines[1].endswith("…") and all(len(line) <= 26 for line in lines)


def test_the_map_links_every_concept_and_colours_progress(logged_in, student) -> None:  # type: ignore[no-untyped-def]
    url = reverse("course:map")
    page = logged_in.get(url).content.decode()
    for concept in Concept.objects.all():
        assert f'href="{reverse("course:concept", args=[concept.slug])}"' in page
    assert 'data-slug="general-recurrent-formula" data-status="new"' in page
    question = Question.objects.get(slug="step-100-needs-history")
    Attempt.objects.create(user=student, question=question, response={"value": False}, correct=True)
    page = logged_in.get(url).content.decode()
    assert 'data-slug="general-recurrent-formula" data-status="started"' in page


def test_every_learn_before_edge_is_drawn(logged_in) -> None:  # type: ignore[no-untyped-def]
    page = logged_in.get(reverse("course:map")).content.decode()
    links = sum(c.learn_before.count() for c in Concept.objects.all())
    assert page.count('class="edge"') == links


def test_every_page_has_math_tags_a_related_link_and_is_reachable(synced_course) -> None:  # type: ignore[no-untyped-def]
    concepts = list(Concept.objects.prefetch_related("learn_before", "learn_after", "related"))
    neighbours = {
        c.slug: {o.slug for o in (*c.learn_before.all(), *c.learn_after.all(), *c.related.all())}
        for c in concepts
    }
    for c in concepts:
        assert "$" in c.body and c.tags and c.related.exists(), c.slug
    seen, todo = set(), ["general-recurrent-formula"]
    while todo:
        slug = todo.pop()
        if slug not in seen:
            seen.add(slug)
            todo += neighbours[slug]
    assert seen == set(neighbours)
    assert all(c.questions.count() >= 3 for c in concepts)
