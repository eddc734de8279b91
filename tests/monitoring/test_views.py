"""Monitoring on pages: the CI page's checks (worst first, with reasons) and charts, the customer
page's summary by state, a check's own history, and the lists of checks, state changes and the
latest data."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from opsdesk.monitoring import panels
from opsdesk.monitoring.models import Check, CheckState
from tests.factories import (
    ConfigurationItemFactory,
    make_agent,
    make_check,
    make_check_in_state,
    make_series,
    make_series_with_points,
    make_state_change,
)

pytestmark = pytest.mark.django_db

NOW = time.time()


def ci_page(client, item) -> str:
    response = client.get(reverse("cmdb:configurationitem_detail", args=[item.pk]))
    assert response.status_code == 200
    return response.content.decode()


def board_of(page: str) -> dict:
    """The chart board's specs, read from the page as the script reads them."""
    import html
    import re

    found = re.search(r'data-specs="([^"]*)"', page)
    assert found, "no chart board on the page"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture
def host(customer_a):
    """A host with an agent's metrics: CPU, memory, load, two mounts, a disk and two interfaces."""
    item = ConfigurationItemFactory(customer=customer_a, name="web-01")
    points = [(NOW - 60, 1.0), (NOW, 2.0)]
    for name, labels in [("cpu_usage_percent", {}), ("cpu_iowait_percent", {}), ("memory_used_percent", {}),
                         ("swap_used_percent", {}), ("load1", {}), ("load5", {}), ("load15", {}),
                         ("cpu_count", {}), ("memory_total_bytes", {}),
                         ("filesystem_used_percent", {"mount": "/", "fstype": "ext4"}),
                         ("filesystem_used_percent", {"mount": "/var", "fstype": "xfs"}),
                         ("disk_read_bytes_per_second", {"device": "sda"}),
                         ("disk_written_bytes_per_second", {"device": "sda"}),
                         ("network_received_bytes_per_second", {"interface": "eth0"}),
                         ("network_sent_bytes_per_second", {"interface": "eth0"}),
                         ("network_received_bytes_per_second", {"interface": "eth1"})]:
        make_series_with_points(item, name, points, labels)
    return item


