"""Import of configuration items (and their relations) from CSV or XLSX.

All or nothing: the whole file is read and every row checked first, and every problem is
reported with its line, column and value; only a file without a single problem is written. The
write goes in short transactions of BATCH_SIZE rows, so that other writers (SQLite has one write
lock) get their turn between batches; every write is an upsert by (customer, name), so an import
cut short (a worker that died) is finished by running it again. The same columns come out of the
export, so a list can be exported, edited and imported back.

Columns (English or Chinese headers): customer, name, kind, site, status, criticality,
owner_team, description, attr:<key> for each attribute, and runs_on / depends_on /
connected_to with names of other items of the same customer, separated by ';'.
Existing items (same customer and name) are updated.

Files come from anyone who may add items, so they are read as hostile: every limit below is
checked before the work it protects is done, and a file that breaks one is refused with a message
that names the problem (and its line and column when there is one).
"""

from __future__ import annotations

import csv
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from opsdesk.cmdb.attributes import coerce, validate_attributes
from opsdesk.cmdb.models import CIKind, CIStatus, ConfigurationItem, Criticality, Relation, RelationType
from opsdesk.core.generic.export import unneutralise
from opsdesk.core.models import Customer, Site, Team
from opsdesk.core.scoping import scope_for
from opsdesk.core.services import acting_as

BASE_COLUMNS = ["customer", "name", "kind", "site", "status", "criticality", "owner_team", "description"]
RELATION_COLUMNS = [t.value for t in RelationType]
HEADER_ALIASES = {
    "客户": "customer", "名称": "name", "类型": "kind", "站点": "site", "状态": "status",
    "重要性": "criticality", "负责团队": "owner_team", "描述": "description",
    "运行于": "runs_on", "依赖": "depends_on", "连接到": "connected_to",
}
CHINESE_HEADERS = {column: alias for alias, column in HEADER_ALIASES.items()}

# --- limits ---------------------------------------------------------------------------------
# One limit for the UI, the API and the command.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Rows below the header; a row of data further down than line MAX_ROWS + 1 refuses the file.
MAX_ROWS = 50_000
MAX_COLUMNS = 256
# Excel's own limit for one cell; the csv module refuses more than 131,072 by itself.
MAX_CELL_CHARS = 32_767
# An XLSX is a zip: what it unpacks to is capped before openpyxl opens it (compression bombs).
MAX_XLSX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_XLSX_RATIO = 200
XLSX_RATIO_FLOOR_BYTES = 5 * 1024 * 1024  # smaller members may compress as well as they like
MAX_ZIP_MEMBERS = 1_000
# A report lists this many problems at most (a hostile file could have millions).
MAX_PROBLEMS = 1_000
VALUE_PREVIEW_CHARS = 200
BATCH_SIZE = 500
WRITE_ATTEMPTS = 3


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong type, no header, too large, damaged)."""


class ImportConflictError(ImportFileError):
    """The database changed under the import between the check and the write."""


@dataclass
class RowProblem:
    line: int
    field: str
    message: str
    value: str = ""


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    relations_created: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    # Things that do not stop the import but that the person must know (nothing is dropped silently).
    warnings: list[RowProblem] = field(default_factory=list)
    problems_omitted: int = 0
    dry_run: bool = True
    customer_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    @property
    def problem_count(self) -> int:
        return len(self.problems) + self.problems_omitted


@dataclass
class _Row:
    line: int
    values: dict[str, Any]
    item: ConfigurationItem | None = None
    relations: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Table:
    """What read_rows found: the rows with data, and warnings about the file itself."""

    rows: list[tuple[int, dict[str, Any]]]
    warnings: list[RowProblem] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


class _Formula:
    """An XLSX formula without a computed value (a file no spreadsheet program has saved)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


