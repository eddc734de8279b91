import errno
import sqlite3

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError, connections
from django.urls import reverse
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from opsdesk.core import health, registry, services
from opsdesk.core.models import Heartbeat, Role
from opsdesk.core.views import errors
from tests.conftest import api_client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"
skip_unless_sqlite = pytest.mark.skipif(connections["default"].vendor != "sqlite", reason="SQLite's own locking")


def test_healthz_is_503_without_a_worker_heartbeat(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["broker"]["status"] == "ok"
    assert body["components"]["worker"]["status"] == "missing"


def test_healthz_is_200_with_a_fresh_heartbeat(client):
    services.beat("worker", "test")
    services.beat("collector", "test")
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"


def test_a_stale_heartbeat_is_reported(client, settings):
    Heartbeat.objects.create(name="worker", at=timezone.now() - timezone.timedelta(hours=1))
    body = client.get("/healthz").json()
    assert body["components"]["worker"]["status"] == "stale"


def test_the_heartbeat_task_writes_a_heartbeat():
    from opsdesk.core.tasks import heartbeat

    heartbeat.delay()
    assert Heartbeat.objects.filter(name="worker").exists()


def test_metrics_are_prometheus_text(client, customer_a):
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "opsdesk_up 1.0" in text and "opsdesk_customers 1.0" in text and "process_resident_memory_bytes" in text


class _Usage:
    def __init__(self, free: int, total: int = 10 * 1024**3) -> None:
        self.free, self.total, self.used = free, total, total - free


def test_healthz_reports_the_data_disk(client):
    services.beat("worker", "test")
    services.beat("collector", "test")
    disk = client.get("/healthz").json()["components"]["disk"]
    assert disk["status"] == "ok" and disk["free_bytes"] > 0 and disk["total_bytes"] >= disk["free_bytes"]


def test_a_nearly_full_data_disk_makes_healthz_fail(client, monkeypatch, settings):
    services.beat("worker", "test")
    services.beat("collector", "test")
    settings.DATA_DISK_MIN_FREE_BYTES = 100 * 1024 * 1024
    monkeypatch.setattr(health, "data_disk_usage", lambda: _Usage(free=50 * 1024 * 1024))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["components"]["disk"]["status"] == "error"
    assert body["components"]["disk"]["free_bytes"] == 50 * 1024 * 1024
    assert body["components"]["database"]["status"] == "ok"


def test_metrics_have_the_data_disk_even_when_the_database_fails(client, monkeypatch):
    monkeypatch.setattr(health, "data_disk_usage", lambda: _Usage(free=12345))
    text = client.get("/metrics").content.decode()
    assert "opsdesk_data_disk_free_bytes 12345.0" in text and "opsdesk_data_disk_total_bytes" in text
    monkeypatch.setattr(health, "check_database", lambda: {"status": "error"})
    text = client.get("/metrics").content.decode()
    assert "opsdesk_up 0.0" in text and "opsdesk_data_disk_free_bytes 12345.0" in text
    assert "opsdesk_customers" not in text


def test_healthz_and_metrics_come_from_the_registry(client, monkeypatch):
    services.beat("worker", "test")
    services.beat("collector", "test")
    assert {"database", "broker", "worker", "disk"} <= set(registry.registry["health_checks"])
    monkeypatch.setitem(registry.registry["health_checks"], "extra", lambda: {"status": "ok", "n": 1})
    assert client.get("/healthz").json()["components"]["extra"] == {"status": "ok", "n": 1}

    def broken() -> dict:
        raise RuntimeError("the check itself failed")

    monkeypatch.setitem(registry.registry["health_checks"], "extra", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["components"]["extra"] == {"status": "error", "error": "the check itself failed"}

    def figures():
        yield GaugeMetricFamily("opsdesk_test_figure", "A figure an app registered", value=7)

    registry.add_metrics(figures)
    try:
        assert "opsdesk_test_figure 7.0" in client.get("/metrics").content.decode()
    finally:
        registry.registry["metrics"].remove(figures)


# --- a locked database and a full disk: 503/507 that say so, never a bare 500 -----------------

@pytest.fixture
def file_database(tmp_path):
    """The test database copied to a file, as the default connection, for the test's duration:
    another sqlite3 connection can then hold its write lock like a second process would. The
    lock timeout is short so the test does not wait the configured seconds."""
    original = connections["default"]
    path = tmp_path / "opsdesk.sqlite3"
    original.ensure_connection()
    # A dump rather than sqlite3's backup(), which waits for ever on the test's open transaction.
    copy = sqlite3.connect(path)
    copy.executescript("\n".join(original.connection.iterdump()))
    copy.close()
    options = {**original.settings_dict.get("OPTIONS", {}), "timeout": 0.2}
    assert options.get("transaction_mode") == "IMMEDIATE"
    swapped = original.__class__({**original.settings_dict, "NAME": str(path), "OPTIONS": options}, "default")
    connections["default"] = swapped
    try:
        yield path
    finally:
        swapped.close()
        connections["default"] = original


@pytest.fixture
def write_lock(file_database):
    """Returns a function that takes SQLite's write lock from another connection."""
    holders: list[sqlite3.Connection] = []

    def take() -> sqlite3.Connection:
        holder = sqlite3.connect(file_database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holders.append(holder)
        return holder

    yield take
    for holder in holders:
        holder.close()


def _admin_api():
    admin = UserFactory(username="alma", role=Role.ADMIN)
    return admin, api_client_for(admin)


@skip_unless_sqlite
def test_an_api_write_while_another_process_holds_the_lock_is_503_with_retry_after(write_lock):
    _admin, api = _admin_api()
    holder = write_lock()
    response = api.post("/api/core/customers/", {"code": "GAMMA", "name": "Gamma"}, format="json",
                        HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "locked"
    assert "数据库" in response.json()["detail"]
    holder.rollback()
    assert api.post("/api/core/customers/", {"code": "GAMMA", "name": "Gamma"}, format="json").status_code == 201


@skip_unless_sqlite
def test_a_page_that_writes_while_the_database_is_locked_is_503_with_retry_after(client, write_lock):
    UserFactory(username="lena", password=PASSWORD)
    write_lock()
    response = client.post(reverse("login"), {"username": "lena", "password": PASSWORD})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert 'id="error-busy"' in page and "try again in a few seconds" in page


@skip_unless_sqlite
def test_an_api_write_on_a_full_disk_is_507(file_database):
    _admin, api = _admin_api()
    # SQLite's own "database or disk is full": the file may not grow by a single page.
    with connections["default"].cursor() as cursor:
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
    response = api.post("/api/core/customers/", {"code": "DELTA", "name": "Delta", "notes": "x" * 200_000},
                        format="json")
    assert response.status_code == 507
    assert response.json()["code"] == "disk_full"
    assert "disk is full" in response.json()["detail"]


def test_a_page_on_a_full_disk_is_507_in_the_persons_language(client, monkeypatch, db):
    UserFactory(username="lena", password=PASSWORD)

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SessionStore, "create", no_space)
    response = client.post(reverse("login"), {"username": "lena", "password": PASSWORD},
                           HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 507
    page = response.content.decode()
    assert 'id="error-disk-full"' in page and "磁盘" in page


def test_trouble_raised_outside_a_view_is_recognised_by_the_500_handler(rf):
    try:
        raise OperationalError("database is locked")
    except OperationalError:
        response = errors.server_error(rf.get("/api/core/customers/"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    try:
        raise ValueError("a real bug")
    except ValueError:
        response = errors.server_error(rf.get("/api/core/customers/"))
    assert response.status_code == 500


@pytest.mark.parametrize(("exc", "kind"), [
    (sqlite3.OperationalError("database is locked"), errors.LOCKED),
    (sqlite3.OperationalError("database or disk is full"), errors.DISK_FULL),
    (OSError(errno.ENOSPC, "No space left on device"), errors.DISK_FULL),
    (type("DiskFull", (Exception,), {"sqlstate": "53100"})("could not extend file"), errors.DISK_FULL),
    (sqlite3.OperationalError("no such table: x"), None),
    (OSError(errno.EACCES, "Permission denied"), None),
    (ValueError("database is fine"), None),
])
def test_database_trouble_is_told_apart(exc, kind):
    assert errors.database_trouble(exc) == kind


def test_django_wraps_sqlite_errors_and_they_are_still_recognised():
    from django.db.utils import DatabaseErrorWrapper

    class Wrapper:
        Database = sqlite3
        errors_occurred = False

    with pytest.raises(OperationalError) as caught, DatabaseErrorWrapper(Wrapper()):
        raise sqlite3.OperationalError("database or disk is full")
    assert errors.database_trouble(caught.value) == errors.DISK_FULL


def test_an_error_raised_while_handling_a_lock_is_not_mistaken_for_it():
    try:
        try:
            raise OperationalError("database is locked")
        except OperationalError:
            raise KeyError("a bug in the retry") from None
    except KeyError as exc:
        assert errors.database_trouble(exc) is None
