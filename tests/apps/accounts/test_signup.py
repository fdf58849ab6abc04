"""Registration: a student account, logged in at once; bad input is explained and creates nothing."""

from __future__ import annotations

from django.urls import reverse

from apps.accounts.models import User


def test_a_new_student_signs_up_and_is_logged_in(client, db) -> None:  # type: ignore[no-untyped-def]
    data = {
        "username": "newbie",
        "email": "n@example.org",
        "password1": "a-Long-pass-2026",
        "password2": "a-Long-pass-2026",
    }
    response = client.post(reverse("accounts:signup"), data)
    assert response.status_code == 302 and response["Location"] == reverse("course:home")
    user = User.objects.get(username="newbie")
    assert user.role == User.Role.STUDENT and not user.is_instructor and not user.is_staff
    assert client.get(reverse("course:home")).status_code == 200  # the session is logged in


def test_mismatched_or_weak_passwords_are_explained_and_nothing_is_created(client, db) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        reverse("accounts:signup"), {"username": "x", "password1": "abc", "password2": "abd"}
    )
    assert response.status_code == 400 and "didn’t match" in response.content.decode()
    assert not User.objects.filter(username="x").exists()


def test_a_role_field_cannot_be_smuggled_in(client, db) -> None:  # type: ignore[no-untyped-def]
    data = {
        "username": "sly",
        "password1": "a-Long-pass-2026",
        "password2": "a-Long-pass-2026",
        "role": "instructor",
    }
    client.post(reverse("accounts:signup"), data)
    assert User.objects.get(username="sly").role == User.Role.STUDENT
