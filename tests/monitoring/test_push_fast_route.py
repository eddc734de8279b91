"""The push answered before Django's handler (opsdesk/core/fast_routes.py), through the WSGI
application itself, as the web server calls it: a good batch is stored by the fast route, anything else
is answered by Django's way exactly as before, reading the same body."""

from __future__ import annotations

import io
import json

import orjson
import psycopg
import pytest
from django.db import connection
from django.urls import reverse

from opsdesk.core.models.tokens import new_raw_token
from opsdesk.monitoring.api.views import PUSH_PATH
from opsdesk.monitoring.models import Agent, IngestBatch
from opsdesk.wsgi import application
from tests.factories import make_agent

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
T0 = 1_764_000_000.0


def call(body: bytes, *, token: str | None, content_type: str = "application/json", method: str = "POST",
         path: str = PUSH_PATH, language: str = "") -> tuple[str, dict, bytes]:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
               "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
               "wsgi.errors": io.StringIO(), "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if language:
        environ["HTTP_ACCEPT_LANGUAGE"] = language
    seen: dict = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    parts = application(environ, start_response)
    out = b"".join(parts)
    if hasattr(parts, "close"):
        parts.close()
    return seen["status"], seen["headers"], out


def columns_body(seq: int) -> bytes:
    return orjson.dumps({"seq": seq, "columns": [["cpu_usage_percent", {"cpu": "0"}, [T0], [1.5]]]})


def test_the_fast_route_is_the_push_apis_path():
    assert reverse("monitoring-push") == PUSH_PATH


def test_a_good_batch_is_stored_by_the_fast_route(customer_a):
    raw = new_raw_token()
    agent = make_agent(customer_a, raw=raw)
    status, headers, out = call(columns_body(3), token=raw)
    assert status == "200 OK"
    assert json.loads(out) == {"stored_up_to": 3}
    assert headers["Content-Type"] == "application/json"
    # Django's middleware did not run: no session cookie, no security headers of its own.
    assert "X-Frame-Options" not in headers
    assert list(IngestBatch.objects.values_list("agent_id", "seq", "samples")) == [(agent.id, 3, 1)]


def test_a_bad_batch_falls_through_to_djangos_answer_in_the_persons_language(customer_a):
    raw = new_raw_token()
    make_agent(customer_a, raw=raw)
    body = orjson.dumps({"seq": 1, "columns": [["cpu", {}, [T0], ["x"]]]})
    status, headers, out = call(body, token=raw, language="zh-hans")
    assert status.startswith("400")
    assert json.loads(out) == {"columns": {"0": {"values": {"0": ["需要一个数字。"]}}}}
    assert "X-Frame-Options" in headers  # Django's way answered it
    assert IngestBatch.objects.count() == 0


def test_an_unknown_token_falls_through_to_a_401(customer_a):
    make_agent(customer_a, raw=new_raw_token())
    status, _headers, out = call(columns_body(1), token=new_raw_token())
    assert status.startswith("401")
    assert "detail" in json.loads(out)
    assert IngestBatch.objects.count() == 0


def test_another_content_type_falls_through_to_a_415(customer_a):
    raw = new_raw_token()
    make_agent(customer_a, raw=raw)
    status, _headers, _out = call(columns_body(1), token=raw, content_type="text/plain")
    assert status.startswith("415")
    assert IngestBatch.objects.count() == 0


def test_other_paths_and_methods_are_djangos(customer_a):
    raw = new_raw_token()
    make_agent(customer_a, raw=raw)
    status, _headers, _out = call(b"", token=raw, method="GET")
    assert status.startswith("405")
    status, _headers, out = call(columns_body(1), token=raw, path="/api/monitoring/inventory/")
    assert status.startswith("400")  # the inventory view read the body: not the push's
    assert "collected_at" in json.loads(out)
    assert IngestBatch.objects.count() == 0


def test_a_declined_push_is_not_tried_again_by_the_view(customer_a, monkeypatch):
    from opsdesk.monitoring.api import views

    make_agent(customer_a, raw=new_raw_token())
    looked_up = []
    original = views.pushing_agent
    monkeypatch.setattr(views, "pushing_agent", lambda header: looked_up.append(header) or original(header))
    status, _headers, _out = call(columns_body(1), token=new_raw_token())
    assert status.startswith("401")
    assert len(looked_up) == 1  # by the fast route; DRF's authentication answered the rest


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite has no server to "
                    "close the connection, and Django checks no SQLite connection's health")
