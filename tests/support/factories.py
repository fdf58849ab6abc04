"""Small factories: objects built in one line, with sensible defaults a test can override."""

from __future__ import annotations

import itertools
from typing import Any

from apps.accounts.models import User

_seq = itertools.count(1)


def user_create(*, role: str = User.Role.STUDENT, password: str = "pw-for-tests", **fields: Any) -> User:
    n = next(_seq)
    user = User(username=fields.pop("username", f"user{n}"), role=role, **fields)
    user.set_password(password)
    user.save()
    return user
