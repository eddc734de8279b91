"""GET /api/monitoring/items/{id}/availability/ and /api/monitoring/checks/{id}/availability/:
the numbers of a fixed history, scoped to the person (another customer's item is 404), bad times
are 400s that name the field, and both are in the OpenAPI schema."""

from __future__ import annotations

import datetime as dt

import pytest

from opsdesk.monitoring.models import CheckStateChange, MaintenanceWindow
from tests.conftest import api_client_for
from tests.factories import ConfigurationItemFactory, make_check_in_state

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
HOUR = 3600.0


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


@pytest.fixture
def item(customer_a):
    item = ConfigurationItemFactory(customer=customer_a, name="web-01")
    ping = make_check_in_state(item, "ok", name="ping")
    http = make_check_in_state(item, "ok", name="http")
    for check, changes in ((ping, [(h(1), "ok"), (h(10), "critical"), (h(12), "ok")]),
                           (http, [(h(1), "ok"), (h(5), "warning"), (h(6), "ok")])):
        previous = "pending"
        for at, state in changes:
            CheckStateChange.objects.create(monitor_check=check, previous=previous, state=state, at=at)
            previous = state
    window = MaintenanceWindow.objects.create(customer=customer_a, name="patching", starts_at=h(11), ends_at=h(14))
    window.configuration_items.add(item)
    return item


def url(kind: str, pk: int) -> str:
    return f"/api/monitoring/{kind}/{pk}/availability/"


def test_an_items_availability_and_its_checks(admin_api, item):
    response = admin_api.get(url("items", item.pk), {"start": T0.isoformat(), "end": h(24).isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["item"] == item.pk and body["name"] == "web-01"
    assert body["seconds"] == {"ok": 18 * HOUR, "warning": 1 * HOUR, "critical": 1 * HOUR, "unknown": 0.0,
                               "no_data": 1 * HOUR, "maintenance": 3 * HOUR}
    assert body["availability_percent"] == 95.0
    assert [(d["start"], d["end"]) for d in body["down"]] == [("2026-03-02T18:00:00+08:00",
                                                               "2026-03-02T19:00:00+08:00")]
    assert len(body["maintenance"]) == 1
    assert [c["name"] for c in body["checks"]] == ["http", "ping"]
    http, ping = body["checks"]
    assert http["seconds"]["warning"] == HOUR and http["availability_percent"] == 100.0
    assert ping["seconds"]["critical"] == HOUR


def test_a_checks_availability(admin_api, item):
    ping = item.checks.get(name="ping")
    body = admin_api.get(url("checks", ping.pk), {"start": int(T0.timestamp()),
                                                  "end": int(h(24).timestamp())}).json()
    assert body["check"] == ping.pk and body["item"] == item.pk
    assert body["seconds"]["critical"] == HOUR and body["seconds"]["maintenance"] == 3 * HOUR


def test_the_default_period_is_the_last_30_days(admin_api, item):
    body = admin_api.get(url("items", item.pk)).json()
    start, end = dt.datetime.fromisoformat(body["start"]), dt.datetime.fromisoformat(body["end"])
    assert end - start == dt.timedelta(days=30)
    assert sum(body["seconds"].values()) == pytest.approx(30 * 86400, abs=1)


def test_a_customer_user_sees_their_own_items_availability(customer_api, item):
    assert customer_api.get(url("items", item.pk)).status_code == 200
    assert customer_api.get(url("checks", item.checks.first().pk)).status_code == 200


def test_another_customers_item_and_check_are_404(other_customer_user, item):
    api = api_client_for(other_customer_user)
    for kind, pk in (("items", item.pk), ("checks", item.checks.first().pk)):
        response = api.get(url(kind, pk))
        assert response.status_code == 404, (kind, response.content)
        assert "seconds" not in response.json()
    assert api.get(url("items", 2**63 + 5)).status_code == 404


def test_without_login_it_is_refused(client, item):
    assert client.get(url("items", item.pk)).status_code in (401, 403)


@pytest.mark.parametrize(("params", "field"), [
    ({"start": "yesterday"}, "start"),
    ({"end": "2026-13-45"}, "end"),
    ({"start": "-5"}, "start"),
    ({"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T09:00:00Z"}, "end"),
    ({"start": "2020-01-01", "end": "2026-01-01"}, "start"),
])
def test_bad_times_are_400s_that_name_the_field(admin_api, item, params, field):
    for kind, pk in (("items", item.pk), ("checks", item.checks.first().pk)):
        response = admin_api.get(url(kind, pk), params)
        assert response.status_code == 400, response.content
        body = response.json()
        assert list(body) == [field]
        assert isinstance(body[field], list) and body[field][0]


def test_both_are_in_the_schema(admin_api):
    schema = admin_api.get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/monitoring/items/{id}/availability/", "/api/monitoring/checks/{id}/availability/"):
        operation = schema["paths"][path]["get"]
        assert {p["name"] for p in operation["parameters"]} >= {"start", "end", "id"}
        assert "200" in operation["responses"]
