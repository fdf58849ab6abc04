"""Submitting code: a good submission is stored with a queued run and enqueued after commit; bad input is
refused with a clear message and stores nothing."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.lab.models import GradingRun, Submission

SUBMIT = reverse("lab:submit", args=["cumulative-average-memory"])
HTMX = {"HX-Request": "true"}
GOOD = "def init_memory(d):\n    ...\n\n\ndef update(mem, k, v):\n    ...\n"


def test_exercise_page_has_statement_editor_and_starter(logged_in) -> None:  # type: ignore[no-untyped-def]
    page = logged_in.get(reverse("lab:exercise", args=["cumulative-average-memory"])).content.decode()
    assert "data-code-editor" in page and "vendor/codemirror/editor.js" in page
    assert "def update(mem" in page  # the starter code fills the editor
    assert 'hx-post="' + SUBMIT in page


def test_a_submission_is_stored_queued_and_sent_after_commit(  # type: ignore[no-untyped-def]
    logged_in, student, sent, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = logged_in.post(SUBMIT, {"code": GOOD}, headers=HTMX)
    assert response.status_code == 200
    run = GradingRun.objects.get()
    assert run.status == "queued" and run.submission.user == student and run.submission.source == GOOD
    assert len(callbacks) == 1 and sent == [("lab.grade_run", [run.pk], "grading")]
    html = response.content.decode()
    assert 'hx-trigger="every 500ms"' in html and reverse("lab:run-status", args=[run.pk]) in html


def test_without_htmx_the_student_is_redirected_to_the_run_page(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post(SUBMIT, {"code": GOOD})
    assert response.status_code == 302
    assert response["Location"] == reverse("lab:run", args=[GradingRun.objects.get().pk])


def _refused(response, message: str) -> None:  # type: ignore[no-untyped-def]
    assert message in response.content.decode()
    assert not Submission.objects.exists() and not GradingRun.objects.exists()


def test_a_10_mb_upload_is_refused_without_storing_anything(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    big = SimpleUploadedFile("big.py", b"x = 1\n" * (10 * 1024 * 1024 // 6))
    response = logged_in.post(SUBMIT, {"code": "", "upload": big}, headers=HTMX)
    _refused(response, "the limit is 64.0 KiB")
    assert "10.0 MB" in response.content.decode()
    assert sent == []


def test_a_10_mb_text_field_is_refused_too(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post(SUBMIT, {"code": "#" * (10 * 1024 * 1024)})
    assert response.status_code == 400
    _refused(response, "the limit is 64.0 KiB")


def test_a_file_just_over_the_limit_is_refused_by_size(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile("a.py", b"#" * (64 * 1024 + 1))
    _refused(logged_in.post(SUBMIT, {"upload": upload}, headers=HTMX), "the limit is 64.0 KiB")


def test_a_non_utf8_file_is_refused_with_the_byte_offset(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile("latin1.py", "x = 'café'\n".encode("latin-1"))
    _refused(
        logged_in.post(SUBMIT, {"upload": upload}, headers=HTMX),
        "not UTF-8 text: the byte at offset 8 (0xe9)",
    )


def test_an_empty_submission_is_refused(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    _refused(logged_in.post(SUBMIT, {"code": "  \n\n"}, headers=HTMX), "Your submission is empty")
    _refused(logged_in.post(SUBMIT, {"upload": SimpleUploadedFile("e.py", b"")}, headers=HTMX), "empty")


def test_an_uploaded_file_is_used_when_given(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    logged_in.post(
        SUBMIT, {"code": "ignored", "upload": SimpleUploadedFile("s.py", GOOD.encode())}, headers=HTMX
    )
    assert Submission.objects.get().source == GOOD


def test_the_feedback_fragment_is_retargeted_for_htmx(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post(SUBMIT, {"code": ""}, headers=HTMX)
    assert response.status_code == 200  # htmx 2 swaps only 2xx responses
    assert response["HX-Retarget"] == "#submit-feedback"


def test_a_syntax_error_is_refused_with_its_line(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    response = logged_in.post(
        SUBMIT, {"code": "def init_memory(d):\n    return {\n\ndef update(mem, k, v):\n"}, headers=HTMX
    )
    _refused(response, "line 2")


def test_a_file_missing_update_is_refused_by_name(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile("s.py", b"def init_memory(d):\n    return {}\n")
    _refused(logged_in.post(SUBMIT, {"upload": upload}, headers=HTMX), "update")


def test_the_seventh_submission_in_a_minute_waits_and_stores_nothing(logged_in, sent) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from apps.lab.selectors import SUBMISSIONS_PER_WINDOW

    for _ in range(SUBMISSIONS_PER_WINDOW):
        assert logged_in.post(SUBMIT, {"code": GOOD}, headers=HTMX).status_code == 200
    refused = logged_in.post(SUBMIT, {"code": GOOD}, headers=HTMX).content.decode()
    assert "times in the last minute: wait" in refused
    assert Submission.objects.count() == SUBMISSIONS_PER_WINDOW
    for old in Submission.objects.all():  # a minute later
        Submission.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(minutes=2))
    assert logged_in.post(SUBMIT, {"code": GOOD}, headers=HTMX).status_code == 200
    assert Submission.objects.count() == SUBMISSIONS_PER_WINDOW + 1


def test_hints_unlock_one_by_one_after_failed_attempts(logged_in, student, sent) -> None:  # type: ignore[no-untyped-def]
    from apps.lab import services
    from apps.lab.models import Exercise

    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    page = reverse("lab:exercise", args=[exercise.slug])
    hints = exercise.spec["hints"]
    before = logged_in.get(page).content.decode()
    assert len(hints) == 3 and "Hint 1" not in before and "(0 of 3)" in before
    for n in range(4):
        run = services.submission_create(user=student, exercise=exercise, source=f"x = {n}\n").runs.get()
        services.run_finish(run=services.run_claim(run_id=run.pk), report={"verdict": "failed", "score": 0.0})
    html = logged_in.get(page).content.decode()
    assert "Hint 1" in html and "Hint 2" in html and "Hint 3" not in html and "(2 of 3)" in html
    assert "after 2 more graded attempts that do not pass" in html


def test_the_change_between_two_attempts_is_shown_escaped(logged_in, student, sent) -> None:  # type: ignore[no-untyped-def]
    logged_in.post(SUBMIT, {"code": GOOD})
    logged_in.post(SUBMIT, {"code": GOOD.replace("    ...\n", "    return '<b>mem</b>'\n", 1)})
    first, second = Submission.objects.order_by("created_at")
    html = logged_in.get(reverse("lab:submission-diff", args=[second.pk])).content.decode()
    assert 'class="diff-add">+    return &#x27;&lt;b&gt;mem&lt;/b&gt;&#x27;' in html
    assert 'class="diff-del">-    ...' in html
    first_page = logged_in.get(reverse("lab:submission-diff", args=[first.pk])).content.decode()
    assert "This was the first attempt" in first_page


def test_after_the_deadline_a_submission_is_graded_but_marked_late(logged_in, student, sent) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from apps.grades.selectors import gradebook
    from apps.lab import services
    from apps.lab.models import Exercise

    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    logged_in.post(SUBMIT, {"code": GOOD})  # no deadline yet: on time
    exercise.deadline = timezone.now() - timedelta(hours=1)
    exercise.save(update_fields=["deadline"])
    logged_in.post(SUBMIT, {"code": GOOD + "\n"})
    on_time, late = Submission.objects.order_by("created_at")
    assert (on_time.late, late.late) == (False, True) and late.runs.get().status == "queued"  # still graded
    page = logged_in.get(reverse("lab:exercise", args=[exercise.slug])).content.decode()
    assert (
        "closed: new submissions are marked late" in page and '<span class="badge late">late</span>' in page
    )
    services.run_finish(
        run=services.run_claim(run_id=on_time.runs.get().pk), report={"verdict": "failed", "score": 0.25}
    )
    services.run_finish(
        run=services.run_claim(run_id=late.runs.get().pk), report={"verdict": "passed", "score": 1.0}
    )
    book = gradebook()
    column = next(i for i, c in enumerate(book.columns) if c.key == f"exercise:{exercise.slug}")
    assert (
        next(r for r in book.rows if r.student == student).cells[column] == 25.0
    )  # the late pass does not count
