from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.grades.analytics import MIN_STUDENTS, item_stats
from apps.grades.export import gradebook_csv
from apps.grades.selectors import gradebook


def _instructor_only(request: HttpRequest) -> None:
    if not request.user.is_instructor:  # type: ignore[union-attr]
        raise Http404("No such page.")  # a student learns nothing, not even that the page exists


@login_required
def gradebook_page(request: HttpRequest) -> HttpResponse:
    _instructor_only(request)
    return render(request, "grades/gradebook.html", {"book": gradebook()})


@login_required
def gradebook_export(request: HttpRequest) -> HttpResponse:
    _instructor_only(request)
    response = HttpResponse(gradebook_csv(gradebook()), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="memlab-gradebook-{stamp}.csv"'
    return response


@login_required
def item_analytics(request: HttpRequest) -> HttpResponse:
    _instructor_only(request)
    return render(request, "grades/analytics.html", {"items": item_stats(), "min_students": MIN_STUDENTS})
