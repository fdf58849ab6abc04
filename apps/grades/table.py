"""The gradebook as a page: which columns and rows a query shows, in which order, and which page of them.

Everything is read from the query string (a link to a view of the gradebook is the view, and the page works
without script). The rules, in the words the page uses:
- ``q`` keeps the students whose name, username or email contains it (any case);
- ``show`` picks the columns: ``all``, ``exercises``, ``questions`` or one column's key;
- ``status`` keeps the students whose status over the columns shown is that one: ``new`` when they started none,
  ``passed`` when they passed every one, ``attempted`` in between;
- ``sort`` is ``student``, ``total`` or a column's key, ``dir`` is ``asc`` or ``desc``; a cell never tried
  sorts after every score, either way;
- ``page`` numbers pages of ``PER_PAGE`` rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator

from apps.grades.selectors import ATTEMPTED, NEW, PASSED, STATUS_LABELS, Column, Gradebook, Row

PER_PAGE = 50
GROUPS = {"all": "All columns", "exercises": "Exercises", "questions": "Questions"}


@dataclass(frozen=True)
class Query:
    q: str = ""
    show: str = "all"
    status: str = ""
    sort: str = "student"
    dir: str = "asc"
    page: str = "1"

    @classmethod
    def parse(cls, params: Mapping[str, str], book: Gradebook) -> Query:
        """Unknown values fall back to the defaults: a stale link still shows a gradebook."""
        keys = {c.key for c in book.columns}
        show = params.get("show", "all")
        sort = params.get("sort", "student")
        return cls(
            q=params.get("q", "").strip()[:100],
            show=show if show in GROUPS or show in keys else "all",
            status=params.get("status", "") if params.get("status", "") in STATUS_LABELS else "",
            sort=sort if sort in ("student", "total") or sort in keys else "student",
            dir="desc" if params.get("dir") == "desc" else "asc",
            page=params.get("page", "1"),
        )

    def link(self, **changes: str) -> str:
        """This view's query string with ``changes``, defaults left out; a new filter or order starts again at
        page 1."""
        changed = replace(self, **changes) if changes else self
        if "page" not in changes:
            changed = replace(changed, page="1")
        defaults = Query()
        pairs = {k: v for k, v in vars(changed).items() if v != getattr(defaults, k)}
        return "?" + urlencode(pairs) if pairs else "?"

    def sort_link(self, key: str) -> str:
        """Sorted by ``key``; the column already sorted by turns around."""
        if self.sort == key:
            return self.link(dir="asc" if self.dir == "desc" else "desc")
        return self.link(sort=key, dir="asc" if key == "student" else "desc")


@dataclass(frozen=True)
class Header:
    column: Column | None  # None: the student or total column
    key: str
    title: str
    points: float
    link: str
    sorted: str  # "ascending" | "descending" | "" (aria-sort)


@dataclass(frozen=True)
class ShownRow:
    row: Row
    cells: list[tuple[float | None, str]]  # (points, status) per shown column
    status: str

    @property
    def name(self) -> str:
        return student_name(self.row)


@dataclass(frozen=True)
class Table:
    query: Query
    headers: list[Header]
    rows: Page  # of ShownRow
    matched: int
    students: int
    total_points: float
    total_header: Header
    student_header: Header
    previous_link: str  # "" on the first page
    next_link: str  # "" on the last


def student_name(row: Row) -> str:
    """As gradebooks list people: "Lovelace, Ada"; the username when no name was given."""
    s = row.student
    if s.last_name:
        return f"{s.last_name}, {s.first_name}" if s.first_name else s.last_name
    return s.first_name or s.username


def _matches(row: Row, text: str) -> bool:
    s = row.student
    return any(
        text in field.lower() for field in (s.username, s.first_name, s.last_name, s.email, student_name(row))
    )


def overall(statuses: list[str]) -> str:
    """Several columns' statuses as one: none started, all passed, or in between (no columns: not started)."""
    if statuses and all(s == PASSED for s in statuses):
        return PASSED
    return ATTEMPTED if any(s != NEW for s in statuses) else NEW


def shown_columns(book: Gradebook, show: str) -> list[int]:
    if show == "all":
        return list(range(len(book.columns)))
    if show in ("exercises", "questions"):
        prefix = "exercise:" if show == "exercises" else "questions:"
        return [i for i, c in enumerate(book.columns) if c.key.startswith(prefix)]
    return [i for i, c in enumerate(book.columns) if c.key == show]


def _header(query: Query, key: str, title: str, points: float, column: Column | None = None) -> Header:
    sorted_ = ("ascending" if query.dir == "asc" else "descending") if query.sort == key else ""
    return Header(column, key, title, points, query.sort_link(key), sorted_)


def table(book: Gradebook, query: Query) -> Table:
    picked = shown_columns(book, query.show)
    rows = [
        ShownRow(r, [(r.cells[i], r.statuses[i]) for i in picked], overall([r.statuses[i] for i in picked]))
        for r in book.rows
    ]
    if query.q:
        rows = [r for r in rows if _matches(r.row, query.q.lower())]
    if query.status:
        rows = [r for r in rows if r.status == query.status]
    rows = _sorted(rows, book, query)
    page = Paginator(rows, PER_PAGE).get_page(query.page)
    columns = [book.columns[i] for i in picked]
    return Table(
        query=query,
        headers=[_header(query, c.key, c.title, c.points, c) for c in columns],
        rows=page,
        matched=len(rows),
        students=len(book.rows),
        total_points=book.points,
        total_header=_header(query, "total", "Total", book.points),
        student_header=_header(query, "student", "Student", 0.0),
        previous_link=query.link(page=str(page.previous_page_number())) if page.has_previous() else "",
        next_link=query.link(page=str(page.next_page_number())) if page.has_next() else "",
    )


def _sorted(rows: list[ShownRow], book: Gradebook, query: Query) -> list[ShownRow]:
    by_name = sorted(rows, key=lambda r: (student_name(r.row).lower(), r.row.student.username))
    if query.sort == "student":
        return by_name[::-1] if query.dir == "desc" else by_name
    index = next((i for i, c in enumerate(book.columns) if c.key == query.sort), None)

    def value(r: ShownRow) -> float | None:
        return r.row.total if index is None else r.row.cells[index]

    scored = [r for r in by_name if value(r) is not None]
    scored.sort(key=lambda r: value(r) or 0.0, reverse=query.dir == "desc")  # stable: ties stay by name
    return scored + [r for r in by_name if value(r) is None]
