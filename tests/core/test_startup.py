"""Start-up: a bad setting stops opsdesk with a message naming it; `opsdesk up` on a fresh data
directory answers /healthz with 200 within seconds and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from opsdesk import env

OPSDESK = [sys.executable, "-m", "opsdesk.cli"]


def run_opsdesk(args: list[str], tmp_path: Path, timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess:
    # The tier and secrets of the calling environment stay out: each test gives what it needs.
    inherited = {*env.SECRETS, *(f"{name}_FILE" for name in env.SECRETS)}
    environ = {k: v for k, v in os.environ.items() if k not in inherited}
    environ.update({"OPSDESK_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "opsdesk.settings"})
    environ.update(extra_env)
    return subprocess.run([*OPSDESK, *args], env=environ, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_setup_on_sqlite_gives_the_push_queue_its_table_with_monitorings_migrations_only(tmp_path):
    import sqlite3

    result = run_opsdesk(["setup"], tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    queue = sqlite3.connect(tmp_path / "data" / "opsdesk-ingest-queue.sqlite3")
    try:
        tables = {name for (name,) in queue.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        applied = {app for (app,) in queue.execute("SELECT DISTINCT app FROM django_migrations")}
    finally:
        queue.close()
    assert "monitoring_ingestbatch" in tables and "servicedesk_ticket" not in tables
    # The migrations of apps monitoring does not depend on are not stepped through there.
    assert "monitoring" in applied and "servicedesk" not in applied


@pytest.mark.slow
def test_a_new_queue_file_is_made_as_its_migrations_would_make_it(tmp_path):
    """A new queue file gets its table from the migrated state at once (migrate_the_queue); one
    that already has a table is migrated step by step. Both end with the same table, indexes and
    record of applied migrations, and nothing left to apply."""
    import sqlite3

    def queue_of(path):
        queue = sqlite3.connect(path / "data" / "opsdesk-ingest-queue.sqlite3")
        try:
            schema = sorted(sql for (sql,) in queue.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'monitoring_ingestbatch' AND sql IS NOT NULL"))
            applied = sorted(queue.execute("SELECT app, name FROM django_migrations"))
        finally:
            queue.close()
        return schema, applied

    at_once, stepped = tmp_path / "at_once", tmp_path / "stepped"
    (stepped / "data").mkdir(parents=True)
    with sqlite3.connect(stepped / "data" / "opsdesk-ingest-queue.sqlite3") as seeded:
        seeded.execute("CREATE TABLE left_from_before (x)")  # not new: the step-by-step way
    for path in (at_once, stepped):
        result = run_opsdesk(["setup"], path, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
    made, recorded = queue_of(at_once)
    assert any("CREATE TABLE" in sql for sql in made) and any("CREATE INDEX" in sql for sql in made)
    assert (made, recorded) == queue_of(stepped)
    left = run_opsdesk(["manage", "migrate", "monitoring", "--database", "ingest_queue", "--plan"], at_once)
    assert "No planned migration operations" in left.stdout, left.stdout + left.stderr


@pytest.mark.parametrize(("name", "value", "words"), [
    ("DATABASE_URL", "mysql://x@localhost/db", "scheme 'mysql' is not supported"),
    ("DATABASE_URL", "postgres://localhost:5432", "names no database"),
    ("OPSDESK_LISTEN", "localhost", "is not HOST:PORT"),
    ("OPSDESK_LISTEN", "127.0.0.1:99999", "outside 1-65535"),
    ("OPSDESK_DEBUG", "maybe", "is not a boolean"),
    ("OPSDESK_TIME_ZONE", "Mars/Olympus", "is not a known time zone"),
    ("CELERY_BROKER_URL", "kafka://x", "is not one of"),
    ("OPSDESK_LOGIN_FAILURE_LIMIT", "0", "less than the minimum 1"),
    ("OPSDESK_SECRET_KEY", "short", "at least 32 characters"),
])
def test_a_bad_setting_stops_start_up_naming_the_variable(tmp_path, name, value, words):
    result = run_opsdesk(["setup"], tmp_path, **{name: value})
    assert result.returncode == 2
    assert f"configuration error: {name}: " in result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_named(tmp_path):
    result = run_opsdesk(["setup"], tmp_path, DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
    assert result.returncode != 0
    assert "cannot connect to the database (DATABASE_URL)" in result.stderr


def test_the_parsers_accept_good_values(monkeypatch):
    monkeypatch.setenv("X_LISTEN", "[::1]:8080")
    assert env.env_listen("X_LISTEN", "127.0.0.1:8000") == ("::1", 8080)
    monkeypatch.setenv("X_BOOL", "Yes")
    assert env.env_bool("X_BOOL", False) is True
    monkeypatch.setenv("X_DB", "postgres://u@h:5432/d")
    assert env.env_database("X_DB", Path("/tmp/x"))["NAME"] == "d"


def test_help_lists_every_command_and_each_has_its_own_help(tmp_path):
    result = run_opsdesk(["--help"], tmp_path)
    assert result.returncode == 0
    from opsdesk.cli import COMMANDS

    for name, _text in COMMANDS:
        assert name in result.stdout
        if name == "manage":
            continue
        sub = run_opsdesk([name, "--help"], tmp_path)
        assert sub.returncode == 0, (name, sub.stderr)
        assert "usage:" in sub.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def fresh_database_url() -> Iterator[str]:
    """The configured DATABASE_URL, but an empty database of its own on the same PostgreSQL server,
    dropped afterwards; "" (SQLite in the data directory) where none is configured. So the first
    start is tested as a new installation makes it, whatever earlier runs left in the database."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        yield ""
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = f"opsdesk_up_{uuid.uuid4().hex[:12]}"
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.slow
def test_up_answers_healthz_and_stops_on_sigterm(tmp_path):
    with fresh_database_url() as database_url:
        up_answers_healthz_and_stops_on_sigterm(tmp_path, database_url)


