from __future__ import annotations

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.accounts.forms import SignupForm


def signup(request: HttpRequest) -> HttpResponse:
    """Create a student account and log it in. Instructors are made by an administrator, never here."""
    if request.user.is_authenticated:
        return redirect("course:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()  # role: the model's default, student
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("course:home")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)
