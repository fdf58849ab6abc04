"""The gradebook as CSV, in the shape Canvas's gradebook import reads (Moodle maps the same columns by hand).

Canvas: the first columns are Student, ID, SIS User ID, SIS Login ID, Section; then one column per assignment; a
"Points Possible" row right under the header. Moodle's CSV import matches users on a column (here "SIS Login ID",
the username, or "Email") and lets the teacher map each grade column.
"""

from __future__ import annotations

import csv
import io

from apps.grades.selectors import Gradebook

HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Email", "Section"]


def _cell(text: str) -> str:
    """Spreadsheets execute a cell that starts with = + - @ (CSV injection): such text gets a leading quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def gradebook_csv(book: Gradebook) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER + [f"{c.title} ({c.key})" for c in book.columns] + ["Total"])
    writer.writerow(
        ["Points Possible", "", "", "", "", ""]
        + [f"{c.points:g}" for c in book.columns]
        + [f"{book.points:g}"]
    )
    for row in book.rows:
        s = row.student
        name = _cell(f"{s.last_name}, {s.first_name}" if s.last_name else s.get_full_name() or s.username)
        ident = [name, str(s.pk), _cell(s.username), _cell(s.username), _cell(s.email), "memlab"]
        writer.writerow(ident + ["" if v is None else f"{v:g}" for v in row.cells] + [f"{row.total:g}"])
    return out.getvalue()