class _SheetError:
    """An XLSX cell whose computed value is an error such as #NAME?."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __str__(self) -> str:
        return self.code


class _CellError(Exception):
    """Raised by a reader for one cell; read_rows names the column with the header it knows."""

    def __init__(self, line: int, index: int, kind: str) -> None:
        super().__init__(kind)
        self.line, self.index, self.kind = line, index, kind


def _normalize_header(name: Any) -> str:
    text = str(name or "").strip().lstrip("\ufeff")
    text = HEADER_ALIASES.get(text, text)
    if text.lower().startswith(("attr:", "attr.")):
        return "attr:" + text[5:].strip()
    return text.lower()


def _preview(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= VALUE_PREVIEW_CHARS else text[:VALUE_PREVIEW_CHARS] + "…"


def _column_name(header: Sequence[str], index: int) -> str:
    from openpyxl.utils import get_column_letter

    if index < len(header) and header[index]:
        return header[index]
    return get_column_letter(index + 1)


def _has_data(cells: Iterable[Any]) -> bool:
    return any(str(c).strip() for c in cells if c is not None)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f}"


# --- CSV ------------------------------------------------------------------------------------

def _decode(content: bytes) -> str:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(_("The file is UTF-16 text; save it as CSV (UTF-8) or as XLSX."))
    # Excel in China saves CSV as GB18030 unless told otherwise; UTF-8 (with BOM) is tried first.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError(_("The file is neither UTF-8 nor GB18030 text."))
    # GB18030 has a BOM of its own (84 31 95 33), which decodes to U+FEFF and would hide the
    # first column's name.
    return text.removeprefix("\ufeff")


class _LineTap:
    """Feeds csv.reader line by line and keeps the lines of the record being read, so that a
    record the csv module refuses can still be located by column."""

    def __init__(self, text: str) -> None:
        self._source = io.StringIO(text, newline="")
        self.pending: list[str] = []

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = self._source.readline()
        if not line:
            raise StopIteration
        self.pending.append(line)
        return line


def _oversized_column(record: str, limit: int) -> int:
    """Index of the first field longer than `limit` in the (partial) CSV record, in the csv
    module's default dialect."""
    column = size = 0
    quoted = False
    i = 0
    while i < len(record):
        ch = record[i]
        if quoted:
            if ch == '"' and record[i + 1:i + 2] == '"':
                size += 1
                i += 1
            elif ch == '"':
                quoted = False
            else:
                size += 1
        elif ch == '"' and size == 0:
            quoted = True
        elif ch == ",":
            column += 1
            size = 0
        elif ch in "\r\n":
            break
        else:
            size += 1
        if size > limit:
            return column
        i += 1
    return column


