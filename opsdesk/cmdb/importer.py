"""Import of configuration items (and their relations) from CSV or XLSX.

All or nothing: every row is checked first, and every problem is reported with its line and
column; only a file without a single problem is written, in one transaction. The same columns
come out of the export, so a list can be exported, edited and imported back.

Columns (English or Chinese headers): customer, name, kind, site, status, criticality,
owner_team, description, attr:<key> for each attribute, and runs_on / depends_on /
connected_to with names of other items of the same customer, separated by ';'.
Existing items (same customer and name) are updated.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from opsdesk.cmdb.attributes import coerce, validate_attributes
from opsdesk.cmdb.models import CIKind, CIStatus, ConfigurationItem, Criticality, Relation, RelationType
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
MAX_ROWS = 50_000


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong type, no header, too large)."""


@dataclass
class RowProblem:
    line: int
    field: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    relations_created: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    dry_run: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run


@dataclass
class _Row:
    line: int
    values: dict[str, Any]
    item: ConfigurationItem | None = None
    relations: dict[str, list[str]] = field(default_factory=dict)


def _normalize_header(name: Any) -> str:
    text = str(name or "").strip()
    text = HEADER_ALIASES.get(text, text)
    if text.lower().startswith(("attr:", "attr.")):
        return "attr:" + text[5:].strip()
    return text.lower()


def read_rows(filename: str, content: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(line number, {column: value}) for every non-empty row; line numbers as a person sees them
    in the file (the header is line 1)."""
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:
            raise ImportFileError(_("The file is not a readable XLSX workbook.")) from exc
        table = [(i, list(r)) for i, r in enumerate(book.active.iter_rows(values_only=True), start=1)]
    elif lower.endswith((".csv", ".txt")):
        # Excel in China saves CSV as GB18030 unless told otherwise; UTF-8 (with BOM) is tried first.
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ImportFileError(_("The file is neither UTF-8 nor GB18030 text."))
        table = [(i, r) for i, r in enumerate(csv.reader(io.StringIO(text)), start=1)]
    else:
        raise ImportFileError(_("Only .csv and .xlsx files can be imported."))
    if not table:
        raise ImportFileError(_("The file is empty."))
    header = [_normalize_header(h) for h in table[0][1]]
    for required in ("customer", "name", "kind"):
        if required not in header:
            raise ImportFileError(_("The header has no column %(column)s.") % {"column": required})
    rows = []
    for line, cells in table[1:]:
        if not any(str(c).strip() for c in cells if c is not None):
            continue
        rows.append((line, {h: ("" if c is None else c) for h, c in zip(header, cells, strict=False) if h}))
    if len(rows) > MAX_ROWS:
        raise ImportFileError(_("The file has more than %(max)d rows; split it.") % {"max": MAX_ROWS})
    return rows


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

    def problem(col: str, message: str) -> None:
        problems.append(RowProblem(row.line, col, message))

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
        problem("status", _("Must be one of: %(choices)s.") % {"choices": ", ".join(CIStatus.values)})
    criticality = lk.criticality.get(_text(v.get("criticality")).lower() or Criticality.MEDIUM.value)
    if criticality is None:
        problem("criticality", _("Must be one of: %(choices)s.") % {"choices": ", ".join(Criticality.values)})
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
                attributes[key] = coerce(props.get(key, {}), raw)
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


def import_items(user, filename: str, content: bytes, *, dry_run: bool) -> ImportReport:
    report = ImportReport(dry_run=dry_run)
    rows = [_Row(line, values) for line, values in read_rows(filename, content)]
    report.rows = len(rows)
    lk = _Lookups(user)
    customer_ids = {c.pk for c in lk.customers.values()}
    existing = {(ci.customer_id, ci.name.lower()): ci
                for ci in ConfigurationItem.objects.filter(customer_id__in=customer_ids)}
    seen: dict[tuple[int, str], int] = {}
    for row in rows:
        _check_row(row, lk, existing, report.problems)
        if row.item is not None:
            key = (row.item.customer_id, row.item.name.lower())
            if key in seen:
                report.problems.append(RowProblem(row.line, "name", _("The same item is already on line %(line)d.")
                                                  % {"line": seen[key]}))
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
                    report.problems.append(RowProblem(row.line, rel, _("No item %(name)s of this customer.")
                                                      % {"name": target}))
                elif target.lower() == row.item.name.lower():
                    report.problems.append(RowProblem(row.line, rel, _("An item cannot relate to itself.")))
    report.problems.sort(key=lambda p: (p.line, p.field))
    report.created = sum(1 for r in rows if r.item is not None and r.item.pk is None)
    report.updated = sum(1 for r in rows if r.item is not None and r.item.pk is not None)
    report.relations_created = _count_new_relations(rows, known)
    if not report.ok or dry_run:
        return report
    with acting_as(user), transaction.atomic():
        for row in rows:
            row.item.save()
        known = {(ci.customer_id, ci.name.lower()): ci for ci in
                 ConfigurationItem.objects.filter(customer_id__in={r.item.customer_id for r in rows})}
        for row in rows:
            for rel, names in row.relations.items():
                for target in names:
                    Relation.objects.get_or_create(source=row.item, type=rel,
                                                   target=known[(row.item.customer_id, target.lower())],
                                                   defaults={"customer_id": row.item.customer_id})
    return report


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


def export_columns(items) -> list[str]:
    keys: list[str] = []
    for ci in items:
        for key in (ci.attributes or {}):
            if key not in keys:
                keys.append(key)
    return BASE_COLUMNS + [f"attr:{k}" for k in keys] + RELATION_COLUMNS


def export_rows(queryset) -> tuple[list[str], list[list[Any]]]:
    """The import format, so that an export can be edited and imported back."""
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
