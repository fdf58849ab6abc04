from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.content.services import course_sync
from apps.course.content_files import ContentError


class Command(BaseCommand):
    help = "Sync the course files (content/) into the database. Idempotent; a broken file changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--content", type=Path, default=settings.CONTENT_DIR, help="course folder")

    def handle(self, *args: Any, **options: Any) -> None:
        verbose = options["verbosity"] >= 2
        try:
            counts = course_sync(
                content_dir=options["content"],
                progress=(lambda msg: self.stdout.write(f"  {msg}")) if verbose else (lambda _: None),
            )
        except ContentError as exc:
            raise CommandError(f"{exc}\nNothing was changed.") from exc
        summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing to do"
        self.stdout.write(self.style.SUCCESS(f"Course synced from {options['content']}: {summary}."))
