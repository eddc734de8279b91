"""The status overview (items worst first, per customer, refreshed by htmx), its menu links and the
monitoring panel of the home dashboard."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from opsdesk.core.models import Role
from opsdesk.monitoring.views.overview import PER_PAGE
from tests.factories import (
    ConfigurationItemFactory,
    UserFactory,
    make_check_in_state,
    make_series_with_points,
)

pytestmark = pytest.mark.django_db

URL = "/monitoring/overview/"


@pytest.fixture
def estate(customer_a, customer_b):
    """Customer A: one item per status (named so that name order is not worst-first order), and
    customer B: one critical item."""
    a = {name: ConfigurationItemFactory(customer=customer_a, name=name)
         for name in ("a-ok", "b-none", "c-pending", "d-warning", "e-unknown", "f-critical")}
    make_check_in_state(a["a-ok"], "ok", name="ping")
    make_check_in_state(a["c-pending"], "pending", name="ping")
    make_check_in_state(a["d-warning"], "warning", name="disk", message="disk 85% full")
    make_check_in_state(a["d-warning"], "ok", name="ping")
    make_check_in_state(a["e-unknown"], "unknown", name="snmp", message="no answer from the agent")
    make_check_in_state(a["f-critical"], "critical", name="http", message="HTTP 503 from /health")
    make_check_in_state(a["f-critical"], "warning", name="tls", message="certificate ends in 9 days")
    make_check_in_state(a["f-critical"], "critical", name="off", message="not counted", enabled=False)
    b = ConfigurationItemFactory(customer=customer_b, name="b-secret-db")
    make_check_in_state(b, "critical", name="ping", message="host unreachable (secret)")
    return {**a, "b": b}


def names(response) -> list[str]:
    return [row.item.name for row in response.context["rows"]]


def tiles(response) -> dict[str, int]:
    return {tile["status"].key: tile["count"] for tile in response.context["tiles"]}


def test_it_lists_items_worst_first_with_items_without_checks_last(admin_client, customer_a, estate):
    response = admin_client.get(URL, {"customer": customer_a.pk})
    assert response.status_code == 200
    assert names(response) == ["f-critical", "e-unknown", "d-warning", "a-ok", "c-pending", "b-none"]
    assert [row.status.key for row in response.context["rows"]] == [
        "critical", "unknown", "warning", "ok", "pending", "none"]
    assert tiles(response) == {"critical": 1, "unknown": 1, "warning": 1, "ok": 1, "pending": 1, "none": 1}
    page = response.content.decode()
    assert "HTTP 503 from /health" in page and "certificate ends in 9 days" in page
    assert "not counted" not in page  # a disabled check neither counts nor shows its reason
    assert "No checks — apply a template" in page
    assert reverse("cmdb:configurationitem_detail", args=[estate["f-critical"].pk]) in page
    critical = response.context["rows"][0]
    assert [(s.key, n) for s, n in critical.counts] == [("critical", 1), ("warning", 1)]
    assert critical.disabled == 1
    # The critical check's reason comes before the warning's.
    assert [c["name"] for c in critical.reasons] == ["http", "tls"]


def test_more_failing_checks_rank_first_within_a_state(admin_client, customer_a):
    one, two = (ConfigurationItemFactory(customer=customer_a, name=n) for n in ("aa-one", "zz-two"))
    make_check_in_state(one, "critical", name="c1")
    make_check_in_state(two, "critical", name="c1")
    make_check_in_state(two, "critical", name="c2")
    assert names(admin_client.get(URL, {"customer": customer_a.pk})) == ["zz-two", "aa-one"]


def test_all_customers_for_staff_list_every_customer_with_a_customer_column(admin_client, estate):
    response = admin_client.get(URL)
    assert response.context["show_customer"] is True
    assert names(response)[:2] == ["f-critical", "b-secret-db"]  # both critical; A's has more failing checks
    assert "Beta 贝塔" in response.content.decode()


def test_a_state_tile_filters_the_list(admin_client, customer_a, estate):
    response = admin_client.get(URL, {"customer": customer_a.pk, "state": "warning"})
    assert names(response) == ["d-warning"]
    assert tiles(response)["ok"] == 1  # the tiles still count every item
    assert names(admin_client.get(URL, {"customer": customer_a.pk, "state": "none"})) == ["b-none"]
    # Clicking the active tile again shows everything.
    active = next(t for t in response.context["tiles"] if t["active"])
    assert "state=" not in active["url"]


def test_the_last_data_time_comes_from_the_newest_series(admin_client, customer_a, estate):
    now = time.time()
    make_series_with_points(estate["a-ok"], "cpu_usage_percent", [(now - 600, 5.0), (now - 60, 7.0)])
    make_series_with_points(estate["a-ok"], "load1", [(now - 3600, 0.5)])
    make_series_with_points(estate["d-warning"], "load1", [(now - 3 * 3600, 0.5)])
    rows = {row.item.name: row for row in admin_client.get(URL, {"customer": customer_a.pk}).context["rows"]}
    assert abs(rows["a-ok"].last_data.timestamp() - (now - 60)) < 1
    assert rows["a-ok"].stale is False
    assert rows["d-warning"].stale is True
    assert rows["b-none"].last_data is None


def test_retired_items_without_checks_are_left_out(admin_client, customer_a):
    ConfigurationItemFactory(customer=customer_a, name="gone", status="retired")
    kept = ConfigurationItemFactory(customer=customer_a, name="gone-but-checked", status="retired")
    make_check_in_state(kept, "critical")
    assert names(admin_client.get(URL, {"customer": customer_a.pk})) == ["gone-but-checked"]


def test_a_customer_user_sees_only_their_own_items(customer_client, customer_a, customer_b, estate):
    response = customer_client.get(URL)
    assert response.status_code == 200
    assert set(names(response)) == {k for k in estate if k != "b"}
    assert "b-secret-db" not in response.content.decode()
    assert "host unreachable (secret)" not in response.content.decode()
    assert not response.context["customers"]  # nothing to choose
    assert customer_client.get(URL, {"customer": customer_a.pk}).status_code == 200
    # Another customer's id answers 404, as any object of another customer does.
    assert customer_client.get(URL, {"customer": customer_b.pk}).status_code == 404
    assert customer_client.get(URL, {"customer": "x"}).status_code == 404


def test_an_engineer_of_another_team_sees_nothing_of_the_customer(client, engineer_of_b, customer_a, estate):
    client.force_login(engineer_of_b)
    assert client.get(URL, {"customer": customer_a.pk}).status_code == 404
    response = client.get(URL)
    assert names(response) == ["b-secret-db"]
    assert [c.name for c in response.context["customers"]] == ["Beta 贝塔"]
    assert "HTTP 503 from /health" not in response.content.decode()


def test_the_htmx_partial_renders_only_the_body_and_polls_every_30_seconds(admin_client, customer_a, estate):
    page = admin_client.get(URL, {"customer": customer_a.pk}).content.decode()
    assert 'hx-trigger="every 30s"' in page and "<html" in page
    partial = admin_client.get(URL, {"customer": customer_a.pk, "page": 1}, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in body and body.lstrip().startswith('<div id="overview-body"')
    assert 'hx-trigger="every 30s"' in body  # the swapped-in body keeps polling
    assert f"customer={customer_a.pk}" in body and "f-critical" in body


def test_large_customers_are_paged_in_a_few_queries(admin_client, customer_a, django_assert_max_num_queries):
    items = ConfigurationItemFactory.create_batch(PER_PAGE + 5, customer=customer_a)
    for item in items[:3]:
        make_check_in_state(item, "critical", message="down")
    for item in items:
        make_series_with_points(item, "load1", [(time.time() - 30, 1.0)])
    with django_assert_max_num_queries(12):
        first = admin_client.get(URL, {"customer": customer_a.pk})
    assert len(first.context["rows"]) == PER_PAGE
    assert [r.status.key for r in first.context["rows"][:4]] == ["critical"] * 3 + ["none"]
    second = admin_client.get(URL, {"customer": customer_a.pk, "page": 2})
    assert len(second.context["rows"]) == 5
    assert f"customer={customer_a.pk}&amp;page=1" in second.content.decode()


def test_an_empty_customer_gets_a_hint(admin_client, customer_b):
    response = admin_client.get(URL, {"customer": customer_b.pk})
    assert "No configuration items to watch yet." in response.content.decode()


def test_the_menu_links_to_the_overview_and_the_trends(customer_client):
    menu = customer_client.get(URL).context["nav_menu"]
    links = [item["url"] for area in menu if area["key"] == "monitoring" for item in area["items"]]
    assert reverse("monitoring:overview") in links and reverse("monitoring:trends") in links


# --- the home dashboard ------------------------------------------------------------------------

def widgets_by_title(response) -> dict[str, dict]:
    return {str(w["title"]): w for w in response.context["widgets"]}


def test_the_dashboard_counts_checks_by_state_and_lists_the_worst_items(admin_client, estate):
    found = widgets_by_title(admin_client.get("/"))
    assert found["Critical checks"]["value"] == 2  # the disabled one is not counted
    assert found["Warning checks"]["value"] == 2
    assert found["Unknown checks"]["value"] == 1
    assert found["OK checks"]["value"] == 2
    assert found["Critical checks"]["url"].endswith("?state=critical")
    assert found["Critical checks"]["url"].startswith("/monitoring/")
    worst = found["Items with failing checks"]
    assert [r["label"] for r in worst["rows"]] == ["f-critical", "b-secret-db", "e-unknown", "d-warning"]
    assert [r["level"] for r in worst["rows"]] == ["danger", "danger", "dark", "warning"]


def test_a_customer_users_dashboard_counts_only_their_own_checks(customer_client, estate):
    found = widgets_by_title(customer_client.get("/"))
    assert found["Critical checks"]["value"] == 1
    assert [r["label"] for r in found["Items with failing checks"]["rows"]] == ["f-critical", "e-unknown",
                                                                                "d-warning"]
    assert "Beta" not in found["Items with failing checks"]["rows"][0]["note"]


def test_the_dashboard_says_when_nothing_is_checked_yet(client, db):
    client.force_login(UserFactory(role=Role.MANAGER))
    found = widgets_by_title(client.get("/"))
    assert found["Critical checks"]["value"] == 0
    assert found["Items with failing checks"]["rows"] == []
    assert "Nothing is checked yet" in str(found["Items with failing checks"]["empty"])


def test_a_customer_user_is_not_told_to_apply_templates(customer_client, estate):
    page = customer_client.get(URL).content.decode()
    assert "b-none" in page and "No checks — apply a template" not in page
