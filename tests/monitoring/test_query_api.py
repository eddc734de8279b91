"""GET /api/monitoring/query/ and /api/monitoring/status/: the resolution follows the range (raw
samples for an hour, hourly rollups for 30 days, written by the store's housekeeping), bad
parameters are 400s that name them, and nobody reads another customer's series or items."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.test import override_settings

from opsdesk.monitoring.models import Check
from opsdesk.monitoring.store import choose_step, get_store
from tests.conftest import api_client_for
from tests.factories import (
    ConfigurationItemFactory,
    make_check_in_state,
    make_series,
    make_series_with_points,
)

pytestmark = pytest.mark.django_db

URL = "/api/monitoring/query/"
STATUS = "/api/monitoring/status/"
HOUR = 3600
# A whole hour, three hours before now: the last hour and the last 30 days are both "now".
NOW = float(int(time.time()) // HOUR * HOUR)


def query(api, *series, **params):
    return api.get(URL, {"series": [s.pk if hasattr(s, "pk") else s for s in series], **params})


@pytest.fixture
def month(customer_a):
    """30 days of a sample every 5 minutes (value = minutes past the hour, 0..55), rolled up."""
    item = ConfigurationItemFactory(customer=customer_a, name="db-01")
    start = NOW - 30 * 86400
    points = [(start + i * 300, float((i * 5) % 60)) for i in range(30 * 288 + 1)]
    series = make_series_with_points(item, "cpu_usage_percent", points)
    done = get_store().housekeeping(NOW)
    assert done["rolled_up"] >= 1
    return series


def test_the_last_hour_is_raw_samples(admin_api, customer_a):
    series = make_series(customer_a, points=[(NOW - 1200, 10.0), (NOW - 600, 30.0), (NOW - 7200, 99.0)])

    body = query(admin_api, series, start=NOW - HOUR, end=NOW).json()

    assert body["start"] == NOW - HOUR and body["end"] == NOW
    [answer] = body["series"]
    assert answer["id"] == series.pk and answer["name"] == "cpu_usage_percent"
    assert answer["item"] == series.configuration_item_id and answer["labels"] == {}
    assert answer["step"] == 0
    assert answer["points"] == [[NOW - 1200, 10.0, 10.0, 10.0], [NOW - 600, 30.0, 30.0, 30.0]]


def test_without_a_range_it_is_the_last_hour(admin_api, customer_a):
    now = time.time()
    series = make_series(customer_a, points=[(now - 120, 1.0), (now - 2 * HOUR, 2.0)])
    body = query(admin_api, series).json()
    assert body["end"] - body["start"] == HOUR
    assert [p[1] for p in body["series"][0]["points"]] == [1.0]


def test_thirty_days_are_hourly_rollups_with_min_max_and_average(admin_api, month):
    body = query(admin_api, month, start=NOW - 30 * 86400, end=NOW).json()

    [answer] = body["series"]
    assert answer["step"] == HOUR
    points = answer["points"]
    assert 715 <= len(points) <= 722
    ts, avg, low, high = points[len(points) // 2]
    assert ts % HOUR == 0
    assert (low, high) == (0.0, 55.0)
    assert avg == pytest.approx(27.5)


def test_three_days_are_five_minute_rollups(admin_api, month):
    answer = query(admin_api, month, start=NOW - 3 * 86400, end=NOW).json()["series"][0]
    assert answer["step"] == 300
    assert 3 * 288 <= len(answer["points"]) <= 3 * 288 + 2
    assert answer["points"][-2][1:] == [55.0, 55.0, 55.0]  # one sample per bucket


@pytest.mark.parametrize("days", [1, 7, 30])
def test_the_step_is_the_stores_choice(admin_api, month, days):
    answer = query(admin_api, month, start=NOW - days * 86400, end=NOW).json()["series"][0]
    assert answer["step"] == choose_step(NOW - days * 86400, NOW)


def test_a_step_can_be_asked_for(admin_api, month):
    answer = query(admin_api, month, start=NOW - 7 * 86400, end=NOW, step=6 * HOUR).json()["series"][0]
    assert answer["step"] == 6 * HOUR
    assert 28 <= len(answer["points"]) <= 30


def test_times_are_iso_8601_or_unix_seconds(admin_api, admin, customer_a):
    series = make_series(customer_a, points=[(NOW - 1800, 5.0)])
    at = dt.datetime.fromtimestamp(NOW, tz=dt.UTC)
    with_offset = query(admin_api, series, start=(at - dt.timedelta(hours=1)).isoformat(), end=at.isoformat())
    assert with_offset.status_code == 200, with_offset.content
    assert with_offset.json()["series"][0]["points"][0][1] == 5.0
    # A time without an offset is in the person's time zone (Asia/Shanghai unless they chose one).
    shanghai = at.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    naive = query(admin_api, series, start=(shanghai - dt.timedelta(hours=1)).isoformat(), end=shanghai.isoformat())
    assert (naive.json()["start"], naive.json()["end"]) == (NOW - HOUR, NOW)
    admin.time_zone = "UTC"
    admin.save()
    in_utc = query(admin_api, series, start=(at - dt.timedelta(hours=1)).replace(tzinfo=None).isoformat(),
                   end=at.replace(tzinfo=None).isoformat())
    assert in_utc.json()["end"] == NOW
    zulu = query(admin_api, series, start=f"{(at - dt.timedelta(hours=1)):%Y-%m-%dT%H:%M:%S}Z", end=str(int(NOW)))
    assert zulu.json()["start"] == NOW - HOUR


@pytest.mark.parametrize(("params", "field"), [
    ({"start": "yesterday"}, "start"),
    ({"end": "2026-13-45T00:00:00"}, "end"),
    ({"start": "-5"}, "start"),
    ({"start": "1e400"}, "start"),
    ({"start": "99999999999999999999"}, "start"),
    ({"start": "nan"}, "start"),
    ({"start": "1700000000", "end": "1699999000"}, "end"),
    ({"start": "1700000000", "end": "1700000000"}, "end"),
    ({"start": "2024-01-01", "end": "2025-03-01"}, "start"),  # more than 400 days
    ({"step": "abc"}, "step"),
    ({"step": "0"}, "step"),
    ({"step": "-60"}, "step"),
    ({"step": "1", "start": "2025-01-01", "end": "2025-12-31"}, "step"),  # 100,000 points
])
def test_bad_times_and_steps_are_400s_naming_the_field(admin_api, customer_a, params, field):
    series = make_series(customer_a)
    response = query(admin_api, series, **params)
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert response.json()[field][0]


@pytest.mark.parametrize("series", [[], ["abc"], ["1.5"], [str(2**64)], ["0"], [str(i) for i in range(1, 52)]])
def test_bad_series_are_400s_naming_the_field(admin_api, series):
    response = admin_api.get(URL, {"series": series})
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["series"]


def test_errors_are_in_the_persons_language(admin_api):
    response = admin_api.get(URL, {"series": "1", "start": "bad"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert "ISO 8601" in response.json()["start"][0]
    assert "Unix" in response.json()["start"][0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json()["start"][0])


def test_an_unknown_series_is_404(admin_api):
    response = admin_api.get(URL, {"series": "999999"})
    assert response.status_code == 404
    assert "detail" in response.json()


def test_a_person_must_be_signed_in(client, customer_a):
    series = make_series(customer_a)
    response = client.get(URL, {"series": series.pk})
    assert response.status_code in (401, 403)
    assert "detail" in response.json()


@pytest.mark.parametrize("who", ["customer_user", "engineer"])
def test_nobody_reads_another_customers_series(request, who, customer_a, customer_b):
    person = request.getfixturevalue(who)
    mine = make_series(customer_a, points=[(NOW - 60, 1.0)])
    theirs = make_series(customer_b, points=[(NOW - 60, 666.0)])
    api = api_client_for(person, write=False)

    assert query(api, mine, start=NOW - HOUR, end=NOW).status_code == 200
    for asked in ([theirs], [mine, theirs], [theirs, mine]):
        response = query(api, *asked, start=NOW - HOUR, end=NOW)
        assert response.status_code == 404
        assert "666" not in response.content.decode()
    # Nor through the generic API, by id, list or search.
    assert api.get(f"/api/monitoring/series/{theirs.pk}/").status_code == 404
    listed = api.get("/api/monitoring/series/").json()["results"]
    assert [row["id"] for row in listed] == [mine.pk]
    assert api.get("/api/monitoring/series/", {"q": theirs.configuration_item.name}).json()["results"] == []


@pytest.mark.parametrize("who", ["customer_user", "engineer"])
def test_nobody_reads_another_customers_checks_or_status(request, who, customer_a, customer_b):
    person = request.getfixturevalue(who)
    mine = make_check_in_state(ConfigurationItemFactory(customer=customer_a), "ok", name="mine")
    theirs = make_check_in_state(ConfigurationItemFactory(customer=customer_b), "critical", name="theirs")
    api = api_client_for(person, write=False)

    assert api.get(f"/api/monitoring/checks/{theirs.pk}/").status_code == 404
    assert [row["id"] for row in api.get("/api/monitoring/checks/").json()["results"]] == [mine.pk]
    assert api.get("/api/monitoring/checks/", {"q": "theirs"}).json()["results"] == []
    assert api.get(STATUS, {"item": theirs.configuration_item_id}).status_code == 404
    rows = api.get(STATUS).json()["results"]
    assert [row["item"] for row in rows] == [mine.configuration_item_id]
    assert api.get(STATUS, {"customer": customer_b.pk}).json()["results"] == []


def test_the_status_of_items_worst_first(admin_api, customer_a):
    down = ConfigurationItemFactory(customer=customer_a, name="b-down")
    make_check_in_state(down, "critical")
    make_check_in_state(down, "ok")
    make_check_in_state(down, "critical", enabled=False)
    make_series_with_points(down, "load1", [(NOW - 30, 1.0)])
    fine = ConfigurationItemFactory(customer=customer_a, name="a-fine")
    make_check_in_state(fine, "ok")
    ConfigurationItemFactory(customer=customer_a, name="c-bare")

    body = admin_api.get(STATUS).json()

    assert body["count"] == 3
    assert [row["name"] for row in body["results"]] == ["b-down", "a-fine", "c-bare"]
    first = body["results"][0]
    assert first["state"] == "critical"
    assert first["checks"] == 2  # the disabled one counts for nothing
    assert first["counts"] == {"critical": 1, "unknown": 0, "warning": 0, "ok": 1, "pending": 0}
    assert dt.datetime.fromisoformat(first["last_data_at"]).timestamp() == NOW - 30
    assert body["results"][2]["state"] is None and body["results"][2]["last_data_at"] is None
    one = admin_api.get(STATUS, {"item": down.pk}).json()
    assert [row["item"] for row in one["results"]] == [down.pk]
    assert [r["name"] for r in admin_api.get(STATUS, {"state": "none"}).json()["results"]] == ["c-bare"]
    assert [r["name"] for r in admin_api.get(STATUS, {"state": "ok"}).json()["results"]] == ["a-fine"]
    assert admin_api.get(STATUS, {"page_size": 1}).json()["next"]


@pytest.mark.parametrize(("params", "field"), [({"item": "x"}, "item"), ({"item": str(2**70)}, "item"),
                                               ({"customer": "-1"}, "customer"), ({"state": "bad"}, "state")])
def test_bad_status_parameters_are_400s(admin_api, params, field):
    response = admin_api.get(STATUS, params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_a_check_disabled_through_the_api_is_pending(admin_api, customer_a):
    check = make_check_in_state(ConfigurationItemFactory(customer=customer_a), "critical")
    response = admin_api.post(f"/api/monitoring/checks/{check.pk}/disable/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["enabled"] is False and response.json()["state"] == "pending"
    assert Check.objects.get(pk=check.pk).enabled is False


@pytest.mark.parametrize("body", [[[None]], [], 7, "disable"])
def test_an_action_given_no_json_object_is_refused_and_nothing_done(admin_api, customer_a, body):
    # Found by schemathesis: an action's form read a JSON list as if it were an object (a 500).
    check = make_check_in_state(ConfigurationItemFactory(customer=customer_a), "critical")
    response = admin_api.post(f"/api/monitoring/checks/{check.pk}/disable/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["A JSON object is required."]}
    assert Check.objects.get(pk=check.pk).enabled is True


def test_both_are_in_the_schema(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    query_op = schema["paths"]["/api/monitoring/query/"]["get"]
    assert {p["name"] for p in query_op["parameters"]} >= {"series", "start", "end", "step"}
    assert {"200", "400", "404"} <= set(query_op["responses"])
    status_op = schema["paths"]["/api/monitoring/status/"]["get"]
    assert {p["name"] for p in status_op["parameters"]} >= {"item", "customer", "state", "page"}


@override_settings(OPSDESK_ENGINEERS_SEE_ALL_CUSTOMERS=True)
def test_an_engineer_who_sees_all_customers_reads_any_series(engineer, customer_b):
    theirs = make_series(customer_b, points=[(NOW - 60, 3.0)])
    api = api_client_for(engineer, write=False)
    assert query(api, theirs, start=NOW - HOUR, end=NOW).json()["series"][0]["points"][0][1] == 3.0
