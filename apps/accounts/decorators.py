"""Access to instructor pages: log in first, then a 404 for anyone who is not an instructor (a student learns
nothing, not even that the page exists)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def instructor_required(view: View) -> View:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_instructor:  # type: ignore[union-attr]
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return login_required(wrapped)
