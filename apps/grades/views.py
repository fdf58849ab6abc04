from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from apps.accounts.decorators import instructor_required
from apps.grades.analytics import MIN_STUDENTS, item_stats
from apps.grades.export import gradebook_csv
from apps.grades.selectors import gradebook


@instructor_required
def gradebook_page(request: HttpRequest) -> HttpResponse:
    return render(request, "grades/gradebook.html", {"book": gradebook()})


@instructor_required
def gradebook_export(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(gradebook_csv(gradebook()), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="memlab-gradebook-{stamp}.csv"'
    return response


@instructor_required
def item_analytics(request: HttpRequest) -> HttpResponse:
    return render(request, "grades/analytics.html", {"items": item_stats(), "min_students": MIN_STUDENTS})
