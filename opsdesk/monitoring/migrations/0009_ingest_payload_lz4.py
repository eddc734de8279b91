"""PostgreSQL compresses the queue's payloads with lz4 instead of pglz.

A pushed batch's payload (about 19 KB packed) is stored out of line and compressed. pglz cost the
server about 320 µs an insert; lz4 about 200, and reads are faster too, for a third more space
(measured on 3,000 packed batches of 1,000 samples: 19.1 MB with pglz, 25.3 MB with lz4). The rows
live a day, their payloads less (filed and emptied within seconds), so the space hardly matters.

A server built without lz4 refuses the statement: the column keeps its default then. SQLite
stores payloads as they are.
"""

from django.db import DatabaseError, migrations, transaction


def payloads_in_lz4(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = apps.get_model("monitoring", "IngestBatch")._meta.db_table
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN payload SET COMPRESSION lz4")
    except DatabaseError:  # "compression method lz4 not supported": pglz stays
        pass


def payloads_in_default(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    table = apps.get_model("monitoring", "IngestBatch")._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN payload SET COMPRESSION default")


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0008_ingest_queue_apart"),
    ]

    operations = [
        migrations.RunPython(payloads_in_lz4, payloads_in_default, elidable=False),
    ]
