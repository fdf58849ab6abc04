"""/healthz: a cheap liveness and readiness probe for load balancers and docker compose."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:  # any database error means "not ready"; the type is reported, not the details
        database = f"error: {type(exc).__name__}"
    healthy = database == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "error", "database": database}, status=200 if healthy else 503
    )
