"""The queue of pushed batches where it is a database of its own (SQLite: a file beside the main
database, opsdesk/monitoring/routers.py): pushes never wait for the filer's writes, and filing
keeps its place in the main database, committed with the chunks."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from opsdesk.core.models.tokens import new_raw_token
from opsdesk.monitoring import filing
from opsdesk.monitoring.models import Chunk, IngestBatch, StoreCursor
from opsdesk.monitoring.routers import queue_apart
from tests.factories import make_agent

T0 = 1_764_000_000.0
SQLITE_ONLY = pytest.mark.skipif(not queue_apart(), reason="needs SQLite: on PostgreSQL the queue is in the one "
                                 "database, filed in the same transaction as the chunks")


def _sqlite_environ(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    # Tasks queued as `opsdesk up` queues them (the filesystem queue): the push's wake-up of the
    # filer must not run the filer right there.
    environ = {k: v for k, v in environ.items() if k != "OPSDESK_TASKS_EAGER"}
    environ.update({"OPSDESK_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "opsdesk.settings"})
    return environ


COMMAND = [sys.executable, "-m", "opsdesk.cli"]


def _set_up_sqlite(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """`opsdesk setup` in a data directory of its own: its environment and the directory."""
    environ = _sqlite_environ(tmp_path)
    result = subprocess.run([*COMMAND, "setup"], env=environ, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return environ, tmp_path / "data"


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# Run by `opsdesk manage shell` in a data directory of its own: an agent pushes while another
# connection holds the main database's write lock, as the filer does during a pass.
_PUSH_WHILE_LOCKED = """
import sqlite3, time, orjson
from django.conf import settings
from opsdesk.core.models import Customer
from opsdesk.monitoring import ingest, services
customer = Customer.objects.create(name="Queue test", code="QUEUE")
token, raw = services.create_enrolment_token(customer, name="t", actor=None)
agent, _key = services.enrol(raw, hostname="host-1")
body = orjson.dumps({"seq": 1, "columns": [["load1", {}, [1764000000.0], [0.5]]]})
holder = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
holder.execute("BEGIN IMMEDIATE")  # the main database's one writer, held
started = time.monotonic()
services.accept_batch(agent, *ingest.checked(body))
print("stored in", round(time.monotonic() - started, 3))
holder.execute("ROLLBACK")
"""


# Run on every tier: the processes it starts use SQLite whatever database the suite is on.
def test_setup_puts_the_queue_in_a_file_of_its_own_and_a_push_does_not_wait_for_the_main_database(tmp_path):
    environ, data = _set_up_sqlite(tmp_path)
    assert "monitoring_ingestbatch" in _tables(data / "opsdesk-ingest-queue.sqlite3")
    assert "monitoring_ingestbatch" not in _tables(data / "opsdesk.sqlite3")
    assert "monitoring_agent" in _tables(data / "opsdesk.sqlite3")
    # The main database's busy timeout is 5 s (OPSDESK_SQLITE_TIMEOUT_SECONDS): a push that waited
    # for its lock would take that long and then fail.
    environ["OPSDESK_SQLITE_TIMEOUT_SECONDS"] = "2"
    pushed = subprocess.run([*COMMAND, "manage", "shell", "-c", _PUSH_WHILE_LOCKED], env=environ,
                            capture_output=True, text=True, timeout=120)
    assert pushed.returncode == 0, pushed.stderr
    assert float(pushed.stdout.split("stored in")[1]) < 1.0
    with sqlite3.connect(data / "opsdesk-ingest-queue.sqlite3") as db:
        assert db.execute("SELECT seq, samples, filed_at FROM monitoring_ingestbatch").fetchall() == [(1, 1, None)]


# Run on every tier, as the one above.
def test_an_install_from_before_the_queue_had_its_file_has_its_batches_moved_there(tmp_path):
    environ, data = _set_up_sqlite(tmp_path)
    main, queue = data / "opsdesk.sqlite3", data / "opsdesk-ingest-queue.sqlite3"
    # As an older install left it: the queue's table in the main database, with an unfiled batch,
    # a filed one, and one the queue has already (a move that crashed before dropping the table).
    with sqlite3.connect(queue) as db:
        (schema,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'monitoring_ingestbatch'").fetchone()
        db.execute("INSERT INTO monitoring_ingestbatch (agent_id, seq, samples, payload, received_at, filed_at) "
                   "VALUES (5, 3, 1, X'01', '2026-11-01 00:00:03', NULL)")
    with sqlite3.connect(main) as db:
        db.execute(schema)
        db.executemany("INSERT INTO monitoring_ingestbatch (agent_id, seq, samples, payload, received_at, filed_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [(5, 1, 2, b"filed", "2026-11-01 00:00:01", "2026-11-01 00:00:02"),
                        (5, 2, 3, b"unfiled", "2026-11-01 00:00:02", None),
                        (5, 3, 9, b"again", "2026-11-01 00:00:03", None)])
    for _run in range(2):  # and again: nothing left to move
        migrated = subprocess.run([*COMMAND, "manage", "migrate", "--no-input"], env=environ, capture_output=True,
                                  text=True, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
    assert "monitoring_ingestbatch" not in _tables(main)
    with sqlite3.connect(queue) as db:
        rows = db.execute("SELECT agent_id, seq, samples, payload, filed_at IS NULL FROM monitoring_ingestbatch "
                          "ORDER BY seq").fetchall()
    assert rows == [(5, 1, 2, b"filed", 0), (5, 2, 3, b"unfiled", 1), (5, 3, 1, b"\x01", 1)]


@SQLITE_ONLY
@pytest.mark.django_db
def test_a_pass_after_a_crash_between_its_commit_and_the_queues_mark_files_nothing_twice(customer_a):
    raw = new_raw_token()
    agent = make_agent(customer_a, raw=raw)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for seq in (1, 2):
        body = {"seq": seq, "columns": [["load1", {}, [T0 + seq], [float(seq)]]]}
        answer = client.post("/api/monitoring/push/", data=json.dumps(body), content_type="application/json")
        assert answer.status_code == 200
    assert filing.file_pass() == (2, 2, False)
    last = IngestBatch.objects.order_by("-id").values_list("id", flat=True).first()
    assert StoreCursor.objects.get(name=filing.CURSOR).value == last
    chunks = Chunk.objects.count()
    # The pass committed (chunks and place in the main database); the queue was not marked.
    IngestBatch.objects.update(filed_at=None)
    assert filing.file_pass() == (0, 0, False)
    assert Chunk.objects.count() == chunks
    assert not IngestBatch.objects.filter(filed_at=None).exists()
    agent.refresh_from_db()
    assert agent.last_seq == 2 and agent.last_seen_at is not None


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: column compression is "
                    "PostgreSQL's (SQLite stores payloads as they are)")
def test_the_queues_payloads_are_compressed_with_lz4_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'payload'",
                       [IngestBatch._meta.db_table])
        assert cursor.fetchone()[0] == "l"
