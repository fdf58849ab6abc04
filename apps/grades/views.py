from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from apps.accounts.decorators import instructor_required
from apps.accounts.models import User
from apps.grades.analytics import MIN_STUDENTS, item_stats
from apps.grades.charts import histogram_svg
from apps.grades.exercise_stats import all_exercise_stats, exercise_stats
from apps.grades.export import gradebook_csv
from apps.grades.selectors import STATUS_LABELS, gradebook
from apps.grades.student import student_record
from apps.grades.table import GROUPS, Query, table
from apps.lab.models import Exercise


@instructor_required
def gradebook_page(request: HttpRequest) -> HttpResponse:
    book = gradebook()
    shown = table(book, Query.parse(request.GET, book))
    context = {"book": book, "table": shown, "groups": GROUPS, "statuses": STATUS_LABELS}
    response = render(request, "grades/gradebook.html", context)
    if request.headers.get("HX-Request"):  # the address bar shows the view's short link, not every field
        response["HX-Push-Url"] = reverse("grades:gradebook") + shown.query.link(page=shown.query.page)
    return response


@instructor_required
def gradebook_export(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(gradebook_csv(gradebook()), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="memlab-gradebook-{stamp}.csv"'
    return response


@instructor_required
def student_page(request: HttpRequest, user_id: int) -> HttpResponse:
    student = get_object_or_404(User, pk=user_id, role=User.Role.STUDENT)
    return render(request, "grades/student.html", {"record": student_record(student=student)})


@instructor_required
def item_analytics(request: HttpRequest) -> HttpResponse:
    context = {"items": item_stats(), "exercises": all_exercise_stats(), "min_students": MIN_STUDENTS}
    return render(request, "grades/analytics.html", context)


@instructor_required
def exercise_analytics(request: HttpRequest, slug: str) -> HttpResponse:
    stats = exercise_stats(exercise=get_object_or_404(Exercise, slug=slug))
    return render(request, "grades/exercise.html", {"stats": stats})


@instructor_required
def exercise_scores_svg(request: HttpRequest, slug: str) -> HttpResponse:
    stats = exercise_stats(exercise=get_object_or_404(Exercise, slug=slug))
    svg = histogram_svg(stats.histogram, title="Best score per student", x_label="points", y_label="students")
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["Cache-Control"] = "private, no-cache"
    return response
