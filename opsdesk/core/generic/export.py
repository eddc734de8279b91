"""Export of any filtered list as CSV or XLSX, with the columns the list shows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from django.db.models import Model, QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from opsdesk.core.generic.columns import Column


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

    def stream():
        yield "\ufeff"  # BOM, so that Excel opens UTF-8 Chinese text correctly
        for row in rows:
            yield writer.writerow([_cell(c) for c in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def as_xlsx(rows: Iterable[list[Any]], filename: str) -> HttpResponse:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(filename[:31])
    for row in rows:
        sheet.append([_cell(c) for c in row])
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response
