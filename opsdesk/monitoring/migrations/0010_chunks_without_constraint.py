"""Chunks and rollups keep their series' id without a foreign-key constraint in the database.

PostgreSQL checked the constraint for every chunk a filing pass copied in: a look-up of the series
and a lock of its row, with a WAL record, about half of a chunk's insert (3-5 µs against 7-9 µs of
the server's CPU a chunk, measured with 20,000-chunk passes). Django's own delete of a series
still deletes its chunks and rollups.

SQLite cannot drop a constraint: Django copies the two tables into new ones, once, during this
migration. Measured: 15-17 s for 2 million chunks (an 800 MB database); the copy needs as much
free disk space as the tables take.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0009_ingest_payload_lz4"),
    ]

    operations = [
        migrations.AlterField(
            model_name="chunk",
            name="series",
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="monitoring.series"),
        ),
        migrations.AlterField(
            model_name="rollup",
            name="series",
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="monitoring.series"),
        ),
    ]
