from __future__ import annotations

from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from apps.accounts.decorators import instructor_required
from apps.lab import authoring, drafts, practice, selectors, services
from apps.lab.diffs import source_diff
from apps.lab.forms import MAX_REQUEST_BYTES, SubmissionForm, rate_limit_message, too_large_message
from apps.lab.models import Exercise, GradingRun, PracticeRun, Submission


def _exercise_page(
    request: HttpRequest, exercise: Exercise, form: SubmissionForm, **extra: object
) -> HttpResponse:
    hints, to_next = selectors.unlocked_hints(user=request.user, exercise=exercise)
    context = {
        "exercise": exercise,
        "form": form,
        "submissions": selectors.submission_list(user=request.user, exercise=exercise),
        "hints": hints,
        "hints_total": len(exercise.spec.get("hints", [])),
        "to_next_hint": to_next,
        "deadline_passed": exercise.deadline is not None and timezone.now() > exercise.deadline,
        **extra,
    }
    return render(request, "lab/exercise_detail.html", context, status=400 if form.errors else 200)


def _visible_exercise(request: HttpRequest, slug: str) -> Exercise:
    """The exercise if this visitor may see it (a student: published, in a published concept), else a 404."""
    try:
        return selectors.exercise_get_visible(slug=slug, user=request.user)
    except Exercise.DoesNotExist as exc:
        raise Http404("No such exercise.") from exc


@login_required
def exercise_detail(request: HttpRequest, slug: str) -> HttpResponse:
    exercise = _visible_exercise(request, slug)
    form = SubmissionForm(initial={"code": selectors.latest_source(user=request.user, exercise=exercise)})
    return _exercise_page(request, exercise, form)


def _rejected(request: HttpRequest, exercise: Exercise, form: SubmissionForm) -> HttpResponse:
    if request.htmx:  # only the feedback under the editor changes (a 200: htmx 2 does not swap 4xx)
        response = render(request, "lab/exercise_detail.html#submit-feedback", {"form": form})
        return reswap(retarget(response, "#submit-feedback"), "outerHTML")
    return _exercise_page(request, exercise, form)


@csrf_exempt  # the size guard runs before anything reads the body; CSRF is checked right after it
@login_required
@require_POST
def exercise_submit(request: HttpRequest, slug: str) -> HttpResponse:
    exercise = _visible_exercise(request, slug)
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > MAX_REQUEST_BYTES:  # refuse a 10 MB body without reading it; nothing is stored
        return _rejected(request, exercise, SubmissionForm.refused(too_large_message(declared)))
    return _submit(request, exercise)


@csrf_protect
def _submit(request: HttpRequest, exercise: Exercise) -> HttpResponse:
    wait = selectors.rate_limit_wait(user=request.user, exercise=exercise, now=timezone.now())
    if wait:  # nothing is stored and the attempt is not counted
        return _rejected(request, exercise, SubmissionForm.refused(rate_limit_message(wait)))
    form = SubmissionForm(request.POST, request.FILES, spec=exercise.spec)
    if not form.is_valid():
        return _rejected(request, exercise, form)
    submission = services.submission_create(
        user=request.user, exercise=exercise, source=form.cleaned_data["source"]
    )
    run = submission.runs.get()
    if request.htmx:  # the status under the editor, and the list of submissions with this one on top
        return render(
            request, "lab/run_detail.html#status", _status_context(request, run, history=True, listed=True)
        )
    return redirect("lab:run", run_id=run.pk)


@csrf_exempt  # as exercise_submit: the size guard first, CSRF right after it
@login_required
@require_POST
def exercise_practice(request: HttpRequest, slug: str) -> HttpResponse:
    """Run on examples: the code on the visible cases only, no attempt charged (apps.lab.practice)."""
    exercise = _visible_exercise(request, slug)
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > MAX_REQUEST_BYTES:
        return _rejected(request, exercise, SubmissionForm.refused(too_large_message(declared)))
    return _practice(request, exercise)


