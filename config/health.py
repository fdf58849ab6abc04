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


def _broker() -> str:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:  # unreachable broker, bad URL: reported by type
        return f"error: {type(exc).__name__}"


def _workers() -> list[str]:
    from config.celery import app

    try:
        replies = app.control.ping(timeout=1.0) or []
    except Exception:
        return []
    return sorted(name for reply in replies for name in reply)


def health(request: HttpRequest) -> JsonResponse:
    """The operator's view (instructors and staff): database, broker and the workers that answer a ping."""
    user = request.user
    if not (user.is_authenticated and (user.is_staff or getattr(user, "is_instructor", False))):
        return JsonResponse({"detail": "not found"}, status=404)
    database = healthz(request).status_code == 200
    broker = _broker()
    workers = _workers()
    ok = database and broker == "ok" and bool(workers)
    body = {
        "status": "ok" if ok else "degraded",
        "web": "ok",
        "database": "ok" if database else "error",
        "broker": broker,
        "workers": workers,
    }
    return JsonResponse(body, status=200 if ok else 503)
