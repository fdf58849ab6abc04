"""Parsing a submission: code typed in the editor, or a file. Only parsing and bounds — grading is elsewhere."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import ErrorDict

import graders
from apps.lab.selectors import SUBMISSIONS_PER_WINDOW

MAX_SOURCE_BYTES = 64 * 1024  # GRADING.md §1
# A request body above this cannot hold a valid submission (form fields and multipart framing included).
MAX_REQUEST_BYTES = 3 * MAX_SOURCE_BYTES


def _human(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KiB"


def too_large_message(size: int) -> str:
    return (
        f"Your submission is {_human(size)}; the limit is {_human(MAX_SOURCE_BYTES)}. "
        "A solution to this exercise fits in a few dozen lines."
    )


def rate_limit_message(wait_s: int) -> str:
    return (
        f"You have submitted {SUBMISSIONS_PER_WINDOW} times in the last minute: wait {wait_s} s before the next "
        "submission. Meanwhile, read the feedback of the last one: each check says what to look at."
    )


class SubmissionForm(forms.Form):
    code = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    upload = forms.FileField(required=False, label="…or upload a .py file")

    @classmethod
    def refused(cls, message: str) -> SubmissionForm:
        """A form carrying only an error, for a request whose body was never read (it was too large)."""
        form = cls()
        form.cleaned_data = {}
        form._errors = ErrorDict()
        form.add_error(None, message)
        return form

    def __init__(self, *args: Any, spec: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec = spec

    def clean_upload(self) -> str | None:
        upload = self.cleaned_data.get("upload")
        if upload is None:
            return None
        if upload.size > MAX_SOURCE_BYTES:
            raise forms.ValidationError(too_large_message(upload.size))
        raw = upload.read()
        try:
            return str(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise forms.ValidationError(
                f"Your file is not UTF-8 text: the byte at offset {exc.start} (0x{raw[exc.start]:02x}) cannot be "
                "decoded. Save the file as UTF-8 (most editors offer this under 'Encoding') and upload it again."
            ) from exc

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        uploaded = cleaned.get("upload")
        source = uploaded if isinstance(uploaded, str) else str(cleaned.get("code") or "")
        if self.errors:
            return cleaned
        if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
            raise forms.ValidationError(too_large_message(len(source.encode("utf-8"))))
        if not source.strip():
            raise forms.ValidationError("Your submission is empty. Write your functions in the editor first.")
        if "\x00" in source:
            raise forms.ValidationError(
                "Your submission contains a NUL character; remove it and submit again."
            )
        source = source.replace("\r\n", "\n")
        if self.spec is not None:  # syntax errors and missing functions: told now, nothing stored or queued
            rejection = graders.precheck(graders.ExerciseSpec.from_dict(self.spec), source.encode("utf-8"))
            if isinstance(rejection, graders.Rejection):
                raise forms.ValidationError(rejection.message)
        cleaned["source"] = source
        return cleaned
