from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from apps.accounts.models import User


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    created: bool


@transaction.atomic
def demo_account_ensure(*, username: str, password: str, role: str) -> DemoAccount:
    """Create a demo account once; a second call leaves an existing account (and its password) alone."""
    user, created = User.objects.get_or_create(username=username, defaults={"role": role})
    if created:
        user.set_password(password)
        user.is_staff = role == User.Role.INSTRUCTOR
        user.save()
    return DemoAccount(username=username, password=password, role=user.role, created=created)
