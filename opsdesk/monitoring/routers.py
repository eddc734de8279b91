"""Where the queue of pushed batches lives: in the `ingest_queue` database where there is one
(SQLite: a file of its own, see settings), else with everything else."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections

QUEUE = "ingest_queue"
_BATCH = "monitoring.ingestbatch"


def queue_database() -> str:
    """The alias the queue of pushed batches is read and written through."""
    return QUEUE if QUEUE in settings.DATABASES else "default"


def queue_apart() -> bool:
    """Whether the queue is a database of its own (so that its writes never wait for the filer's)."""
    return QUEUE in settings.DATABASES


def migrate_the_queue(sender: Any, using: str, apps: Any = None, **kwargs: Any) -> None:
    """post_migrate: migrating the main database migrates the queue's too, so that `opsdesk setup`,
    `opsdesk manage migrate` and every script that migrates leave no push without its table.
    Not for a test database (the queue's test database is made from the model)."""
    if sender.label != "monitoring" or using != "default" or not queue_apart():
        return
    if "mode=memory" in str(connections["default"].settings_dict["NAME"]):
        return
    if apps is not None and not connections[QUEUE].introspection.table_names():
        create_the_queue(apps)
    else:
        from django.core.management import call_command

        # Only monitoring's migrations and those they depend on: every other app's are no-ops
        # there, and stepping through them all took half of a first start's migrating (5 s of 11).
        call_command("migrate", "monitoring", database=QUEUE, interactive=False, verbosity=0)
    move_batches_left_behind()


def create_the_queue(apps: Any) -> None:
    """A new queue file: its one table made at once from the state the main database's migrations
    just reached (`apps`), and the migrations that would have made it recorded as applied, as
    `migrate --fake-initial` does. Stepping through those 38 migrations to make one table took a
    third of a first start's migrating; an existing queue file is still migrated step by step."""
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder

    queue = connections[QUEUE]
    graph = MigrationLoader(queue, ignore_no_migrations=True).graph
    plan = {node for leaf in graph.leaf_nodes("monitoring") for node in graph.forwards_plan(leaf)}
    recorder = MigrationRecorder(queue)
    recorder.ensure_schema()
    with queue.schema_editor() as editor:  # atomic: a crash leaves the file new, and it starts again
        editor.create_model(apps.get_model("monitoring", "IngestBatch"))
        for app_label, name in sorted(plan):
            recorder.record_applied(app_label, name)


def move_batches_left_behind() -> int:
    """Move the batches of an install from before the queue had a SQLite file of its own into it:
    they were in the main database's table, which nothing reads since (its unfiled batches would
    never be filed). Filed ones go too (a re-send of one is known by it for a day). Then that
    table goes. Each statement commits on its own: run again after a crash in between, the move
    adds none twice (an agent's sequence number is unique in the queue). Answers how many moved."""
    main = connections["default"]
    table = "monitoring_ingestbatch"
    if table not in main.introspection.table_names():
        return 0
    columns = "agent_id, seq, samples, payload, received_at, filed_at"
    with main.cursor() as cursor:
        cursor.execute("ATTACH DATABASE %s AS queue", [str(settings.DATABASES[QUEUE]["NAME"])])
        try:
            cursor.execute(f"INSERT OR IGNORE INTO queue.{table} ({columns}) "
                           f"SELECT {columns} FROM main.{table} ORDER BY id")
            moved = cursor.rowcount
            cursor.execute(f"DROP TABLE main.{table}")
        finally:
            cursor.execute("DETACH DATABASE queue")
    return moved


class IngestQueueRouter:
    """Sends IngestBatch to the queue's database, and nothing else there."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if not queue_apart():
            return None
        # Everything else in the main database, said outright: a batch's agent (batch.agent)
        # would otherwise be looked for in the batch's own database.
        return QUEUE if model._meta.label_lower == _BATCH else "default"

    db_for_write = db_for_read

    def allow_relation(self, first: Any, second: Any, **hints: Any) -> bool | None:
        # A batch names its agent across the two databases (agent_id, no foreign key constraint).
        if _BATCH in (first._meta.label_lower, second._meta.label_lower):
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        if not queue_apart():
            return None
        is_batch = f"{app_label}.{model_name}" == _BATCH
        if db == QUEUE:
            return is_batch  # data migrations (no model name) do not run there either
        return False if is_batch else None
