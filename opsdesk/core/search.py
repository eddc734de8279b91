"""Free-text search: what "matches" means, for a list's `q` filter and the global search alike.

One definition serves both, so the global search's count for a model is the number of rows its
"more" link (the model's list filtered by `q`) shows.

- Text fields match case-insensitively anywhere in the value (`icontains`).
- JSON fields (CI attributes: IP address, OS, host name…) match when one of the object's values
  contains the text; the keys do not count, or "host" or "core" would find every server (by
  `hostname`, `cpu_cores`). See JSONValuesContain for how each database does it quickly.
- A field of a related row through a foreign key (`customer__name`) becomes `customer IN
  (matching customers)`: on PostgreSQL a list of ids, read first, so that it joins the trigram
  indexes of the other columns in one bitmap scan (a join or a subquery there makes it read
  every row); on SQLite a subquery, which it computes once, and only when needed.
- On PostgreSQL, a search of two characters (too short for the trigram indexes) first asks a
  bigram index, where the model has one (see BigramsContain): the same rows, found without
  reading the others. Two characters often match thousands: the global search then stops
  counting at the cap and shows the names that are or start with the query first, then some of
  the other matches rather than the first by name (search_model; the list has them all).

The fields come from the model's registry entry (`search_fields`): its own columns, JSON fields
(their values) and lookups through a foreign key, one declaration for the list's `q` and the
global search.

Every query goes through `scope_for`: a person finds only what they may see.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models, router
from django.db.models import BooleanField, Case, Expression, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from opsdesk.core import registry
from opsdesk.core.generic.columns import Column, columns_for
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for

# Hits shown per model on the search page; the rest are one click away in the model's list.
HITS_PER_MODEL = 5
# Counting stops here: a search that matches half the CMDB need not read all of it to say so.
COUNT_CAP = 1000
# One character matches nearly everything: no search, a hint. (Two characters are searched; on
# PostgreSQL through a bigram index, as the trigram indexes need three: docs/performance.md.)
MIN_LENGTH = 2
# Above this many matching related rows, a subquery is cheaper than a list of ids.
RELATED_IDS_CAP = 500
# Two-character searches past the count cap rank this many of each side's matches (and the
# best names) for the few shown: search_model.
PARTIAL_SAMPLE = 100
# PostgreSQL: searches this long use a model's bigram index (migration cmdb 0006), where it has
# one: `<table>_search_bigrams`, on opsdesk_search_bigrams() of bigram_text_sql().
BIGRAM_LENGTH = 2
BIGRAM_INDEX_SUFFIX = "_search_bigrams"
# Between the fields in the indexed text (chr(10) in SQL): a bigram across two fields holds it.
BIGRAM_SEPARATOR = "\n"


def _resolve(model: type[models.Model], path: str) -> list[models.Field] | None:
    """The fields along a lookup path (`customer__name` → [customer FK, Customer.name])."""
    chain = []
    current = model
    for part in path.split("__"):
        try:
            f = current._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        chain.append(f)
        if f.is_relation and f.related_model is not None:
            current = f.related_model
    return chain


class JSONValuesContain(Expression):
    """True when a value of the JSON object in `path` contains `value`, in any case.

    - PostgreSQL: `UPPER(jsonb_path_query_array(col, '$.*')::text) LIKE …`, the text of the
      object's values only, which a pg_trgm GIN index on the same expression answers
      (migration cmdb 0005; without the index it is a sequential scan, correct but slower).
    - SQLite: the stored JSON text must contain the value (a cheap LIKE over the row, with
      non-ASCII characters in the escaped form SQLite's JSON text keeps, `\\u94f6`), and then
      json_each() must find it in a value: only rows that pass the LIKE pay for json_each.
    - Elsewhere: the JSON text contains it (keys included).
    """

    conditional = True
    # The PostgreSQL expression must stay exactly the one the index was built on.
    PG_VALUES = "UPPER((jsonb_path_query_array({column}, '$.*'))::text)"

    def __init__(self, path: str | Expression, value: str) -> None:
        super().__init__(output_field=BooleanField())
        self.source = F(path) if isinstance(path, str) else path
        self.value = value

    def get_source_expressions(self) -> list[Expression]:
        return [self.source]

    def set_source_expressions(self, exprs: list[Expression]) -> None:
        (self.source,) = exprs

    def _pattern(self, connection, text: str) -> str:
        return f"%{connection.ops.prep_for_like_query(text)}%"

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        column, params = compiler.compile(self.source)
        return f"LOWER(CAST({column} AS text)) LIKE LOWER(%s)", [*params, self._pattern(connection, self.value)]

    def as_sqlite(self, compiler, connection) -> tuple[str, list]:
        column, params = compiler.compile(self.source)
        # The forms the value takes in the stored text: as typed, and JSON-escaped (ASCII only).
        forms = list(dict.fromkeys([self.value, json.dumps(self.value)[1:-1]]))
        stored = " OR ".join(f"{column} LIKE %s ESCAPE '\\'" for _ in forms)
        stored_params = [arg for f in forms for arg in (*params, self._pattern(connection, f))]
        in_values = f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value LIKE %s ESCAPE '\\')"
        return f"(({stored}) AND {in_values})", [*stored_params, *params, self._pattern(connection, self.value)]

    def as_postgresql(self, compiler, connection) -> tuple[str, list]:
        column, params = compiler.compile(self.source)
        # jsonb's text escapes quotes and backslashes as JSON does, and keeps other characters.
        text = json.dumps(self.value, ensure_ascii=False)[1:-1]
        return f"{self.PG_VALUES.format(column=column)} LIKE UPPER(%s)", [*params, self._pattern(connection, text)]


def bigram_text_sql(columns: list[tuple[str, models.Field]]) -> str:
    """The upper-cased text a bigram index is built on: each field as its condition reads it
    (`UPPER(col::text)`, a JSON field's values as JSONValuesContain.PG_VALUES), joined by line
    breaks. `columns` are (column SQL, field) pairs. Migration cmdb 0006 writes out the same
    expression for configuration items; the planner uses the index only if the two agree."""
    parts = []
    for column, f in columns:
        text = JSONValuesContain.PG_VALUES.format(column=column) if isinstance(f, models.JSONField) \
            else f"UPPER(({column})::text)"
        parts.append(f"COALESCE({text}, '')" if f.null else text)
    return " || chr(10) || ".join(parts)


class BigramsContain(Expression):
    """PostgreSQL: the model's bigram index holds every two-character piece of the query.

    `opsdesk_search_bigrams(<bigram_text_sql>) @> (SELECT opsdesk_search_bigrams(UPPER(query)))`:
    the query's pieces go in a sub-select so that the planner, not knowing how common they are,
    always reads the index; it otherwise reads the table for a common pair (`10`, in every IP
    address) and computes the function for each row, seconds instead of milliseconds.

    A row whose text contains the query holds all its pieces: the condition never leaves out a
    match. For a two-character query it is also exact (see `exact`), and the rows need no other
    test; otherwise the caller keeps the fields' own conditions as well. Attribute values are
    indexed as JSON text, so a query JSON writes differently (a quote, a backslash) is also
    looked for in its escaped form.
    """

    conditional = True

    def __init__(self, paths: list[str], fields: list[models.Field], value: str) -> None:
        super().__init__(output_field=BooleanField())
        self.sources = [F(p) for p in paths]
        self.fields = fields
        self.value = value

    def get_source_expressions(self) -> list[Expression]:
        return self.sources

    def set_source_expressions(self, exprs: list[Expression]) -> None:
        self.sources = list(exprs)

    @staticmethod
    def exact(value: str) -> bool:
        """Is "contains the query's one bigram" the same as "contains the query"? Yes for two
        characters that JSON keeps as they are, without the separator, that stay two when
        upper-cased (ß becomes SS)."""
        return len(value) == BIGRAM_LENGTH and BIGRAM_SEPARATOR not in value \
            and len(value.upper()) == len(value) and json.dumps(value, ensure_ascii=False)[1:-1] == value

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        raise NotImplementedError("BigramsContain is for PostgreSQL")

    def as_postgresql(self, compiler, connection) -> tuple[str, list]:
        columns, params = [], []
        for source, f in zip(self.sources, self.fields, strict=True):
            sql, source_params = compiler.compile(source)
            columns.append((sql, f))
            params += source_params
        indexed = f"opsdesk_search_bigrams({bigram_text_sql(columns)})"
        forms = [self.value]
        if any(isinstance(f, models.JSONField) for f in self.fields):
            forms = list(dict.fromkeys([self.value, json.dumps(self.value, ensure_ascii=False)[1:-1]]))
        sql = " OR ".join(f"{indexed} @> (SELECT opsdesk_search_bigrams(UPPER(%s)))" for _ in forms)
        return f"({sql})", [arg for form in forms for arg in (*params, form)]


# (alias, database name, table) -> the fields of the table's bigram index, or () for none.
_bigram_indexes: dict[tuple[str, str, str], tuple[str, ...]] = {}


def bigram_index_fields(connection, model: type[models.Model]) -> tuple[str, ...]:
    """The fields `model`'s bigram index is built on, in order, or () when it has none: the index
    is `<table>_search_bigrams`, and its comment says `search_fields=name,description,…`. Asked
    once per process and database."""
    if connection.vendor != "postgresql":
        return ()
    table = model._meta.db_table
    key = (connection.alias, str(connection.settings_dict["NAME"]), table)
    if key not in _bigram_indexes:
        with connection.cursor() as cursor:
            cursor.execute("SELECT obj_description(to_regclass(%s), 'pg_class')",
                           [connection.ops.quote_name(f"{table}{BIGRAM_INDEX_SUFFIX}")])
            comment = cursor.fetchone()[0] or ""
        declared = comment.removeprefix("search_fields=") if comment.startswith("search_fields=") else ""
        _bigram_indexes[key] = tuple(name for name in declared.split(",") if name)
    return _bigram_indexes[key]


def _field_condition(chain: list[models.Field], path: str, value: str) -> Q:
    if isinstance(chain[-1], models.JSONField):
        return Q(JSONValuesContain(path, value))
    return Q(**{f"{path}__icontains": value})


@dataclass
class Terms:
    """What "one of the fields contains the text" is made of, before it is one condition."""

    # Through foreign keys: `customer IN (…)`, first in the OR (a row of a matching customer
    # is then not tested further: its attributes' text, or its bigrams, cost far more to read).
    through: list[Q]
    # The model's own fields, or None when it searches none.
    own: Q | None
    # `own` asks a bigram index (BigramsContain): beside `through`, it must be a query of its own.
    bigrams: bool = False


def text_terms(model: type[models.Model], fields: list[str], value: str) -> Terms | None:
    """The terms of text_condition, or None when there is nothing to match on. On PostgreSQL,
    runs a query per foreign key searched through (see the module's docstring)."""
    value = value.strip()
    if not value or not fields:
        return None
    conditions: list[Q] = []
    related: dict[str, list[str]] = {}
    own: list[tuple[str, models.Field]] = []
    for path in fields:
        chain = _resolve(model, path)
        if chain is None:
            raise ValueError(f"{model.__name__}: unknown search field {path!r}")
        first = chain[0]
        if len(chain) > 1 and first.many_to_one and first.concrete:
            related.setdefault(first.name, []).append(path.split("__", 1)[1])
        else:
            conditions.append(_field_condition(chain, path, value))
            if len(chain) == 1:
                own.append((path, first))
    connection = connections[router.db_for_read(model)]
    bigrams = _bigram_condition(connection, model, own, conditions, value)
    # Relations' source and target both point at items: one query answers both.
    through: list[Q] = []
    answered: dict[tuple, tuple[QuerySet, list | None]] = {}
    for name, sub_fields in related.items():
        target = model._meta.get_field(name).related_model
        key = (target, tuple(sub_fields))
        if key not in answered:
            matching = target._default_manager.filter(text_condition(target, sub_fields, value)).order_by().values("pk")
            # SQLite reads an IN (subquery) once, and only if the outer query has rows to test;
            # ids first would cost a query even when it has none.
            ids = None if connection.vendor == "sqlite" \
                else list(matching.values_list("pk", flat=True)[:RELATED_IDS_CAP + 1])
            answered[key] = (matching, ids)
        matching, ids = answered[key]
        if ids is None or len(ids) > RELATED_IDS_CAP:
            through.append(Q(**{f"{name}__in": matching}))
        elif ids:
            through.append(Q(**{f"{name}__in": ids}))
    if bigrams is not None:
        return Terms(through=through, own=bigrams, bigrams=True)
    return Terms(through=through, own=reduce(or_, conditions) if conditions else None)


def text_condition(model: type[models.Model], fields: list[str], value: str) -> Q | None:
    """The condition "one of `fields` contains `value`", or None when there is nothing to match
    on. On PostgreSQL, runs a query per foreign key searched through (see the module's docstring)."""
    terms = text_terms(model, fields, value)
    return None if terms is None else combined(model, terms)


def combined(model: type[models.Model], terms: Terms) -> Q:
    """The terms as one condition: `through OR own`."""
    own = terms.own
    if terms.bigrams and terms.through:
        # Alone, the bigram index is always read (BigramsContain). Beside a condition that
        # matches most rows (a word in every customer's name), the planner would rather read
        # the table and compute the bigrams of each row not already matched: seconds. Fenced
        # in a subquery (OFFSET 0, as the lists do) it is planned on its own.
        own = Q(pk__in=_fenced_ids(model, own, connections[router.db_for_read(model)]))
    conditions = terms.through + ([own] if own is not None else [])
    return reduce(or_, conditions) if conditions else Q(pk__in=[])


def _bigram_condition(connection, model: type[models.Model], own: list[tuple[str, models.Field]],
                      conditions: list[Q], value: str) -> Q | None:
    """PostgreSQL, two characters: the model's own searched fields through its bigram index, when
    it has one that holds them all; None otherwise. The index answers alone when it holds exactly
    these fields and the query is exact (BigramsContain.exact); else the fields' own conditions
    test the rows it finds."""
    if len(value) != BIGRAM_LENGTH or not conditions or len(own) != len(conditions):
        return None
    indexed = bigram_index_fields(connection, model)
    if not indexed or not {path for path, _ in own} <= set(indexed):
        return None
    bigrams = Q(BigramsContain(list(indexed), [model._meta.get_field(path) for path in indexed], value))
    if BigramsContain.exact(value) and [path for path, _ in own] == list(indexed):
        return bigrams
    return bigrams & reduce(or_, conditions)


def _fenced_ids(model: type[models.Model], condition: Q, connection) -> RawSQL:
    """`SELECT id … WHERE condition OFFSET 0`: PostgreSQL plans the subquery on its own."""
    ids = model._default_manager.filter(condition).order_by().values("pk")
    sql, params = ids.query.get_compiler(connection=connection).as_sql()
    return RawSQL(f"{sql} OFFSET 0", params)


def search_fields_for(entry: registry.ModelEntry) -> list[str]:
    """The fields a model is searched by: its registry entry's `search_fields` (for items:
    name, description, attribute values, the customer's name and code). Only a model whose
    entry declares none is searched by its FilterSet's (relations, by their items' names)."""
    if entry.search_fields:
        return list(entry.search_fields)
    return list(getattr(entry.filterset, "search_fields", None) or []) if entry.filterset is not None else []


# --- the global search ------------------------------------------------------------------------

@dataclass
class Hit:
    obj: models.Model
    url: str
    title: SafeString
    # What matched, when it is not the title: ("IP address", "<mark>10.0.0.1</mark>").
    matched: tuple[str, SafeString] | None = None
    # A few of the list's columns, to tell apart hits of the same name (kind, customer).
    context: list[str] = field(default_factory=list)


@dataclass
class Group:
    entry: registry.ModelEntry
    label: str
    count: int
    # The count stopped at COUNT_CAP: there are more.
    capped: bool
    more_url: str
    hits: list[Hit] = field(default_factory=list)
    # Past the cap, the hits after the exact and leading name matches are some of the matches,
    # not the first by name (two-character searches: search_model).
    partial_order: bool = False


def highlight(text: Any, query: str) -> SafeString:
    """`text`, HTML-escaped, with every occurrence of `query` (any case) in <mark>."""
    text = str(text)
    if not query:
        return escape(text)
    parts = re.split(f"({re.escape(query)})", text, flags=re.IGNORECASE)
    return mark_safe("".join(f"<mark>{escape(p)}</mark>" if i % 2 else escape(p) for i, p in enumerate(parts)))


def _value_at(obj: models.Model, path: str) -> Any:
    target: Any = obj
    for part in path.split("__"):
        if target is None:
            return None
        target = getattr(target, part, None)
    return target


def _matched(obj: models.Model, fields: list[str], query: str) -> tuple[str, SafeString] | None:
    """The first searched field, other than what the title shows, whose value contains `query`."""
    title = str(obj).casefold()
    needle = query.casefold()
    if needle in title:
        return None
    for path in fields:
        chain = _resolve(type(obj), path)
        value = _value_at(obj, path)
        if chain is None or value in (None, ""):
            continue
        if isinstance(value, dict):
            # Attribute titles in the person's language come from the model when it knows them
            # (ConfigurationItem.attribute_rows reads its kind's schema); core cannot import cmdb.
            rows = obj.attribute_rows() if path == "attributes" and hasattr(obj, "attribute_rows") \
                else list(value.items())
            for label, item in rows:
                if needle in str(item).casefold():
                    return str(label), highlight(item, query)
            continue
        if needle in str(value).casefold():
            label = chain[-1].verbose_name if len(chain) == 1 else chain[0].verbose_name
            return str(label), highlight(value, query)
    return None


def _context(obj: models.Model, columns: list[Column]) -> list[str]:
    """Up to two of the list's other columns that are names (a kind, a customer, an address)."""
    title = str(obj).casefold()
    found = []
    for column in columns[1:]:
        value = column.value(obj)
        if isinstance(value, models.Model) or (isinstance(value, str) and value):
            text = str(value)
            if text.casefold() not in title:
                found.append(text)
        if len(found) == 2:
            break
    return found


def _relevance(model: type[models.Model], fields: list[str], query: str) -> Case | None:
    """Exact, then leading matches of the first search field (the name) before the others.

    It also keeps both databases from walking the name index in name order to find the first
    few matches, which reads most of the table when the matches sort late (measured: 160 ms on
    SQLite, 90 ms on PostgreSQL for 100,000 items)."""
    first = fields[0] if fields else ""
    chain = _resolve(model, first) if first and "__" not in first else None
    if not chain or not isinstance(chain[0], (models.CharField, models.TextField)):
        return None
    return Case(When(**{f"{first}__iexact": query}, then=Value(0)),
                When(**{f"{first}__istartswith": query}, then=Value(1)),
                default=Value(2), output_field=IntegerField())


def search_model(user, entry: registry.ModelEntry, query: str, limit: int = HITS_PER_MODEL) -> Group | None:
    """One model's group of the global search, or None when nothing matches (or the person may
    not see the model, or it has no list to link to)."""
    fields = search_fields_for(entry)
    if not fields or not can(user, "view", entry.model):
        return None
    try:
        list_url = reverse(entry.url_name("list"))
    except NoReverseMatch:
        return None
    scoped = scope_for(user, entry.model._default_manager.all())
    terms = text_terms(entry.model, fields, query)
    if terms is None:
        return None
    relevance = _relevance(entry.model, fields, query)
    ordering = (*entry.ordering, "pk")

    def ranked(condition: Q) -> QuerySet:
        qs = scoped.filter(condition)
        return qs.annotate(search_rank=relevance).order_by("search_rank", *ordering) if relevance is not None \
            else qs.order_by(*ordering)

    partial_order = False
    if len(query.strip()) == BIGRAM_LENGTH:
        # Two characters match broadly (`10` is in every IP address). Each side of the search
        # (the customer's items, the item's own text: on PostgreSQL one query each, see
        # text_condition) stops at COUNT_CAP + 1 matches, unordered; past that the exact and
        # leading name matches are read on their own, and the few shown are ranked from those
        # found. Past the cap, the others shown are some of the matches, not the first by name
        # (the list "Show all" opens has them all, by name): reading every match to order it
        # took 80-230 ms a request on PostgreSQL at 100,000 items, this 25-55 ms.
        sides = [reduce(or_, terms.through), terms.own] if terms.bigrams and terms.through \
            else [combined(entry.model, terms)]
        found: dict[Any, None] = {}
        sides_found: list[list] = []
        for side in sides:
            if side is not None:
                sides_found.append(list(scoped.filter(side).order_by().values_list("pk", flat=True)[:COUNT_CAP + 1]))
                found.update(dict.fromkeys(sides_found[-1]))
        capped = any(len(side_ids) > COUNT_CAP for side_ids in sides_found)
        if not found:
            return None
        count = COUNT_CAP + 1 if capped else len(found)
        candidates = list(found)
        if capped:
            # Some of the matches, ranked among themselves, after the best names.
            partial_order = True
            candidates = [pk for side in sides_found for pk in side[:PARTIAL_SAMPLE]]
            if relevance is not None:  # the names equal to the query or starting with it
                leading = ranked(Q(**{f"{fields[0]}__istartswith": query.strip()}))
                candidates += leading.values_list("pk", flat=True)[:limit]
        ids = list(ranked(Q(pk__in=candidates)).values_list("pk", flat=True)[:limit])
    else:
        # One pass over the matches gives both the order and the count (up to the cap): the ids
        # only, so the database sorts small rows; then the few objects shown, by id.
        ids = list(ranked(combined(entry.model, terms)).values_list("pk", flat=True)[:COUNT_CAP + 1])
        if not ids:
            return None
        count = len(ids)
    shown = entry.model._default_manager.select_related(*entry.select_related).in_bulk(ids[:limit])
    page = [shown[pk] for pk in ids[:limit] if pk in shown]
    columns = columns_for(entry.model, entry.columns, ())
    hits = []
    for obj in page:
        try:
            url = reverse(entry.url_name("detail"), args=[obj.pk])
        except NoReverseMatch:
            url = ""
        hits.append(Hit(obj=obj, url=url, title=highlight(obj, query), matched=_matched(obj, fields, query),
                        context=_context(obj, columns)))
    return Group(entry=entry, label=str(entry.model._meta.verbose_name_plural), count=min(count, COUNT_CAP),
                 capped=count > COUNT_CAP, more_url=f"{list_url}?{urlencode({'q': query})}", hits=hits,
                 partial_order=partial_order)


def search(user, query: str, limit: int = HITS_PER_MODEL) -> list[Group]:
    """Every registered model `user` may see, searched for `query`: the groups with hits, in
    registry order."""
    query = query.strip()
    if len(query) < MIN_LENGTH:
        return []
    groups = (search_model(user, entry, query, limit) for entry in registry.entries())
    return [g for g in groups if g is not None]
