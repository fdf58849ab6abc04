import pytest


@pytest.mark.django_db
def test_healthz_reports_the_database(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_the_operator_health_page_names_database_broker_and_workers(client, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from config.celery import app
    from tests.support.factories import user_create

    client.force_login(user_create(username="prof", role="instructor"))
    monkeypatch.setattr(app.control, "ping", lambda timeout: [])
    down = client.get("/health")
    assert down.status_code == 503 and down.json()["workers"] == [] and down.json()["database"] == "ok"
    monkeypatch.setattr(app.control, "ping", lambda timeout: [{"celery@w1": {"ok": "pong"}}])
    up = client.get("/health").json()
    assert up == {"status": "ok", "web": "ok", "database": "ok", "broker": "ok", "workers": ["celery@w1"]}
    client.logout()
    assert client.get("/health").status_code == 404  # not for anonymous visitors
