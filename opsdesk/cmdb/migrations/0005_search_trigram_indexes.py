"""Trigram indexes for searching configuration items, on PostgreSQL only.

A search matches anywhere in a value (`UPPER(col) LIKE UPPER('%text%')`), which a B-tree index
cannot answer: without these, each search reads all items (120-230 ms at 100,000 items; with
them 2-20 ms, docs/performance.md "Global search"). The expressions are exactly those the
queries use (Django's icontains, and opsdesk.core.search.JSONValuesContain for the attribute
values). SQLite has no such index; it reads the table, fast enough at that size.

pg_trgm ships with PostgreSQL and is a trusted extension (13+): the database's owner may create
it. Where that is refused, the migration leaves the indexes out and says so: search still works,
only slower.
"""

from __future__ import annotations

import logging

from django.db import migrations, transaction

log = logging.getLogger("opsdesk.migrations")

TABLE = "cmdb_configurationitem"
INDEXES = {
    "ci_search_name_trgm": "UPPER((name)::text)",
    "ci_search_description_trgm": "UPPER(description)",
    # Keep in step with opsdesk.core.search.JSONValuesContain.PG_VALUES.
    "ci_search_attribute_values_trgm": "UPPER((jsonb_path_query_array(attributes, '$.*'))::text)",
}


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # any refusal means the same: no trigram indexes
        log.warning("pg_trgm is not available (%s): configuration items are searched without an index", exc)
        return
    for name, expression in INDEXES.items():
        # fastupdate off: rows loaded in bulk would otherwise wait in the index's pending list
        # until a vacuum, and searches read the whole table meanwhile (docs/performance.md).
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} "
                              f"USING gin (({expression}) gin_trgm_ops) WITH (fastupdate = off)")


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0004_import_job")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