def test_a_push_on_a_connection_the_server_closed_is_stored_after_djangos_reconnect(customer_a):
    """The fast route skips Django's health-check query and lets its own first query find a dead
    connection: it declines, and Django's way checks the connection, reconnects and stores."""
    raw = new_raw_token()
    agent = make_agent(customer_a, raw=raw)
    assert call(columns_body(1), token=raw)[0] == "200 OK"
    # A connection is kept between requests (CONN_MAX_AGE): the server ends it meanwhile.
    old_pid = connection.connection.info.backend_pid
    with psycopg.connect(_dsn(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    status, _headers, out = call(columns_body(2), token=raw)
    assert status == "200 OK", out
    assert connection.connection.info.backend_pid != old_pid
    assert sorted(IngestBatch.objects.filter(agent=agent).values_list("seq", flat=True)) == [1, 2]


def _dsn() -> str:
    params = connection.get_connection_params()
    return " ".join(f"{key}={value}" for key, value in params.items()
                    if key in ("host", "port", "user", "password", "dbname") and value)


def test_a_pushing_agent_is_looked_up_once_in_a_few_seconds(customer_a, monkeypatch):
    """The agent of a token is kept AGENT_CACHE_SECONDS: the next pushes within them make no query
    for it, and one after them looks again, and finds an agent deleted elsewhere (no signal here)
    gone."""
    from django.test.utils import CaptureQueriesContext

    from opsdesk.monitoring import pushing_agents

    raw = new_raw_token()
    agent = make_agent(customer_a, raw=raw)
    clock = [1000.0]
    monkeypatch.setattr(pushing_agents.time, "monotonic", lambda: clock[0])
    assert call(columns_body(1), token=raw)[0] == "200 OK"
    with CaptureQueriesContext(connection) as queries:
        assert call(columns_body(2), token=raw)[0] == "200 OK"
    assert not [q for q in queries.captured_queries if "key_hash" in q["sql"]]
    # Deleted by another process: no signal reaches this one, which accepts pushes a few seconds more.
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Agent._meta.db_table} WHERE id = %s", [agent.pk])
    clock[0] += pushing_agents.AGENT_CACHE_SECONDS - 0.5
    assert call(columns_body(3), token=raw)[0] == "200 OK"
    clock[0] += 1.0
    assert call(columns_body(4), token=raw)[0].startswith("401")
    assert sorted(IngestBatch.objects.values_list("seq", flat=True)) == [1, 2, 3]


def test_a_push_while_filing_is_behind_is_answered_429_by_the_fast_route_as_djangos_way_would(customer_a):
    """Under back-pressure every push is refused for a while: the fast route answers the 429 itself
    (Django's handling of each cost 3-4 ms), with the body and Retry-After of Django's way, in the
    site's language; a push that asks for a language is answered by Django's way."""
    from django.conf import settings
    from django.utils import translation

    from opsdesk.monitoring import services
    from opsdesk.monitoring.api import views

    raw = new_raw_token()
    make_agent(customer_a, raw=raw)
    services._backlog_seen = (1e18, True)  # behind, as looked up a moment ago
    status, headers, out = call(columns_body(1), token=raw)
    assert status == "429 Too Many Requests"
    assert headers["Retry-After"] == "1" and headers["Content-Type"] == "application/json"
    assert "Vary" not in headers  # the fast route's: no middleware ran
    # Django's way, asked in the site's language, says the same.
    djangos = call(columns_body(1), token=raw, language=settings.LANGUAGE_CODE)
    assert djangos[0] == status and djangos[1]["Retry-After"] == "1" and "Vary" in djangos[1]
    assert json.loads(out) == json.loads(djangos[2])
    with translation.override(settings.LANGUAGE_CODE):
        assert json.loads(out)["detail"].startswith(str(views.BEHIND))
    status, headers, out = call(columns_body(1), token=raw, language="zh-hans")
    assert status.startswith("429") and headers["Retry-After"] == "1"
    assert json.loads(out)["detail"].startswith("样本归档的速度慢于到达的速度：请在一秒后重新发送该批次。")
    assert not IngestBatch.objects.exists()
