"""The life of a grading run: atomic claim, finish only by the owning claim, polling that stops, privacy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.lab import services
from apps.lab.models import Exercise, GradingRun
from apps.lab.tasks import grade_run
from tests.support.factories import user_create

REPORT = {
    "schema": 1,
    "exercise": "cumulative-average-memory",
    "verdict": "failed",
    "score": 0.5,
    "checks": [
        {
            "id": "recurrence",
            "passed": False,
            "points": 0,
            "max_points": 40,
            "message": "Replayed in a fresh process <b>it differed</b>.",
            "counterexample": None,
            "hidden": False,
        }
    ],
    "sandbox": {"layers": ["rlimits"], "cpu_s": 0.01, "wall_s": 0.02, "max_rss_kb": 1},
    "stdout": "\x1b[31m<script>alert(1)</script>",
    "stderr": "",
    "grader_version": "t",
    "submission_sha256": "x",
    "timings": {},
}


@pytest.fixture
def run(student, synced_course, monkeypatch):  # type: ignore[no-untyped-def]
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)
    exercise = Exercise.objects.get(slug="cumulative-average-memory")
    return services.submission_create(user=student, exercise=exercise, source="x = 1\n").runs.get()


def test_a_run_is_claimed_once(run) -> None:  # type: ignore[no-untyped-def]
    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None and claimed.status == "running" and claimed.attempt == 1
    assert services.run_claim(run_id=run.pk) is None


def test_only_the_owning_claim_can_finish(run) -> None:  # type: ignore[no-untyped-def]
    claim = services.run_claim(run_id=run.pk)
    assert services.run_release(run=claim)
    newer = services.run_claim(run_id=run.pk)
    assert not services.run_finish(run=claim, report=REPORT)  # stale claim: refused
    assert services.run_finish(run=newer, report=REPORT)
    stored = GradingRun.objects.get(pk=run.pk)
    assert (stored.status, stored.verdict, stored.score, stored.attempt) == ("finished", "failed", 0.5, 2)


def test_a_redelivered_task_does_nothing(run) -> None:  # type: ignore[no-untyped-def]
    claim = services.run_claim(run_id=run.pk)
    services.run_finish(run=claim, report=REPORT)
    grade_run.run(run.pk)  # a second delivery of the same task: no claim, no grading, no change
    stored = GradingRun.objects.get(pk=run.pk)
    assert stored.report == REPORT and stored.attempt == 1


def test_status_fragment_polls_while_pending_and_stops_when_graded(client, student, run) -> None:  # type: ignore[no-untyped-def]
    client.force_login(student)
    url = reverse("lab:run-status", args=[run.pk])
    pending = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 500ms"' in pending and "Queued" in pending

    services.run_finish(run=services.run_claim(run_id=run.pk), report=REPORT)
    done = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in done  # the swapped-in fragment no longer polls
    assert 'data-verdict="failed"' in done and "recurrence" in done
    assert "&lt;b&gt;it differed&lt;/b&gt;" in done  # messages are escaped, never rendered as markup
    assert "<script>alert(1)</script>" not in done


def test_a_run_given_back_after_a_fault_tells_the_student_it_is_retried(client, student, run) -> None:  # type: ignore[no-untyped-def]
    """A grading interrupted on the server goes back to the queue: the student reads that it is being retried,
    never that their code was killed; the final internal_error says the same, and that it is not counted."""
    client.force_login(student)
    url = reverse("lab:run-status", args=[run.pk])
    first = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "interrupted on the server" not in first  # a fresh run is simply queued

    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None and services.run_release(run=claimed)
    again = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Grading was interrupted on the server; it is being retried." in again
    assert 'hx-trigger="every 500ms"' in again  # still polling for the retry's verdict

    claimed = services.run_claim(run_id=run.pk)
    assert claimed is not None and services.run_give_up(
        run=claimed, reason="the runner was killed from outside"
    )
    done = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'data-verdict="internal_error"' in done and "is not counted" in done
    assert "killed by" not in done.replace("killed from outside", "")


def test_another_student_cannot_see_the_run(client, run) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_create(username="bob"))
    assert client.get(reverse("lab:run", args=[run.pk])).status_code == 404
    assert client.get(reverse("lab:run-status", args=[run.pk])).status_code == 404


def test_an_instructor_can_see_the_run(client, instructor, run) -> None:  # type: ignore[no-untyped-def]
    client.force_login(instructor)
    assert client.get(reverse("lab:run", args=[run.pk])).status_code == 200


PLOT = {
    "kind": "cost",
    "title": "Work of update over the first n steps of one sequence",
    "x_label": "steps n",
    "y_label": "cost",
    "log": True,
    "series": [{"name": "tensor elements", "x": [64.0, 128.0], "y": [10.0, 40.0], "style": "solid"}],
}


def test_a_check_plot_is_drawn_as_svg_for_the_owner_only(client, student, run) -> None:  # type: ignore[no-untyped-def]
    report = {**REPORT, "checks": [{**REPORT["checks"][0], "plot": PLOT}]}  # type: ignore[dict-item]
    services.run_finish(run=services.run_claim(run_id=run.pk), report=report)
    client.force_login(student)
    page = client.get(reverse("lab:run", args=[run.pk])).content.decode()
    url = reverse("lab:run-plot", args=[run.pk, "recurrence"])
    assert f'src="{url}"' in page and f'alt="{PLOT["title"]}"' in page
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert "<svg" in response.content.decode() and "default-src 'none'" in response["Content-Security-Policy"]
    assert client.get(reverse("lab:run-plot", args=[run.pk, "purity"])).status_code == 404  # no such plot
    client.force_login(user_create(username="bob"))
    assert client.get(url).status_code == 404


def test_a_grading_interrupted_on_the_server_is_retried_then_stored_as_internal_error(
    run, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """JobInterrupted (a job killed from outside, twice) reaches the task as a GraderError: the run is given back
    and the task retried, each try a fresh claim; when the retries run out, internal_error, never a verdict on
    the code (the task runs eagerly here: each retry runs at once, in this process)."""
    from graders.sandbox.outcome import JobInterrupted

    tries: list[int] = []

    def interrupted(*, run: GradingRun) -> dict:  # type: ignore[type-arg]
        tries.append(run.attempt)
        raise JobInterrupted(
            "the process running the submission was killed by SIGKILL from outside its sandbox"
        )

    monkeypatch.setattr(services, "run_grade", interrupted)
    grade_run.apply(args=[run.pk])
    final = GradingRun.objects.get(pk=run.pk)
    assert tries == [1, 2, 3, 4]  # the first try and grade_run's max_retries (3), each a new claim
    assert (final.status, final.verdict) == ("finished", "internal_error")
    assert final.score in (None, 0)
    messages = [check["message"] for check in (final.report or {}).get("checks", [])]
    assert messages and all(
        "interrupted on the server" in m and "not a verdict on your code" in m for m in messages
    )
    assert all("SIGKILL from outside" in m for m in messages)  # the reason, for whoever reads the report


# --- results students understand (issue 19, item 5) -----------------------------------------------------------

COUNTEREXAMPLE = 'With d = 1, after k_0 = [0], v_0 = [0]; k_1 = [0], v_1 = [1], your memory\'s "v" is [1] but it should be [0.5].'
GRADED = {  # the shapes of a real report: fix-the-recurrence's wrong/divide_by_i.py
    **REPORT,
    "verdict": "runtime_error",
    "checks": [
        {"id": "interface", "passed": True, "points": 10.0, "max_points": 10.0, "message": "Defines `init_memory`.",
         "counterexample": None, "hidden": False},
        {"id": "correctness", "passed": False, "points": 0.0, "max_points": 40.0,
         "message": f"Your memory differs from the reference at step 1. {COUNTEREXAMPLE} (The grader shrank it.)",
         "counterexample": {"text": COUNTEREXAMPLE, "step": 1}, "hidden": False},
        {"id": "recurrence", "passed": True, "points": 0.0, "max_points": 25.0,
         "message": "Mem_i depends only on Mem_{i-1} and (k_i, v_i). (No points yet: properties count once "
                    "correctness passes.)", "counterexample": None, "hidden": False},
        {"id": "step_cost", "passed": False, "points": 0.0, "max_points": 10.0,
         "message": "Not judged because the outputs are wrong (see correctness).", "counterexample": None,
         "hidden": False},
        {"id": "purity", "passed": False, "points": 0.0, "max_points": 15.0,
         "message": "`update` raised <script>x</script> from Mem_3", "counterexample": None, "hidden": False},
    ],
}  # fmt: skip


def _check(page: str, check_id: str) -> str:
    start = page.index(f'data-check="{check_id}"')
    return page[start : page.index("</li>", start)]


def test_report_checks_mark_only_a_scored_pass_with_a_tick() -> None:
    from apps.lab.selectors import report_checks

    lines = {c.id: c for c in report_checks(GRADED)}
    assert [lines[i].mark for i in ("interface", "correctness", "recurrence", "step_cost", "purity")] == [
        "passed", "failed", "unscored", "skipped", "failed"
    ]  # fmt: skip
    assert lines["step_cost"].state == "not judged"
    assert lines["recurrence"].note == "No points yet: properties count once correctness passes."
    assert "No points yet" not in lines["recurrence"].message
    assert COUNTEREXAMPLE not in lines["correctness"].message  # once: in its box
    assert lines["correctness"].counterexample == COUNTEREXAMPLE
    assert (
        lines["correctness"].message
        == "Your memory differs from the reference at step 1. (The grader shrank it.)"
    )
    ran_false = report_checks(
        {"checks": [{**GRADED["checks"][4], "ran": False, "message": "runs on submit"}]}
    )  # type: ignore[index]
    assert ran_false[0].mark == "skipped"


def test_verdicts_read_as_words_on_every_badge() -> None:
    from apps.lab.selectors import VERDICT_LABELS, verdict_label
    from graders import report

    assert verdict_label("runtime_error") == "Runtime error"
    for verdict in report.VERDICTS:  # every verdict the grader can give has its words
        assert verdict in VERDICT_LABELS and "_" not in verdict_label(verdict)


def test_messages_render_code_and_math_and_stay_escaped() -> None:
    from apps.course.templatetags.memlab_results import render_message

    html = str(render_message("`update` left Mem_{i-1} and k_3 alone; step_cost <b>x</b> `a<b`"))
    assert "<code>update</code>" in html and "<code>a&lt;b</code>" in html
    assert r'<span class="math">\(\mathrm{Mem}_{i-1}\)</span>' in html
    assert r'<span class="math">\(k_{3}\)</span>' in html
    assert "step_cost" in html and "&lt;b&gt;x&lt;/b&gt;" in html and "<b>" not in html


def test_the_run_page_shows_honest_marks_words_code_and_the_diff_link(client, student, run) -> None:  # type: ignore[no-untyped-def]
    services.run_finish(run=services.run_claim(run_id=run.pk), report=GRADED)
    client.force_login(student)
    page = client.get(reverse("lab:run", args=[run.pk])).content.decode()
    assert ">Runtime error<" in page and "RUNTIMEERROR" not in page
    assert "✓" in _check(page, "interface")
    for check_id in ("correctness", "recurrence", "step_cost", "purity"):
        assert "✓" not in _check(page, check_id), check_id
    assert "✗" in _check(page, "correctness") and "not judged" in _check(page, "step_cost")
    assert "passed, no points" in _check(page, "recurrence") and "No points yet" in _check(page, "recurrence")
    assert page.count("should be [0.5]") == 1  # the counterexample once
    assert "<code>update</code>" in page and "&lt;script&gt;" in page and "<script>x" not in page
    assert "data-code-editor readonly" in page and "x = 1" in page  # the code that was graded
    assert "nothing earlier to compare with" in page  # the first attempt

    second = services.submission_create(user=student, exercise=run.submission.exercise, source="y = 2\n")
    page = client.get(reverse("lab:run", args=[second.runs.get().pk])).content.decode()
    assert f'href="{reverse("lab:submission-diff", args=[second.pk])}" data-diff-link' in page


def test_the_list_of_submissions_comes_with_a_new_run_and_with_its_verdict(client, student, run) -> None:  # type: ignore[no-untyped-def]
    client.force_login(student)
    url = reverse("lab:run-status", args=[run.pk])
    polled = client.get(url + "?history=1", headers={"HX-Request": "true"}).content.decode()
    assert "submission-history" not in polled  # not re-sent while the run waits
    assert f'hx-get="{url}?history=1"' in polled  # it keeps polling for the exercise page

    services.run_finish(run=services.run_claim(run_id=run.pk), report=GRADED)
    done = client.get(url + "?history=1", headers={"HX-Request": "true"}).content.decode()
    assert 'id="submission-history"' in done and 'hx-swap-oob="outerHTML"' in done
    history = done[done.index('id="submission-history"') :]
    assert f'data-run="{run.pk}"' in history and ">Runtime error<" in history
    alone = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "submission-history" not in alone  # the run page has no list to update


def test_a_submission_made_with_htmx_brings_the_list_with_it(
    client, student, synced_course, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda *a, **k: None)
    client.force_login(student)
    response = client.post(
        reverse("lab:submit", args=["cumulative-average-memory"]),
        {"code": Exercise.objects.get(slug="cumulative-average-memory").starter},
        headers={"HX-Request": "true"},
    ).content.decode()
    run = GradingRun.objects.get(submission__user=student)
    assert 'hx-swap-oob="outerHTML"' in response and f'data-run="{run.pk}"' in response
    assert ">Queued<" in response
