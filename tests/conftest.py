from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONTENT_DIR = REPO / "content"


@pytest.fixture
def content_dir() -> Path:
    return CONTENT_DIR


@pytest.fixture
def synced_course(db: None) -> None:
    """The real course files, synced into the test database."""
    from apps.content.services import course_sync

    course_sync(content_dir=CONTENT_DIR)


@pytest.fixture
def student(db: None):  # type: ignore[no-untyped-def]
    from tests.support.factories import user_create

    return user_create(username="alice")


@pytest.fixture
def logged_in(client, student, synced_course):  # type: ignore[no-untyped-def]
    """The Django test client, logged in as a student, on the synced course."""
    client.force_login(student)
    return client


@pytest.fixture
def instructor(db: None):  # type: ignore[no-untyped-def]
    from apps.accounts.models import User
    from tests.support.factories import user_create

    return user_create(username="prof", role=User.Role.INSTRUCTOR)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`pg` tests run in the PostgreSQL pass of `make test` (DATABASE_URL=postgres://…); elsewhere they skip."""
    if not any("pg" in item.keywords for item in items):
        return  # nothing to mark, and Django need not be importable (the reference tests on a GPU box)
    from django.conf import settings

    from tests.support.services import IN_CI, reachable

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    pg_up = (
        reachable(settings.DATABASES["default"].get("HOST") or "127.0.0.1", 5432) if on_postgres else False
    )
    for item in items:
        if "pg" not in item.keywords:
            continue
        if not on_postgres:
            item.add_marker(
                pytest.mark.skip(
                    reason="runs in the PostgreSQL pass: make test-pg (DATABASE_URL=postgres://…)"
                )
            )
        elif not pg_up and not IN_CI:
            item.add_marker(
                pytest.mark.skip(
                    reason="PostgreSQL is not reachable; start it to run this test (in CI this fails)"
                )
            )
