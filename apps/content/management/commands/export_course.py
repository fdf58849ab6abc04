from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.content.export import course_export


class Command(BaseCommand):
    help = "Write the course in the database back to files (the layout sync_course reads) under --out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True, help="folder to write (created if missing)")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = course_export(out=options["out"])
        summary = ", ".join(f"{n} {what}" for what, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Course exported to {options['out']}: {summary}."))
