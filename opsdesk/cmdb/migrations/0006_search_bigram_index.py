"""A bigram index for searching configuration items by two characters, on PostgreSQL only.

The trigram indexes of 0005 need three characters: a two-character search (`db`, and the
two-character Chinese words people search for most, 上海, 华为) read every item, 130-300 ms at
100,000 items. This index holds, for each item, the set of two-character pieces of the
upper-cased text it is searched by (name, description, attribute values, joined by a line
break), so "which items contain `DB`" is one GIN lookup (docs/performance.md "Global search").

It is built from plain SQL: a function (`opsdesk_search_bigrams`, no extension, nothing to
install) and a GIN index on its result. The expression must stay exactly the one
opsdesk.core.search builds from the item's `search_fields` (`bigram_text_sql`), or the
planner does not use the index; tests/core/test_search.py checks the plan. opsdesk.core.search
finds the index by its name (`<table>_search_bigrams`) and the fields it holds by its comment
(`search_fields=name,description,attributes`), and uses it for searches of those fields or some of
them.

Computed for a row, the function costs 30-55 µs (seconds for the table): it must be read from
the index, never computed while reading the table. It is declared expensive (COST 1000) so that
the planner prefers the index; opsdesk.core.search also hides from the planner how common the
searched pair is, and asks the index in a query of its own when other conditions (a customer's
name) match most rows. Declared more expensive still, the estimates of broad searches pass
PostgreSQL's JIT threshold and JIT compilation alone costs 100-300 ms.

SQLite has no such index; it reads the table, fast enough at that size.
"""

from __future__ import annotations

from django.db import migrations

TABLE = "cmdb_configurationitem"
INDEX = f"{TABLE}_search_bigrams"
FIELDS = ("name", "description", "attributes")
SEPARATOR = "chr(10)"
# Keep in step with opsdesk.core.search.bigram_text_sql for ["name", "description", "attributes"].
TEXT = (f"UPPER((name)::text) || {SEPARATOR} || UPPER((description)::text) || {SEPARATOR} || "
        "UPPER((jsonb_path_query_array(attributes, '$.*'))::text)")

FUNCTION = """
CREATE OR REPLACE FUNCTION opsdesk_search_bigrams(text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000 AS $$
    SELECT coalesce(array_agg(DISTINCT substr($1, i, 2)), '{}')
    FROM generate_series(1, length($1) - 1) AS i
$$
"""


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    # fastupdate off, as for the trigram indexes: rows loaded in bulk would otherwise wait in the
    # pending list until a vacuum, and searches read it whole meanwhile.
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON {TABLE} "
                          f"USING gin ((opsdesk_search_bigrams({TEXT}))) WITH (fastupdate = off)")
    schema_editor.execute(f"COMMENT ON INDEX {INDEX} IS 'search_fields={','.join(FIELDS)}'")


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
    schema_editor.execute("DROP FUNCTION IF EXISTS opsdesk_search_bigrams(text)")


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0005_search_trigram_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