def _csv_rows(content: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
    tap = _LineTap(_decode(content))
    reader = csv.reader(tap)
    line = 0
    while True:
        line += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise _CellError(line, _oversized_column("".join(tap.pending), MAX_CELL_CHARS), "size") from None
            raise ImportFileError(_("Line %(line)d cannot be read as CSV (%(error)s).")
                                  % {"line": line, "error": exc}) from None
        tap.pending.clear()
        yield line, cells


# --- XLSX -----------------------------------------------------------------------------------

def _zip_member_count(content: bytes) -> int | None:
    """The number of members the zip's end record announces, read before zipfile builds its
    directory (a member costs memory there); None when there is no end record."""
    tail = content[-(22 + 65_535):]
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    (count,) = struct.unpack("<H", tail[at + 10:at + 12])
    return count  # 0xFFFF means Zip64: far more than a workbook has


def _open_zip(content: bytes) -> zipfile.ZipFile:
    damaged = _("The file is not a readable XLSX workbook: it is damaged or cut off.")
    count = _zip_member_count(content)
    if count is None:
        raise ImportFileError(damaged)
    if count > MAX_ZIP_MEMBERS:
        raise ImportFileError(_("The workbook has %(count)d parts; a workbook has at most %(max)d.")
                              % {"count": count, "max": MAX_ZIP_MEMBERS})
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error) as exc:
        raise ImportFileError(damaged) from exc
    # The sizes are those the zip declares: zipfile never returns more than a member declares
    # (it fails on the checksum instead), so checking them bounds what reading can unpack.
    total = sum(info.file_size for info in infos)
    if total > MAX_XLSX_UNCOMPRESSED_BYTES:
        raise ImportFileError(_("The workbook unpacks to %(size)s MB; at most %(max)s MB can be imported.")
                              % {"size": _megabytes(total), "max": _megabytes(MAX_XLSX_UNCOMPRESSED_BYTES)})
    for info in infos:
        if info.file_size > XLSX_RATIO_FLOOR_BYTES and info.file_size > MAX_XLSX_RATIO * max(info.compress_size, 1):
            raise ImportFileError(_("The workbook is compressed %(ratio)d times over, as only a file built to "
                                    "exhaust memory is; it is refused.")
                                  % {"ratio": info.file_size // max(info.compress_size, 1)})
    return archive


_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def _has_formulas(archive: zipfile.ZipFile) -> bool:
    """Does any sheet hold a formula? Only then is the second (formula) pass needed."""
    for info in archive.infolist():
        if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
            continue
        with archive.open(info) as source:
            tail = b""
            while chunk := source.read(1 << 20):
                if _FORMULA_TAG.search(tail + chunk):
                    return True
                tail = chunk[-64:]
    return False


def unpacked_size(filename: str, content: bytes) -> int:
    """What an XLSX unpacks to (its declared sizes); the size of any other file. The web decides
    with this whether to read a file itself or leave it to a worker."""
    if not filename.lower().endswith(".xlsx"):
        return len(content)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except Exception:  # damaged: the import itself says so, in whatever process
        return len(content)


def _xlsx_value(cell: Any, formula: Any) -> Any:
    value = cell.value
    if getattr(cell, "data_type", None) == "e":
        return _SheetError(str(value))
    if value is None and isinstance(formula, str) and formula.startswith("="):
        return _Formula(formula)
    return value


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
    from openpyxl import load_workbook

    archive = _open_zip(content)
    books = []
    try:
        try:
            with_formulas = _has_formulas(archive)
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            books.append(book)
            sheet = book.active
            formula_sheet = None
            if with_formulas:
                # Cached values come from data_only=True, formulas from a second read: a formula
                # whose value was never computed would otherwise read as an empty cell.
                formula_book = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
                books.append(formula_book)
                formula_sheet = formula_book.active
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise ImportFileError(_("The file is not a readable XLSX workbook: it is damaged or cut off.")) from exc
        except Exception as exc:  # whatever openpyxl raises on a hostile file
            raise ImportFileError(_("The file is not a readable XLSX workbook.")) from exc
        if sheet is None:
            raise ImportFileError(_("The workbook has no sheet."))
        try:
            # The header first, read at most MAX_COLUMNS + 1 wide (the extra column tells that
            # there are too many). The sheet's declared dimension is not trusted: it only narrows
            # the width of the data rows, never widens it beyond the header and the limit.
            header = next(sheet.iter_rows(max_row=1, max_col=MAX_COLUMNS + 1, values_only=True), ())
            width = max((i + 1 for i, c in enumerate(header) if c is not None and str(c).strip()), default=0)
            declared = sheet.max_column if isinstance(sheet.max_column, int) else 0
            max_col = min(MAX_COLUMNS + 1, max(width + 1, declared))
            yield 1, list(header)
            # max_row is ours, not the declared dimension (which may claim a million rows, or too
            # few and hide some): openpyxl stops there, and a sheet that reaches one line past the
            # limit is refused below, even if that line is empty (it pads gaps with empty rows).
            last = MAX_ROWS + 2
            rows = sheet.iter_rows(min_row=2, max_row=last, max_col=max_col)
            formulas: Iterator[Any] = (
                formula_sheet.iter_rows(min_row=2, max_row=last, max_col=max_col, values_only=True)
                if formula_sheet is not None else iter(()))
            previous: Any = None
            empty: tuple[()] = ()
            for line, cells in enumerate(rows, start=2):
                if line == last:
                    raise ImportFileError(_too_long_message())
                formula_row = next(formulas, None)
                # openpyxl pads missing rows with one shared tuple: skip those without looking
                # at their cells (a sheet can claim a million rows in a few bytes).
                if cells is previous:
                    yield line, empty
                    continue
                previous = cells
                if formula_row is None:
                    yield line, [c.value if getattr(c, "data_type", None) != "e" else _SheetError(str(c.value))
                                 for c in cells]
                else:
                    yield line, [_xlsx_value(c, f) for c, f in zip(cells, formula_row, strict=False)]
        except (ImportFileError, _CellError):
            raise
        except Exception as exc:  # a cut or corrupted file fails anywhere in the parse
            raise ImportFileError(_("The file is not a readable XLSX workbook: it is damaged or cut off.")) from exc
    finally:
        for book in books:
            book.close()
        archive.close()


# --- rows -----------------------------------------------------------------------------------

def _too_long_message() -> str:
    return _("The file goes on beyond line %(line)d: at most %(max)d rows below the header can be imported. "
             "Split it, or delete what is below the data.") % {"line": MAX_ROWS + 1, "max": MAX_ROWS}


def read_rows(filename: str, content: bytes) -> Table:
    """The rows with data, as (line, {column: value}); line numbers as a person sees them in the
    file (the header is line 1)."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise ImportFileError(_("The file is larger than %(max)s MB.") % {"max": _megabytes(MAX_UPLOAD_BYTES)})
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        raw = _xlsx_rows(content)
    elif lower.endswith((".csv", ".txt")):
        raw = _csv_rows(content)
    else:
        raise ImportFileError(_("Only .csv and .xlsx files can be imported."))
    header: list[str] | None = None
    table = Table(rows=[])
    unlabelled: set[int] = set()
    try:
        for line, cells in raw:
            if header is None:
                header = _read_header(line, cells, table)
                continue
            if not cells:
                continue
            if line > MAX_ROWS + 1 and _has_data(cells):
                raise ImportFileError(_too_long_message())
            if len(cells) > MAX_COLUMNS and _has_data(cells[MAX_COLUMNS:]):
                raise ImportFileError(_("Line %(line)d has more than %(max)d columns.")
                                      % {"line": line, "max": MAX_COLUMNS})
            values = [_cell_value(line, i, c, header, table) for i, c in enumerate(cells)]
            if not _has_data(values):
                continue
            row: dict[str, Any] = {}
            for i, value in enumerate(values):
                name = header[i] if i < len(header) else ""
                if name:
                    row[name] = "" if value is None else value
                elif i not in unlabelled and _has_data([value]):
                    unlabelled.add(i)
                    table.warnings.append(RowProblem(line, _column_name(header, i), _(
                        "This column has no header: its values are not imported."), _preview(value)))
            table.rows.append((line, row))
    except _CellError as exc:
        column = _column_name(header or [], exc.index)
        if exc.kind == "nul":
            message = _("Line %(line)d, column %(column)s: the cell contains a NUL character, which cannot be "
                        "stored.")
        else:
            message = _("Line %(line)d, column %(column)s: the cell has more than %(max)d characters.")
        raise ImportFileError(message % {"line": exc.line, "column": column, "max": MAX_CELL_CHARS}) from None
    finally:
        raw.close()
    if header is None:
        raise ImportFileError(_("The file is empty."))
    return table


def _read_header(line: int, cells: Sequence[Any], table: Table) -> list[str]:
    if len(cells) > MAX_COLUMNS and _has_data(cells[MAX_COLUMNS:]):
        raise ImportFileError(_("Line %(line)d has more than %(max)d columns.") % {"line": line, "max": MAX_COLUMNS})
    header = [_normalize_header(_cell_value(line, i, c, [], table)) for i, c in enumerate(cells)]
    for required in ("customer", "name", "kind"):
        if required not in header:
            raise ImportFileError(_("The header has no column %(column)s.") % {"column": required})
    seen: set[str] = set()
    known = set(BASE_COLUMNS) | set(RELATION_COLUMNS)
    for i, name in enumerate(header):
        if not name:
            continue
        if name in seen:
            raise ImportFileError(_("The header has the column %(column)s twice.") % {"column": name})
        seen.add(name)
        if name not in known and not name.startswith("attr:"):
            table.warnings.append(RowProblem(line, _column_name([], i), _(
                "Unknown column: its values are not imported."), _preview(cells[i])))
    return header


def _cell_value(line: int, index: int, value: Any, header: Sequence[str], table: Table) -> Any:
    if isinstance(value, _Formula):
        table.warnings.append(RowProblem(line, _column_name(header, index), _(
            "A formula without a computed value: its text is imported as the value."), _preview(value.text)))
        value = value.text
    elif isinstance(value, _SheetError):
        table.problems.append(RowProblem(line, _column_name(header, index), _(
            "The cell shows the spreadsheet error %(error)s; type the value instead.") % {"error": value.code},
            _preview(value.code)))
        return value.code
    if isinstance(value, str):
        if "\x00" in value:
            raise _CellError(line, index, "nul")
        if len(value) > MAX_CELL_CHARS:
            raise _CellError(line, index, "size")
        # The export puts a ' before text that a spreadsheet would run as a formula; take it off.
        value = unneutralise(value)
    return value


# --- checking -------------------------------------------------------------------------------

class _Lookups:
    """Everything rows refer to, read once and scoped to the importing person."""

    def __init__(self, user) -> None:
        customers = list(scope_for(user, Customer.objects.all()))
        self.customers = {c.code.lower(): c for c in customers} | {c.name.lower(): c for c in customers}
        kinds = list(CIKind.objects.all())
        self.kinds = {k.slug.lower(): k for k in kinds} | {k.name.lower(): k for k in kinds} | \
            {str(k).lower(): k for k in kinds}
        self.sites = {(s.customer_id, s.name.lower()): s for s in scope_for(user, Site.objects.all())}
        self.teams = {t.name.lower(): t for t in Team.objects.all()}
        self.status = _choice_map(CIStatus)
        self.criticality = _choice_map(Criticality)


def _choice_map(choices) -> dict[str, str]:
    mapping = {}
    for value, label in choices.choices:
        mapping[value.lower()] = value
        mapping[str(label).lower()] = value
    return mapping


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def _check_row(row: _Row, lk: _Lookups, existing: dict, problems: list[RowProblem]) -> None:
    v = row.values

    def problem(col: str, message: str, value: Any = None) -> None:
        problems.append(RowProblem(row.line, col, message, _preview(v.get(col) if value is None else value)))

    customer = lk.customers.get(_text(v.get("customer")).lower())
    if not _text(v.get("customer")):
        problem("customer", _("This field is required."))
    elif customer is None:
        problem("customer", _("No customer %(value)s.") % {"value": _text(v.get("customer"))})
    name = _text(v.get("name"))
    if not name:
        problem("name", _("This field is required."))
    elif len(name) > 200:
        problem("name", _("Must be at most %(limit)s characters.") % {"limit": 200})
    kind = lk.kinds.get(_text(v.get("kind")).lower())
    if not _text(v.get("kind")):
        problem("kind", _("This field is required."))
    elif kind is None:
        problem("kind", _("No kind %(value)s.") % {"value": _text(v.get("kind"))})
    site = None
    if _text(v.get("site")) and customer is not None:
        site = lk.sites.get((customer.pk, _text(v.get("site")).lower()))
        if site is None:
            problem("site", _("No site %(value)s for this customer.") % {"value": _text(v.get("site"))})
    status = lk.status.get(_text(v.get("status")).lower() or CIStatus.ACTIVE.value)
    if status is None:
        problem("status", _("Must be one of: %(choices)s.") % {"choices": _choice_list(CIStatus.choices)})
    criticality = lk.criticality.get(_text(v.get("criticality")).lower() or Criticality.MEDIUM.value)
    if criticality is None:
        problem("criticality", _("Must be one of: %(choices)s.") % {"choices": _choice_list(Criticality.choices)})
    team = None
    if _text(v.get("owner_team")):
        team = lk.teams.get(_text(v.get("owner_team")).lower())
        if team is None:
            problem("owner_team", _("No team %(value)s.") % {"value": _text(v.get("owner_team"))})
    attributes: dict[str, Any] = {}
    if kind is not None:
        props = (kind.attribute_schema or {}).get("properties", {})
        for col, raw in v.items():
            if not col.startswith("attr:") or _text(raw) == "":
                continue
            key = col[5:]
            try:
                attributes[key] = coerce(props.get(key, {}), raw, key)
            except ValueError as exc:
                problem(col, str(exc))
        for key, message in validate_attributes(kind.attribute_schema or {}, attributes):
            problem(f"attr:{key}" if key else "attributes", message)
    for rel in RELATION_COLUMNS:
        names = [n.strip() for n in _text(v.get(rel)).split(";") if n.strip()]
        if names:
            row.relations[rel] = names
    if customer is None or kind is None or not name:
        return
    item = existing.get((customer.pk, name.lower())) or ConfigurationItem(customer=customer, name=name)
    item.kind, item.site, item.owner_team = kind, site, team
    item.status, item.criticality = status or item.status, criticality or item.criticality
    item.description = _text(v.get("description"))
    item.attributes = attributes
    row.item = item


def import_items(user, filename: str, content: bytes, *, dry_run: bool,
                 progress: Callable[[], None] | None = None) -> ImportReport:
    """Check the whole file, then (unless a dry run or a problem) write it in batches.
    `progress` is called after each written batch (a job extends its lease there)."""
    report = ImportReport(dry_run=dry_run)
    table = read_rows(filename, content)
    rows = [_Row(line, values) for line, values in table.rows]
    report.rows = len(rows)
    report.warnings = table.warnings
    problems = list(table.problems)
    lk = _Lookups(user)
    # Only the customers the file names: an administrator's import must not load every item.
    named = {lk.customers.get(_text(r.values.get("customer")).lower()) for r in rows}
    customer_ids = {c.pk for c in named if c is not None}
    existing = {(ci.customer_id, ci.name.lower()): ci
                for ci in ConfigurationItem.objects.filter(customer_id__in=customer_ids)}
    seen: dict[tuple[int, str], int] = {}
    for row in rows:
        _check_row(row, lk, existing, problems)
        if row.item is not None:
            key = (row.item.customer_id, row.item.name.lower())
            if key in seen:
                problems.append(RowProblem(row.line, "name", _("The same item is already on line %(line)d.")
                                           % {"line": seen[key]}, _preview(row.item.name)))
            seen[key] = row.line
    # Relations may point at items in the file or already in the database, of the same customer.
    planned = {(r.item.customer_id, r.item.name.lower()): r.item for r in rows if r.item is not None}
    known = existing | planned
    for row in rows:
        if row.item is None:
            continue
        for rel, names in row.relations.items():
            for target in names:
                if (row.item.customer_id, target.lower()) not in known:
                    problems.append(RowProblem(row.line, rel, _("No item %(name)s of this customer.")
                                               % {"name": target}, _preview(target)))
                elif target.lower() == row.item.name.lower():
                    problems.append(RowProblem(row.line, rel, _("An item cannot relate to itself."),
                                               _preview(target)))
    problems.sort(key=lambda p: (p.line, p.field))
    report.problems = problems[:MAX_PROBLEMS]
    report.problems_omitted = max(0, len(problems) - MAX_PROBLEMS)
    report.created = sum(1 for r in rows if r.item is not None and r.item.pk is None)
    report.updated = sum(1 for r in rows if r.item is not None and r.item.pk is not None)
    report.relations_created = _count_new_relations(rows, known)
    report.customer_ids = sorted({r.item.customer_id for r in rows if r.item is not None})
    if not report.ok or dry_run:
        return report
    with acting_as(user):
        _write(rows, report, progress)
    return report


# --- writing --------------------------------------------------------------------------------

_ITEM_FIELDS = ("kind", "site", "owner_team", "status", "criticality", "description", "attributes")


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _adopt_existing(batch: Sequence[_Row]) -> None:
    """Rows checked as new whose item another import created since become updates of it."""
    new = [r for r in batch if r.item.pk is None]
    if not new:
        return
    found = {(ci.customer_id, ci.name): ci for ci in ConfigurationItem.objects.filter(
        customer_id__in={r.item.customer_id for r in new}, name__in=[r.item.name for r in new])}
    for row in new:
        other = found.get((row.item.customer_id, row.item.name))
        if other is not None:
            for name in _ITEM_FIELDS:
                setattr(other, name, getattr(row.item, name))
            row.item = other


def _write_items(batch: Sequence[_Row], report: ImportReport) -> None:
    for attempt in range(WRITE_ATTEMPTS):
        before = [(row.item, row.item.pk, row.item._state.adding) for row in batch]
        created = 0
        try:
            with transaction.atomic():
                _adopt_existing(batch)
                for row in batch:
                    created += row.item.pk is None
                    row.item.save()
        except IntegrityError:
            # Another writer inserted one of these names between our read and our insert
            # (PostgreSQL; SQLite's IMMEDIATE transactions serialise the batches): read again.
            for row, (item, pk, adding) in zip(batch, before, strict=True):
                row.item, item.pk, item._state.adding = item, pk, adding
            if attempt == WRITE_ATTEMPTS - 1:
                raise ImportConflictError(_(
                    "Another change to the same items got in the way of this import, from line %(line)d on. "
                    "What was written before stays; import the file again to finish it.")
                    % {"line": batch[0].line}) from None
            continue
        report.created += created
        report.updated += len(batch) - created
        return


def _write(rows: list[_Row], report: ImportReport, progress: Callable[[], None] | None) -> None:
    report.created = report.updated = report.relations_created = 0
    for batch in _batches(rows, BATCH_SIZE):
        _write_items(batch, report)
        if progress is not None:
            progress()
    customer_ids = {r.item.customer_id for r in rows}
    known = {(ci.customer_id, ci.name.lower()): ci for ci in
             ConfigurationItem.objects.filter(customer_id__in=customer_ids).only("pk", "customer_id", "name")}
    links = [(row, rel, target) for row in rows for rel, names in row.relations.items() for target in names]
    for batch in _batches(links, BATCH_SIZE):
        try:
            with transaction.atomic():
                for row, rel, name in batch:
                    target = known.get((row.item.customer_id, name.lower()))
                    if target is None:
                        raise ImportConflictError(_(
                            "Line %(line)d: the item %(name)s was deleted while the file was being imported. "
                            "What was written before stays; import the file again to finish it.")
                            % {"line": row.line, "name": name})
                    _relation, made = Relation.objects.get_or_create(
                        source=row.item, type=rel, target=target, defaults={"customer_id": row.item.customer_id})
                    report.relations_created += made
        except IntegrityError:
            raise ImportConflictError(_(
                "Another change to the same items got in the way of this import, from line %(line)d on. "
                "What was written before stays; import the file again to finish it.")
                % {"line": batch[0][0].line}) from None
        if progress is not None:
            progress()


def _count_new_relations(rows: list[_Row], known: dict) -> int:
    existing = set()
    source_ids = [r.item.pk for r in rows if r.item is not None and r.item.pk]
    if source_ids:
        existing = set(Relation.objects.filter(source_id__in=source_ids).values_list("source_id", "type", "target_id"))
    count = 0
    for row in rows:
        if row.item is None:
            continue
        for rel, names in row.relations.items():
            for target in names:
                tgt = known.get((row.item.customer_id, target.lower()))
                if tgt is None:
                    continue
                if row.item.pk and tgt.pk and (row.item.pk, rel, tgt.pk) in existing:
                    continue
                count += 1
    return count


# --- export and template --------------------------------------------------------------------

def export_columns(items) -> list[str]:
    """Attribute columns in each kind's declared order (x-order), kinds in the order met, then
    keys no kind declares, alphabetically: the same on every database (jsonb sorts keys)."""
    from opsdesk.cmdb.attributes import property_order

    keys: list[str] = []
    extra: set[str] = set()
    seen_kinds: set[int] = set()
    for ci in items:
        if ci.kind_id not in seen_kinds:
            seen_kinds.add(ci.kind_id)
            keys += [k for k in property_order(ci.kind.attribute_schema or {}) if k not in keys]
        extra.update(ci.attributes or {})
    keys += sorted(extra - set(keys))
    return BASE_COLUMNS + [f"attr:{k}" for k in keys] + RELATION_COLUMNS


def export_rows(queryset) -> tuple[list[str], list[list[Any]]]:
    """The import format, so that an export can be edited and imported back. (The writers in
    opsdesk.core.generic.export neutralise text a spreadsheet would run as a formula.)"""
    items = list(queryset.select_related("customer", "kind", "site", "owner_team"))
    outgoing: dict[int, dict[str, list[str]]] = {}
    for rel in Relation.objects.filter(source__in=[i.pk for i in items]).select_related("target"):
        outgoing.setdefault(rel.source_id, {}).setdefault(rel.type, []).append(rel.target.name)
    header = export_columns(items)
    rows = []
    for ci in items:
        base = [ci.customer.code, ci.name, ci.kind.slug, ci.site.name if ci.site else "", ci.status,
                ci.criticality, ci.owner_team.name if ci.owner_team else "", ci.description]
        attrs = [(ci.attributes or {}).get(h[5:], "") for h in header if h.startswith("attr:")]
        rels = [";".join(outgoing.get(ci.pk, {}).get(r, [])) for r in RELATION_COLUMNS]
        rows.append(base + attrs + rels)
    return header, rows


def template_rows(user, *, chinese: bool) -> list[list[Any]]:
    """A header and one example row, for the import page's "download template"; with the Chinese
    column names for a person who reads Chinese (the import takes both)."""
    columns = [*BASE_COLUMNS, "attr:ip_address", "attr:os", *RELATION_COLUMNS]
    header = [CHINESE_HEADERS.get(c, c) if chinese else c for c in columns]
    customer = scope_for(user, Customer.objects.order_by("code")).first()
    example = {
        "customer": customer.code if customer is not None else "ACME", "name": "web-01", "kind": "server",
        "status": CIStatus.ACTIVE.value, "criticality": Criticality.HIGH.value,
        "description": _("Example: the web server of the online shop"),
        "attr:ip_address": "10.0.0.10", "attr:os": "Linux",
    }
    return [header, [example.get(c, "") for c in columns]]


def _choice_list(choices) -> str:
    """"Active (active), …": the label the person reads and the value a file may hold."""
    return ", ".join(f"{label} ({value})" for value, label in choices)
