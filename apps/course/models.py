from __future__ import annotations

from django.db import models


class ConceptQuerySet(models.QuerySet["Concept"]):
    def published(self) -> ConceptQuerySet:
        """The concepts students may see (who sees what is decided in ``apps.course.selectors``)."""
        return self.filter(published=True)


class Concept(models.Model):
    """A concept card: one idea of the module, with its place in the Learn-before/after graph."""

    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    body = models.TextField(help_text="Markdown with $…$ and $$…$$ math.")
    tags = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)
    # False for anything new written in the browser; the course files are the published course (``published:``)
    published = models.BooleanField(default=False, help_text="Students see published items only.")
    learn_before = models.ManyToManyField(
        "self", symmetrical=False, related_name="learn_after", blank=True, help_text="Prerequisites."
    )
    related = models.ManyToManyField("self", symmetrical=True, blank=True)
    figures = models.JSONField(
        default=list,
        blank=True,
        help_text="Drawn from the reference at sync time (apps.course.figures): [{svg, alt, caption}].",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConceptQuerySet.as_manager()

    class Meta:
        ordering = ["position", "title"]

    def __str__(self) -> str:
        return self.title
