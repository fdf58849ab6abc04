from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.quiz import kinds
from apps.quiz.credit import DEFAULT_MAX_ATTEMPTS, default_credit


class QuestionQuerySet(models.QuerySet["Question"]):
    def published(self) -> QuestionQuerySet:
        """Questions published themselves; a student sees one only on a published concept too
        (``apps.quiz.selectors.questions_visible``)."""
        return self.filter(published=True)


class Question(models.Model):
    """A conceptual question attached to a concept, with the explanation shown after answering."""

    slug = models.SlugField(max_length=120, unique=True)
    # by name: quiz sits below course and imports none of it (the layers in pyproject.toml)
    concept = models.ForeignKey("course.Concept", on_delete=models.CASCADE, related_name="questions")
    # The registry's names, read when asked (a callable): a new kind needs no migration.
    kind = models.CharField(max_length=32, choices=kinds.choices)
    stem = models.TextField(help_text="Markdown with math.")
    choices = models.JSONField(
        default=list,
        blank=True,
        help_text="Choice texts; for an ordering question, the items in the right order.",
    )
    answer = models.JSONField(
        default=dict, blank=True, help_text='{"value": true}, {"choice": 2}, {"value": 0.5, "rtol": 1e-3} …'
    )
    generator = models.CharField(
        max_length=64, blank=True, help_text="apps.quiz.generators name of a randomized question."
    )
    variants = models.JSONField(
        default=list,
        blank=True,
        help_text="Randomized versions, computed by the reference at sync: [{vars: {...}, answer: {...}}].",
    )
    explanation = models.TextField(
        help_text="Markdown shown after a correct answer, a give-up, or the last attempt (the worked answer)."
    )
    feedback = models.JSONField(
        default=list, blank=True, help_text="Per choice, shown when a student picks it ('' for none)."
    )
    max_attempts = models.PositiveIntegerField(
        null=True, blank=True, default=DEFAULT_MAX_ATTEMPTS, help_text="Attempts allowed; empty: unlimited."
    )
    credit = models.JSONField(
        default=default_credit, blank=True, help_text="Share of the question each attempt earns, in order."
    )
    position = models.PositiveIntegerField(default=0)
    published = models.BooleanField(default=False, help_text="Students see published items only.")

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["position", "slug"]

    def __str__(self) -> str:
        return self.slug


class Attempt(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="attempts")
    response = models.JSONField()
    variant = models.PositiveIntegerField(null=True, blank=True, help_text="Index into question.variants.")
    correct = models.BooleanField()
    gave_up = models.BooleanField(default=False, help_text="'Show the answer': this variant scores nothing.")
    number = models.PositiveIntegerField(
        null=True, blank=True, help_text="1 for a student's first attempt, …"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "question", "-created_at"])]
        constraints = [  # two tabs posting the same attempt: one is stored
            models.UniqueConstraint(
                fields=["user", "question", "number"], name="quiz_attempt_once_per_number"
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.pk} on {self.question_id} ({'correct' if self.correct else 'wrong'})"