def up_answers_healthz_and_stops_on_sigterm(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    environ = {**os.environ, "OPSDESK_DATA_DIR": str(tmp_path / "data"), "OPSDESK_LISTEN": f"127.0.0.1:{port}",
               "OPSDESK_ADMIN_PASSWORD": "a-long-admin-password", "DJANGO_SETTINGS_MODULE": "opsdesk.settings",
               "DATABASE_URL": database_url}
    # The tier under test is the one configured (SQLite + filesystem, or PostgreSQL + Redis in CI).
    proc = subprocess.Popen([*OPSDESK, "up"], env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    started = time.monotonic()
    body = None
    try:
        # A bound, not a speed check: how fast it starts is bench/idle_memory.py's start_to_healthy_s.
        while time.monotonic() - started < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = json.loads(response.read())
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        assert body is not None, "healthz never answered 200"
        assert body["status"] == "ok" and body["components"]["worker"]["status"] == "ok"
        assert body["components"]["collector"]["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode == 0
    assert "opsdesk: stopped" in output


def test_up_stops_instead_of_restarting_a_child_with_a_configuration_error(monkeypatch, capsys):
    """A child that exits 2 (its configuration error already printed) would fail again on every
    restart: the supervisor stops everything and exits 2."""
    from opsdesk import supervisor

    class Child:
        def __init__(self, name: str) -> None:
            self.name, self.signals = name, []

        def poll(self):
            return 2 if self.name == "web" else (0 if self.signals else None)

        def send_signal(self, signum) -> None:
            self.signals.append(signum)

        def wait(self, timeout=None) -> int:
            return 0

    spawned: list[str] = []

    def spawn(name, extra):
        spawned.append(name)
        return Child(name)

    monkeypatch.setattr(supervisor, "_spawn", spawn)
    # Keep the test runner's own SIGINT/SIGTERM handlers.
    monkeypatch.setattr(supervisor.signal, "signal", lambda signum, handler: None)
    assert supervisor.run_up(["--no-setup"]) == 2
    assert sorted(spawned) == sorted(supervisor.CHILDREN)  # started once each, never again
    assert "configuration error" in capsys.readouterr().out