def test_the_ci_page_lists_its_checks_worst_first_with_their_reason(engineer_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    make_check_in_state(item, "ok", name="a-ping")
    warning = make_check_in_state(item, "warning", name="b-disk")
    critical = make_check_in_state(item, "critical", name="c-http", message="connection refused to 10.0.0.1:80")
    Check.objects.filter(pk=critical.pk).update(last_code="refused")
    Check.objects.filter(pk=warning.pk).update(
        last_code="threshold", last_params={"value": 93.5, "threshold": 90, "unit": "%", "what": "disk"})
    make_check_in_state(item, "critical", name="d-off", enabled=False)

    page = ci_page(engineer_client, item)

    assert 'id="panel-monitoring_checks"' in page
    order = [page.index(f">{name}</a>") for name in ("c-http", "b-disk", "a-ping", "d-off")]
    assert order == sorted(order), "worst first, disabled checks last"
    assert "Connection refused" in page
    assert 'title="connection refused to 10.0.0.1:80"' in page  # the check's own words, on hover
    assert "93.5% is past the threshold of 90%" in page
    assert "Disabled" in page
    assert f'href="{reverse("monitoring:check_list")}?item={item.pk}"' in page


def test_the_reason_is_in_the_persons_language(engineer_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    check = make_check_in_state(item, "critical", name="ping", message="no answer within 10 s")
    Check.objects.filter(pk=check.pk).update(last_code="timeout", last_params={"timeout": 10})
    engineer_client.cookies["django_language"] = "zh-hans"
    with translation.override("zh-hans"):
        page = engineer_client.get(reverse("cmdb:configurationitem_detail", args=[item.pk]),
                                   HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        critical = str(CheckState.CRITICAL.label)
    assert "10 秒内没有应答" in page
    assert f">{critical}</span>" in page and critical != "Critical"


def test_an_item_without_checks_says_what_to_do(engineer_client, customer_user, client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    page = ci_page(engineer_client, item)
    assert 'id="monitoring-checks-empty"' in page
    assert "apply a monitoring template" in page
    assert 'data-monitoring-charts' not in page  # no series: no chart board, no chart script
    assert "monitoring/charts.js" not in page
    client.force_login(customer_user)
    assert "ask your service team" in ci_page(client, item)


def test_a_host_gets_its_charts(engineer_client, host):
    page = ci_page(engineer_client, host)

    specs = {spec["key"]: spec for spec in board_of(page)}
    assert list(specs) == ["cpu", "memory", "load", "disk", "diskio", "net0", "net1"]
    assert [s["label"] for s in specs["cpu"]["series"]] == ["used", "I/O wait"]
    assert specs["memory"]["unit"] == "percent"
    assert [s["label"] for s in specs["disk"]["series"]] == ["/", "/var"]
    assert [s["label"] for s in specs["diskio"]["series"]] == ["sda read", "sda written"]
    assert specs["diskio"]["unit"] == "bytes_per_second"
    assert specs["net0"]["title"] == "Network eth0"
    assert specs["net0"]["unit"] == "bits_per_second"
    assert {s["scale"] for s in specs["net0"]["series"]} == {8.0}  # bytes per second drawn as bits
    for key in specs:
        assert f'data-chart="{key}"' in page
    # The range buttons, the custom range, the API and the time zone the script needs.
    for key in ("1h", "6h", "24h", "7d", "30d", "custom"):
        assert f'data-range-button="{key}"' in page
    assert 'type="datetime-local"' in page
    assert f'data-query-url="{reverse("monitoring-query")}"' in page
    assert 'data-tz="Asia/Shanghai"' in page
    assert "monitoring/charts.js" in page
    assert "vendor/echarts/echarts.min.js" in page


def test_network_charts_leave_out_idle_interfaces_busiest_first(engineer_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a, name="gw-01")
    for interface, value in (("ifb0", 0.0), ("eth0", 100.0), ("eth1", 5000.0), ("docker0", 0.0)):
        for name in ("network_received_bytes_per_second", "network_sent_bytes_per_second"):
            make_series_with_points(item, name, [(NOW, value)], {"interface": interface})
    titles = [spec["title"] for spec in board_of(ci_page(engineer_client, item)) if spec["key"].startswith("net")]
    assert titles == ["Network eth1", "Network eth0"]


def test_a_checks_main_value_is_charted(engineer_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    ping = make_check_in_state(item, "ok", name="ping")
    mysql = make_check_in_state(item, "ok", name="mysql")
    for name in ("ping_rtt_avg_seconds", "ping_rtt_max_seconds", "ping_packet_loss_percent"):
        series = make_series_with_points(item, name, [(NOW, 0.01)])
        series.monitor_check = ping
        series.save()
    for name in ("mysql_uptime_seconds", "mysql_connections_used_percent"):
        series = make_series_with_points(item, name, [(NOW, 5.0)])
        series.monitor_check = mysql
        series.save()

    specs = {spec["key"]: spec for spec in board_of(ci_page(engineer_client, item))}

    assert specs[f"check{ping.pk}"]["unit"] == "seconds"
    assert [s["label"] for s in specs[f"check{ping.pk}"]["series"]] == ["ping_rtt_avg_seconds",
                                                                        "ping_rtt_max_seconds"]
    assert specs[f"check{mysql.pk}"]["unit"] == "percent"  # not its uptime


def test_the_panels_show_nothing_of_another_customer(client, customer_user, customer_a, customer_b):
    mine = ConfigurationItemFactory(customer=customer_a)
    make_check_in_state(mine, "ok", name="my-check")
    theirs = ConfigurationItemFactory(customer=customer_b)
    make_check_in_state(theirs, "critical", name="their-check")
    make_series(item=theirs)
    client.force_login(customer_user)
    assert client.get(reverse("cmdb:configurationitem_detail", args=[theirs.pk])).status_code == 404
    page = ci_page(client, mine)
    assert "my-check" in page and "their-check" not in page
    customer_page = client.get(reverse("core:customer_detail", args=[customer_a.pk])).content.decode()
    assert theirs.name not in customer_page


def test_the_customer_page_sums_up_its_items_by_state(admin_client, admin, rf, customer_a):
    down = ConfigurationItemFactory(customer=customer_a, name="db-down")
    make_check_in_state(down, "critical")
    make_check_in_state(down, "ok")
    slow = ConfigurationItemFactory(customer=customer_a, name="app-slow")
    make_check_in_state(slow, "warning")
    for _ in range(2):
        make_check_in_state(ConfigurationItemFactory(customer=customer_a), "ok")
    ConfigurationItemFactory(customer=customer_a, name="not-watched")

    page = admin_client.get(reverse("core:customer_detail", args=[customer_a.pk])).content.decode()

    assert 'id="panel-monitoring"' in page
    badges = [page.index(f'data-state="{state}"') for state in ("critical", "warning", "ok", "none")]
    assert badges == sorted(badges), "worst first"
    request = rf.get("/")
    request.user = admin
    context = panels.customer_panel(request, customer_a)
    assert [(r["state"], r["count"]) for r in context["rows"]] == [("critical", 1), ("warning", 1), ("ok", 2)]
    assert context["unmonitored"] == 1
    assert [p["item"].name for p in context["problems"]] == ["db-down", "app-slow"]
    assert f'{reverse("monitoring:overview")}?customer={customer_a.pk}' in page


def test_the_customer_panel_does_without_the_overview_page(rf, admin, customer_a, monkeypatch):
    from django.urls import NoReverseMatch

    def missing(name, *args, **kwargs):
        if name == "monitoring:overview":
            raise NoReverseMatch(name)
        return reverse(name, *args, **kwargs)

    monkeypatch.setattr(panels, "reverse", missing)
    request = rf.get("/")
    request.user = admin
    context = panels.customer_panel(request, customer_a)
    assert all("overview" not in link["url"] for link in context["links"])
    assert "install the agent" in context["empty"]


def test_a_check_page_shows_its_history_and_chart(engineer_client, customer_a):
    check = make_check(customer_a, name="http", state="critical")
    make_state_change(check=check, previous="ok", state="critical", message="connection refused")
    series = make_series(item=check.configuration_item, name="http_response_seconds")
    series.monitor_check = check
    series.save()

    page = engineer_client.get(reverse("monitoring:check_detail", args=[check.pk])).content.decode()

    assert 'id="check-history"' in page and "connection refused" in page
    assert [spec["key"] for spec in board_of(page)] == [f"check{check.pk}"]
    assert 'id="action-disable"' in page


def test_the_latest_data_lists_each_series_with_its_last_value(engineer_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a, name="web-07")
    make_series_with_points(item, "filesystem_used_percent", [(1_764_000_000.0, 61.5)], {"mount": "/srv"})
    other = ConfigurationItemFactory(customer=customer_a, name="db-01")
    make_series_with_points(other, "load1", [(1_764_000_000.0, 0.5)])
    make_series_with_points(other, "cpu_iowait_percent", [(1_764_000_000.0, 2.096186970694176)])
    url = reverse("monitoring:series_list")

    page = engineer_client.get(url).content.decode()
    for text in ("web-07", "filesystem_used_percent", "mount=/srv", "61.5 %", "Last time"):
        assert text in page, text
    assert '{"mount"' not in page  # labels as a person reads them, not as JSON
    assert "2025" in page  # the last time as a date, not Unix seconds
    assert "<td>2.1 %</td>" in page and "2.0961" not in page  # in its unit, as a person reads it
    assert "<td>0.5</td>" in page  # a load has no unit
    assert "<td>{}</td>" not in page.replace(" ", "")  # no labels: a dash, not an empty object
    # Sorted by the value itself (the column shows it written out).
    assert "sort=last_value" in page and "sort=last_ts" in page
    by_value = engineer_client.get(url, {"sort": "-last_value"}).content.decode()
    assert by_value.index("61.5 %") < by_value.index("2.1 %") < by_value.index("<td>0.5</td>")
    assert "web-07" in engineer_client.get(url, {"q": "web-07"}).content.decode()
    assert "db-01" not in engineer_client.get(url, {"q": "web-07"}).content.decode()
    assert "web-07" not in engineer_client.get(url, {"q": "load1"}).content.decode()
    assert "db-01" not in engineer_client.get(url, {"item": item.pk}).content.decode()
    menu = engineer_client.get(reverse("home")).content.decode()
    assert f'href="{url}"' in menu and "Latest data" in menu
    assert '<h1 class="h4 mb-0 me-auto">Latest data</h1>' in page  # as the menu names it, not "Series"


def test_the_check_list_filters_by_state_type_and_item(engineer_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    make_check_in_state(item, "critical", name="down-check")
    make_check_in_state(ConfigurationItemFactory(customer=customer_a), "ok", name="fine-check")
    url = reverse("monitoring:check_list")

    def names(**params) -> set[str]:
        page = engineer_client.get(url, params).content.decode()
        return {n for n in ("down-check", "fine-check") if f">{n}</a>" in page}

    assert names() == {"down-check", "fine-check"}
    page = engineer_client.get(url).content.decode()
    assert "<td>Ping (ICMP echo)</td>" in page.replace("\n", "").replace("  ", "")  # the type by name
    assert names(state="critical") == {"down-check"}
    assert names(item=item.pk) == {"down-check"}
    assert names(type="ping") == {"down-check", "fine-check"}
    assert names(type="http") == set()
    assert engineer_client.get(url, {"item": 2**70}).status_code == 200  # refused, not a 500


def test_state_changes_are_read_only(engineer_client, admin_api, customer_a):
    change = make_state_change(customer_a)
    assert engineer_client.get(reverse("monitoring:checkstatechange_detail", args=[change.pk])).status_code == 200
    assert 'id="edit-object"' not in engineer_client.get(
        reverse("monitoring:checkstatechange_detail", args=[change.pk])).content.decode()
    assert admin_api.delete(f"/api/monitoring/statechanges/{change.pk}/").status_code == 403
    assert admin_api.post("/api/monitoring/series/", {}, format="json").status_code == 403


def test_a_check_is_added_from_the_items_page(engineer_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    page = ci_page(engineer_client, item)
    add = f'{reverse("monitoring:check_add")}?configuration_item={item.pk}'
    assert add in page
    form = engineer_client.get(add)
    assert form.status_code == 200
    response = engineer_client.post(add, {"configuration_item": item.pk, "name": "Ping", "type": "ping",
                                          "target": "", "params": "{}", "interval": 60, "timeout": 10})
    assert response.status_code == 302, response.content.decode()[:3000]
    check = Check.objects.get(configuration_item=item, name="Ping")
    assert check.customer_id == customer_a.pk and check.enabled


def test_charts_open_on_the_shortest_range_that_holds_all_their_data(engineer_client, customer_a):
    """A machine enrolled minutes ago opens on 1 h, not as a sliver at the right of 24 h; one with
    a series older than 6 h opens on 24 h."""
    item = ConfigurationItemFactory(customer=customer_a)
    now = time.time()
    make_series_with_points(item, "cpu_usage_percent", [(now - 600, 5.0), (now - 30, 7.0)])
    assert 'data-range="1h"' in ci_page(engineer_client, item)
    make_series_with_points(item, "memory_used_percent", [(now - 3 * 3600, 50.0), (now, 51.0)])
    page = ci_page(engineer_client, item)
    assert 'data-range="6h"' in page
    assert re.search(r'class="[^"]*\bactive\b[^"]*" data-range-button="6h" aria-pressed="true"', page)
    make_series_with_points(item, "load1", [(now - 7 * 3600, 0.5), (now, 0.7)])
    assert 'data-range="24h"' in ci_page(engineer_client, item)


def test_opening_range_holds_the_oldest_series_and_falls_back_to_a_day():
    now = timezone.now()
    young, older = panels.Chart("a", "A", "percent"), panels.Chart("b", "B", "percent")
    young.since, older.since = now - timedelta(minutes=59), now - timedelta(hours=5)
    assert panels.opening_range([young], now) == "1h"
    assert panels.opening_range([young, older], now) == "6h"
    older.since = now - timedelta(hours=6, seconds=1)
    assert panels.opening_range([young, older], now) == "24h"
    assert panels.opening_range([young, panels.Chart("c", "C", "percent")], now) == "24h"  # one not known
    assert panels.opening_range([], now) == "24h"


def test_latest_data_exports_the_raw_value_and_its_unit(engineer_client, customer_a):
    import csv
    import io

    item = ConfigurationItemFactory(customer=customer_a, name="web-07")
    make_series_with_points(item, "disk_read_bytes_per_second", [(1_764_000_000.0, 3_145_728.25)], {"device": "sda"})
    response = engineer_client.get(reverse("monitoring:series_list"), {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["configuration item", "metric", "labels", "last value", "unit", "last time"]
    assert rows[1][:5] == ["web-07", "disk_read_bytes_per_second", '{"device": "sda"}', "3145728.25",
                           "bytes_per_second"]
    assert rows[1][5].startswith("2025-")


def test_the_agent_list_says_which_agents_are_connected(engineer_client, customer_a):
    from opsdesk.monitoring.models import Agent

    td = timedelta
    connected, silent, never = (make_agent(customer_a, name=n) for n in ("web-agent", "db-agent", "new-agent"))
    Agent.objects.filter(pk=connected.pk).update(last_seen_at=timezone.now() - td(seconds=40))
    Agent.objects.filter(pk=silent.pk).update(last_seen_at=timezone.now() - td(hours=2, minutes=5))
    url = reverse("monitoring:agent_list")

    page = engineer_client.get(url).content.decode()
    row = {name: page[page.index(name):][:1500] for name in ("web-agent", "db-agent", "new-agent")}
    assert "Connected" in row["web-agent"]
    assert "Silent for 2\xa0hours" in row["db-agent"]
    assert "Never connected" in row["new-agent"]
    assert "Host agent" in row["web-agent"]  # its kind
    by_seen = engineer_client.get(url, {"sort": "-last_seen_at"}).content.decode()
    assert by_seen.index("web-agent") < by_seen.index("db-agent")
    engineer_client.cookies["django_language"] = "zh-hans"
    with translation.override("zh-hans"):
        page = engineer_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "已连接" in page and "从未连接" in page and "已静默 2" in page


def test_a_check_not_yet_run_is_waiting_not_waiting_to_be_sent():
    from opsdesk.notify.models.deliveries import NotificationState

    with translation.override("zh-hans"):
        assert panels.state_label(CheckState.PENDING) == "等待中"
        assert str(NotificationState.PENDING.label) == "待发送"  # a notification's, which it was read as


def test_a_series_page_charts_it_and_writes_its_value_in_its_unit(engineer_client, customer_a, customer_b,
                                                                  customer_user, client):
    item = ConfigurationItemFactory(customer=customer_a, name="web-07")
    series = make_series_with_points(item, "disk_read_bytes_per_second", [(NOW - 60, 1024.0), (NOW, 3_145_728.0)],
                                     {"device": "sda"})
    page = engineer_client.get(reverse("monitoring:series_detail", args=[series.pk])).content.decode()
    [spec] = board_of(page)
    assert spec["unit"] == "bytes_per_second" and [s["id"] for s in spec["series"]] == [series.pk]
    assert "3.0 MiB/s" in page and "device=sda" in page
    assert series.key not in page  # the internal identity is not shown
    assert f'href="{reverse("monitoring:series_list")}">Latest data</a>' in page  # back to the list, by its name
    assert str(int(NOW)) not in page  # the last sample as a time, not Unix seconds
    other = ConfigurationItemFactory(customer=customer_b)
    foreign = make_series_with_points(other, "load1", [(NOW, 0.5)])
    client.force_login(customer_user)
    assert client.get(reverse("monitoring:series_detail", args=[foreign.pk])).status_code == 404


def test_the_ci_page_says_whether_its_host_agent_is_connected(engineer_client, customer_a):
    from opsdesk.monitoring.models import Agent

    agent = make_agent(customer_a, name="web-07-agent")
    item = agent.configuration_item
    page = ci_page(engineer_client, item)
    assert 'id="monitoring-agents"' in page and "Never connected" in page
    assert 'id="monitoring-checks-empty"' not in page  # "install the agent" would be wrong here
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=timezone.now() - timedelta(seconds=20))
    page = ci_page(engineer_client, item)
    assert 'data-connected="true"' in page and "Connected" in page
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=timezone.now() - timedelta(hours=3))
    page = ci_page(engineer_client, item)
    assert 'data-connected="false"' in page and "Silent for 3\xa0hours" in page
