from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.course.models import Concept


class Question(models.Model):
    """A conceptual question attached to a concept, with the explanation shown after answering."""

    class Kind(models.TextChoices):
        TRUE_FALSE = "true_false", "True / false"
        SINGLE_CHOICE = "single_choice", "Single choice"

    slug = models.SlugField(max_length=120, unique=True)
    concept = models.ForeignKey(Concept, on_delete=models.CASCADE, related_name="questions")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    stem = models.TextField(help_text="Markdown with math.")
    choices = models.JSONField(default=list, blank=True, help_text="Choice texts (single choice).")
    answer = models.JSONField(help_text='{"value": true} or {"choice": 2}.')
    explanation = models.TextField(help_text="Markdown shown after any answer.")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.slug


class Attempt(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="attempts")
    response = models.JSONField()
    correct = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "question", "-created_at"])]

    def __str__(self) -> str:
        return f"attempt {self.pk} on {self.question_id} ({'correct' if self.correct else 'wrong'})"
