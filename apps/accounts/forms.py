from __future__ import annotations

from django.contrib.auth.forms import UserCreationForm

from apps.accounts.models import User


class SignupForm(UserCreationForm):  # type: ignore[type-arg]
    """A student account: username, optional e-mail, password twice (Django's password validators apply)."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
