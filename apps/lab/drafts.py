"""Drafts: the student's code saved as they type, so a reload or a closed tab loses nothing."""

from __future__ import annotations

from apps.accounts.models import User
from apps.lab.forms import MAX_SOURCE_BYTES
from apps.lab.models import Draft, Exercise


class DraftTooLarge(ValueError):
    """A draft over the submission limit is refused (it could never be submitted either)."""


def draft_save(*, user: User, exercise: Exercise, source: str) -> Draft:
    if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise DraftTooLarge(f"a draft holds at most {MAX_SOURCE_BYTES // 1024} KiB")
    draft, _ = Draft.objects.update_or_create(user=user, exercise=exercise, defaults={"source": source})
    return draft
