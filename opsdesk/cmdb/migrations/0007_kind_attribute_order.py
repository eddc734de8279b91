"""Give every kind's attribute schema an `x-order`: the order of its attributes.

PostgreSQL's jsonb does not keep the order of an object's keys, so the order of `properties` was
lost there (docs/cmdb.md, "Attribute order"). A built-in kind gets the order of
opsdesk/cmdb/builtin_kinds.py. Any other kind gets the order its properties are stored in where the
database kept it (SQLite), the alphabetical order where it did not (PostgreSQL's jsonb, MySQL's
JSON). Attributes the list does not name (a built-in kind an administrator extended) follow in the
same way. A kind that already has a list keeps it, completed the same way. Going back leaves the
lists: older code ignores them.
"""

from __future__ import annotations

from django.db import migrations

ORDER = "x-order"


def add_order(apps, schema_editor) -> None:
    from opsdesk.cmdb.builtin_kinds import BUILTIN_KINDS

    builtin_order = {spec["slug"]: list(spec["attribute_schema"]["properties"]) for spec in BUILTIN_KINDS}
    kept = schema_editor.connection.vendor == "sqlite"  # the only one that keeps a JSON object's key order
    CIKind = apps.get_model("cmdb", "CIKind")
    for kind in CIKind.objects.using(schema_editor.connection.alias).order_by("pk"):
        schema = kind.attribute_schema
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            continue
        props = schema["properties"]
        listed = schema.get(ORDER)
        if not isinstance(listed, list):
            listed = builtin_order.get(kind.slug, []) if kind.builtin else []
        order: list[str] = []
        for key in listed:
            if isinstance(key, str) and key in props and key not in order:
                order.append(key)
        rest = [k for k in props if k not in order]
        order += rest if kept else sorted(rest)
        if schema.get(ORDER) != order:
            kind.attribute_schema = {**schema, ORDER: order}
            kind.save(update_fields=["attribute_schema"])


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0006_search_bigram_index")]

    operations = [migrations.RunPython(add_order, migrations.RunPython.noop)]