@csrf_protect
def _practice(request: HttpRequest, exercise: Exercise) -> HttpResponse:
    wait = practice.rate_limit_wait(user=request.user, exercise=exercise, now=timezone.now())
    if wait:
        return _rejected(request, exercise, SubmissionForm.refused(practice.rate_limit_message(wait)))
    form = SubmissionForm(request.POST, request.FILES, spec=exercise.spec)
    if not form.is_valid():
        return _rejected(request, exercise, form)
    run = practice.practice_create(user=request.user, exercise=exercise, source=form.cleaned_data["source"])
    if request.htmx:
        return render(request, "lab/practice.html#status", {"practice": run})
    return redirect("lab:practice", practice_id=run.pk)


@login_required
@require_POST
def exercise_draft(request: HttpRequest, slug: str) -> HttpResponse:
    """Save the editor's code as the student types (memlab.js posts it a second after the last change)."""
    exercise = _visible_exercise(request, slug)
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_REQUEST_BYTES:
        return HttpResponse(status=413)
    try:
        drafts.draft_save(user=request.user, exercise=exercise, source=request.POST.get("code", ""))
    except drafts.DraftTooLarge as exc:
        return HttpResponse(str(exc), status=413)
    return HttpResponse(status=204)


@login_required
def practice_detail(request: HttpRequest, practice_id: int) -> HttpResponse:
    run = get_object_or_404(PracticeRun, pk=practice_id, user=request.user)  # one's own runs only
    template = "lab/practice.html#status" if request.htmx else "lab/practice.html"
    return render(request, template, {"practice": run, "stale": practice.is_stale(run)})


def _visible_run(request: HttpRequest, run_id: int) -> GradingRun:
    try:
        return selectors.run_get_visible(run_id=run_id, user=request.user)
    except GradingRun.DoesNotExist as exc:
        raise Http404("No such grading run.") from exc


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """A run's report, and the code it graded with a link to what changed since the attempt before."""
    run = _visible_run(request, run_id)
    previous = selectors.previous_submission(submission=run.submission)
    return render(request, "lab/run_detail.html", {"run": run, "previous": previous})


def _status_context(
    request: HttpRequest, run: GradingRun, *, history: bool, listed: bool = False
) -> dict[str, object]:
    """The status fragment. On the exercise page (``history``) it polls with ?history=1; when the run is created
    (``listed``) or graded it also carries the student's submissions, swapped in out of band, so the list
    under the editor shows the new verdict without a reload (and is not re-sent at every poll)."""
    context: dict[str, object] = {"run": run, "history": history}
    if history and (listed or not run.is_pending):
        exercise = run.submission.exercise
        context["submissions"] = selectors.submission_list(user=request.user, exercise=exercise)
        context["oob_history"] = True
    return context


@instructor_required
def exercise_regrade(request: HttpRequest, slug: str) -> HttpResponse:
    """Instructors: regrade every submission of the exercise (POST), and watch the batches' progress."""
    exercise = get_object_or_404(Exercise, slug=slug)
    if request.method == "POST":
        services.regrade_create(exercise=exercise, by=request.user)  # type: ignore[arg-type]
        return redirect("lab:regrade", slug=slug)
    batches = [selectors.regrade_progress(batch=b) for b in exercise.regrades.all()[:10]]
    template = "lab/regrade.html#batches" if request.htmx else "lab/regrade.html"
    return render(request, template, {"exercise": exercise, "batches": batches})


@instructor_required
def exercise_validate(request: HttpRequest, slug: str) -> HttpResponse:
    """Instructors: validate the exercise through the workers (POST) and see the mutation score."""
    exercise = get_object_or_404(Exercise, slug=slug)
    if request.method == "POST":
        services.validation_create(exercise=exercise, by=request.user)  # type: ignore[arg-type]
        return redirect("lab:validate", slug=slug)
    validations = list(exercise.validations.all()[:5])
    template = "lab/validate.html#validations" if request.htmx else "lab/validate.html"
    return render(request, template, {"exercise": exercise, "validations": validations})


@instructor_required
def exercise_submissions(request: HttpRequest, slug: str) -> HttpResponse:
    """Instructors: every submission of the exercise, each run's verdict linking to its report."""
    exercise = get_object_or_404(Exercise, slug=slug)
    submissions = selectors.exercise_submissions(exercise=exercise)
    return render(
        request, "lab/exercise_submissions.html", {"exercise": exercise, "submissions": submissions}
    )


