"""Draft and published (issue 19, item 6), the course's half: a student sees published concepts only (home, map,
concept pages, progress), a draft concept hides its questions and exercises, an instructor sees everything with
drafts marked; the rows that existed before the field are published, and what is written in the browser starts
as a draft until the Published box (or the Publish button) says otherwise."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from apps.course.authoring import NEW_CONCEPT
from apps.course.models import Concept
from apps.course.progress import progress_by_concept
from apps.course.selectors import concept_get_visible, concept_outline, concepts_visible
from apps.lab.models import Exercise
from apps.lab.selectors import exercise_get_visible, exercises_visible
from apps.quiz.models import Question
from apps.quiz.selectors import question_get_visible, question_list_for_concept, questions_visible

CONCEPT = "cumulative-average"  # exercises cumulative-average-memory and fix-the-recurrence, four questions
EXERCISES = {"cumulative-average-memory", "fix-the-recurrence"}
QUESTION = "cumulative-average-one-step"
DRAFT = '<span class="badge draft">Draft</span>'


def _slugs(rows: object) -> set[str]:
    return {row.slug for row in rows}  # type: ignore[attr-defined]


def test_the_course_files_sync_as_published(synced_course) -> None:  # type: ignore[no-untyped-def]
    assert Concept.objects.exists() and Exercise.objects.exists() and Question.objects.exists()
    assert not Concept.objects.filter(published=False).exists()
    assert not Exercise.objects.filter(published=False).exists()
    assert not Question.objects.filter(published=False).exists()


def test_a_student_sees_published_concepts_only_and_an_instructor_all(  # type: ignore[no-untyped-def]
    client, synced_course, student, instructor
) -> None:
    Concept.objects.filter(slug=CONCEPT).update(published=False)
    everything = set(Concept.objects.values_list("slug", flat=True))
    assert _slugs(concepts_visible(user=student)) == everything - {CONCEPT}
    assert _slugs(concept_outline(user=student)) == everything - {CONCEPT}
    assert _slugs(concepts_visible(user=instructor)) == _slugs(concept_outline(user=instructor)) == everything
    page = reverse("course:concept", args=[CONCEPT])

    client.force_login(student)
    for name in ("course:home", "course:map"):
        html = client.get(reverse(name)).content.decode()
        assert page not in html and DRAFT not in html, name
    assert client.get(page).status_code == 404
    with pytest.raises(Concept.DoesNotExist):
        concept_get_visible(slug=CONCEPT, user=student)
    # the concepts it links to do not link back to it for a student (Learn after, the map's arrows)
    before = Concept.objects.get(slug=CONCEPT).learn_before.first()
    assert (
        before is not None
        and page not in client.get(reverse("course:concept", args=[before.slug])).content.decode()
    )

    client.force_login(instructor)
    for name in ("course:home", "course:map"):
        html = client.get(reverse(name)).content.decode()
        assert page in html and html.count(DRAFT) == 1, name  # the draft concept, marked
    html = client.get(page).content.decode()
    assert f"{Concept.objects.get(slug=CONCEPT).title} {DRAFT}</h1>" in html


def test_a_draft_concept_hides_its_questions_and_exercises(synced_course, student, instructor) -> None:  # type: ignore[no-untyped-def]
    Concept.objects.filter(slug=CONCEPT).update(published=False)  # they stay published themselves
    questions = set(Question.objects.filter(concept__slug=CONCEPT).values_list("slug", flat=True))
    assert EXERCISES.isdisjoint(_slugs(exercises_visible(user=student)))
    assert questions.isdisjoint(_slugs(questions_visible(user=student)))
    with pytest.raises(Exercise.DoesNotExist):
        exercise_get_visible(slug="fix-the-recurrence", user=student)
    with pytest.raises(Question.DoesNotExist):
        question_get_visible(slug=QUESTION, user=student)
    assert _slugs(exercises_visible(user=instructor)) >= EXERCISES
    assert questions <= _slugs(questions_visible(user=instructor))
    assert question_get_visible(slug=QUESTION, user=instructor).concept.slug == CONCEPT


def test_a_published_concept_lists_its_published_questions_and_exercises_only(  # type: ignore[no-untyped-def]
    client, synced_course, student, instructor
) -> None:
    Exercise.objects.filter(slug="fix-the-recurrence").update(published=False)
    Question.objects.filter(slug=QUESTION).update(published=False)
    concept = Concept.objects.get(slug=CONCEPT)
    assert QUESTION not in {v.question.slug for v in question_list_for_concept(concept=concept, user=student)}
    assert QUESTION in {v.question.slug for v in question_list_for_concept(concept=concept, user=instructor)}
    page = reverse("course:concept", args=[CONCEPT])

    client.force_login(student)
    html = client.get(page).content.decode()
    assert 'data-slug="cumulative-average-memory"' in html and f"question-{QUESTION}" not in html
    assert 'data-slug="fix-the-recurrence"' not in html and DRAFT not in html
    home = client.get(reverse("course:home")).content.decode()
    assert 'data-slug="fix-the-recurrence"' not in home

    client.force_login(instructor)
    html = client.get(page).content.decode()
    row = html[html.index('data-slug="fix-the-recurrence"') :]
    assert DRAFT in row[: row.index("</li>")]
    card = html[html.index(f'id="question-{QUESTION}"') :]
    assert DRAFT in card[: card.index("</form>")]
    home = client.get(reverse("course:home")).content.decode()
    row = home[home.index('data-slug="fix-the-recurrence"') :]
    assert DRAFT in row[: row.index("</li>")]


def test_progress_counts_published_items_only(client, synced_course, student, instructor) -> None:  # type: ignore[no-untyped-def]
    pk = Concept.objects.get(slug=CONCEPT).pk
    before = progress_by_concept(user=student, concepts=list(concept_outline(user=student)))[pk]
    Exercise.objects.filter(slug="fix-the-recurrence").update(published=False)
    Question.objects.filter(slug=QUESTION).update(published=False)
    for user in (student, instructor):  # a draft is no part of the course yet, whoever looks
        after = progress_by_concept(user=user, concepts=list(concept_outline(user=user)))[pk]
        assert (after.questions_total, after.exercises_total) == (
            before.questions_total - 1,
            before.exercises_total - 1,
        ), user
    client.force_login(student)
    html = client.get(reverse("course:map")).content.decode()
    node = html[html.index(f'data-slug="{CONCEPT}"') :]
    assert f"exercises 0/{before.exercises_total - 1}" in node[: node.index("</a>")]


def test_a_concept_written_in_the_browser_is_a_draft_until_published(  # type: ignore[no-untyped-def]
    client, synced_course, student, instructor
) -> None:
    text = NEW_CONCEPT.replace("my-concept", "sinks-again")
    client.force_login(instructor)
    new = client.get(reverse("course:concept-new")).content.decode()
    assert 'name="published" type="checkbox">' in new  # unticked: a draft
    assert client.post(reverse("course:concept-new"), {"text": text}).status_code == 302
    assert not Concept.objects.get(slug="sinks-again").published
    edit = reverse("course:concept-edit", args=["sinks-again"])
    html = client.get(edit).content.decode()
    assert (
        "A draft: students cannot see it yet." in html
        and "published:" not in html.split("<textarea")[1].split("</textarea>")[0]
    )

    client.force_login(student)
    assert client.get(reverse("course:concept", args=["sinks-again"])).status_code == 404

    client.force_login(instructor)
    assert client.post(edit, {"text": text, "published": "on"}).status_code == 302  # the box, ticked
    assert Concept.objects.get(slug="sinks-again").published
    assert "checked" in client.get(edit).content.decode().split('name="published" type="checkbox"')[1][:20]
    client.force_login(student)
    assert client.get(reverse("course:concept", args=["sinks-again"])).status_code == 200

    client.force_login(instructor)
    publish = reverse("course:concept-publish", args=["sinks-again"])
    assert client.post(publish, {"published": "0"})["Location"] == edit  # Unpublish, back to the editor
    assert not Concept.objects.get(slug="sinks-again").published
    assert "Publish</button>" in client.get(edit).content.decode()
    client.post(publish, {"published": "1"})
    assert Concept.objects.get(slug="sinks-again").published
    assert client.get(publish).status_code == 405  # a change of state is a POST


def test_a_question_written_in_the_browser_is_a_draft_until_published(
    client, synced_course, instructor
) -> None:  # type: ignore[no-untyped-def]
    text = (
        "slug: a-new-one\nconcept: cumulative-average\nkind: true_false\nposition: 99\n"
        "stem: Is it new?\nanswer:\n  value: true\nexplanation: It is.\n"
    )
    client.force_login(instructor)
    assert client.post(reverse("course:question-new"), {"text": text}).status_code == 302
    assert not Question.objects.get(slug="a-new-one").published
    url = reverse("course:question-edit", args=["a-new-one"])
    assert client.post(url, {"text": text, "published": "on"}).status_code == 302
    assert Question.objects.get(slug="a-new-one").published
    # a published: line in the text does not decide: the box does
    assert client.post(url, {"text": text + "published: true\n"}).status_code == 302
    assert not Question.objects.get(slug="a-new-one").published


@pytest.mark.django_db(transaction=True)
def test_the_rows_before_the_migration_are_published_and_new_ones_drafts() -> None:
    before = [("course", "0001_initial"), ("lab", "0007_draft"), ("quiz", "0005_attempts_and_credit")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    concept = old.get_model("course", "Concept").objects.create(slug="old", title="Old", body="Old.")
    old.get_model("lab", "Exercise").objects.create(
        slug="old-exercise", title="Old", concept_id=concept.pk, statement="", starter="", spec={}
    )
    old.get_model("quiz", "Question").objects.create(
        slug="old-question", concept_id=concept.pk, kind="true_false", stem="?", explanation="."
    )
    executor = MigrationExecutor(connection)  # a fresh graph: the one above was built for going back
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Concept.objects.get(slug="old").published
    assert Exercise.objects.get(slug="old-exercise").published
    assert Question.objects.get(slug="old-question").published
    new = Concept.objects.create(slug="new", title="New", body="New.")
    assert not new.published  # the model's default: anything new starts as a draft
    assert not Exercise.objects.create(
        slug="new-exercise", title="New", statement="", starter="", spec={}
    ).published
