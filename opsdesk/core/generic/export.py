"""Export of any filtered list as CSV or XLSX, with the columns the list shows.

Text that a spreadsheet would run as a formula (=, +, -, @, tab or CR first: "CSV injection")
gets a ' in front, as OWASP advises, and XLSX cells are written as text, never as formulas. The
CMDB import takes that one ' off again (`unneutralise`), so an export imports back unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Model, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone, translation

from opsdesk.core.generic.columns import Column

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """'-prefix text that a spreadsheet would evaluate. Text that already starts with quotes
    before such a character gets one more, so that unneutralise gives back exactly the value."""
    return "'" + value if value.lstrip("'").startswith(FORMULA_TRIGGERS) else value


def unneutralise(value: str) -> str:
    """The inverse of neutralise, for imports."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        return timezone.localtime(value).replace(tzinfo=None)
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False)
    return value


def _safe(value: Any) -> Any:
    # Only here, in the writers: table() already applied _cell, and neutralising twice would add
    # two quotes.
    value = _cell(value)
    return neutralise(value) if isinstance(value, str) else value


def table(columns: list[Column], queryset: QuerySet) -> Iterable[list[Any]]:
    """Header, then one row per object, of a list's columns."""
    yield [str(c.label) for c in columns]
    for obj in queryset.iterator(chunk_size=2000):
        yield [_cell(c.value(obj)) for c in columns]


class _Echo:
    def write(self, value: str) -> str:
        return value


def as_csv(rows: Iterable[list[Any]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    # The body is produced after the view returned, when the middleware has already put the time
    # zone back to UTC: the person's zone (and language) are taken now and set again for the rows.
    zone = timezone.get_current_timezone()
    language = translation.get_language()

    def stream() -> Iterator[str]:
        with timezone.override(zone), translation.override(language):
            yield "\ufeff"  # BOM, so that Excel opens UTF-8 Chinese text correctly
            for row in rows:
                yield writer.writerow([_safe(c) for c in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def as_xlsx(rows: Iterable[list[Any]], filename: str) -> HttpResponse:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    sheet = book.create_sheet(filename[:31])

    def text_cell(value: str) -> WriteOnlyCell:
        # Control characters XML cannot hold would make openpyxl fail the whole export.
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
        cell.data_type = "s"  # text, never a formula, whatever it starts with
        return cell

    for row in rows:
        sheet.append([text_cell(v) if isinstance(v, str) else v for v in (_safe(c) for c in row)])
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response