@instructor_required
def exercise_edit(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """Instructors: write a new exercise (or change one) in the browser; saved only if the grader accepts it."""
    exercise = get_object_or_404(Exercise, slug=slug) if slug else None
    spec = exercise.spec if exercise else None
    texts = {name: (spec or {}).get(name, "") for name in authoring.TEXTS}
    spec_text, problems = authoring.spec_yaml(spec), []
    if request.method == "POST":
        spec_text = request.POST.get("spec", "")
        texts = {name: request.POST.get(name, "") for name in authoring.TEXTS}
        built, problems = authoring.build_spec(spec_text, texts)
        if built is not None and exercise is None and Exercise.objects.filter(slug=built["slug"]).exists():
            problems = [f"An exercise with the slug {built['slug']!r} exists already: choose another."]
        if built is not None and exercise is not None and built["slug"] != exercise.slug:
            problems = ["The slug of an existing exercise cannot change (submissions refer to it)."]
        deadline, deadline_problem = _deadline(request.POST.get("deadline", ""))
        problems = problems + ([deadline_problem] if deadline_problem else [])
        if not problems and built is not None:
            ticked = request.POST.get("published") == "on"
            saved = services.exercise_save(spec=built, deadline=deadline, published=ticked)
            services.validation_create(exercise=saved, by=request.user)  # type: ignore[arg-type]
            return redirect("lab:validate", slug=saved.slug)
    posted = request.method == "POST"
    deadline_text = request.POST.get("deadline", "") if posted else _local(exercise)
    published = request.POST.get("published") == "on" if posted else bool(exercise and exercise.published)
    context = {
        "exercise": exercise,
        "spec_text": spec_text,
        "texts": texts,
        "problems": problems,
        "deadline": deadline_text,
        "published": published,
    }
    return render(request, "lab/exercise_edit.html", context, status=400 if problems else 200)


@instructor_required
@require_POST
def exercise_publish(request: HttpRequest, slug: str) -> HttpResponse:
    """Instructors: publish (``published=1``) or unpublish the exercise in one click, back to its editor."""
    exercise = get_object_or_404(Exercise, slug=slug)
    services.exercise_set_published(exercise=exercise, published=request.POST.get("published") == "1")
    return redirect("lab:exercise-edit", slug=slug)


def _deadline(text: str) -> tuple[datetime | None, str]:
    """A ``datetime-local`` value in the site's time zone (empty: no deadline)."""
    if not text.strip():
        return None, ""
    try:
        return timezone.make_aware(datetime.fromisoformat(text.strip())), ""
    except ValueError:
        return None, f"The deadline {text[:40]!r} is not a date and time like 2026-12-01T23:59."


def _local(exercise: Exercise | None) -> str:
    if exercise is None or exercise.deadline is None:
        return ""
    return timezone.localtime(exercise.deadline).strftime("%Y-%m-%dT%H:%M")


@instructor_required
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """Instructors: the statement as students will see it (htmx; KaTeX renders the math after the swap)."""
    return render(request, "lab/markdown_preview.html", {"text": request.POST.get("statement", "")})


@login_required
def submission_diff(request: HttpRequest, submission_id: int) -> HttpResponse:
    """What changed since the same student's previous attempt at the exercise."""
    try:
        submission = selectors.submission_get_visible(submission_id=submission_id, user=request.user)
    except Submission.DoesNotExist as exc:
        raise Http404("No such submission.") from exc
    previous = selectors.previous_submission(submission=submission)
    lines = (
        source_diff(previous.source, submission.source, before_name="previous", after_name="this")
        if previous is not None
        else []
    )
    context = {"submission": submission, "previous": previous, "lines": lines}
    return render(request, "lab/submission_diff.html", context)


@login_required
def run_plot(request: HttpRequest, run_id: int, check_id: str) -> HttpResponse:
    """The plot a check of the run's report carries, drawn as SVG (only for someone who may see the run)."""
    svg = services.run_plot_svg(run=_visible_run(request, run_id), check_id=check_id)
    if svg is None:
        raise Http404("This check has no plot.")
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["Cache-Control"] = "private, max-age=3600"  # a finished report never changes
    return response


@login_required
def run_status(request: HttpRequest, run_id: int) -> HttpResponse:
    """The self-polling fragment: it polls while the run is pending and stops once the report is in."""
    run, history = _visible_run(request, run_id), request.GET.get("history") == "1"  # from the exercise page
    return render(request, "lab/run_detail.html#status", _status_context(request, run, history=history))
