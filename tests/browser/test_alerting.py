"""Alerting in a real browser: an engineer writes a rule in the editor (its preview replays the
week), an agent pushes a breaching value, the alert is at the top of the alert list, and the link
in its notification acknowledges it without logging in."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from opsdesk.core.models import Role
from opsdesk.core.models.tokens import hash_token, new_raw_token
from opsdesk.monitoring.models import Agent, Alert
from opsdesk.notify.models import Channel, Notification
from tests.factories import ConfigurationItemFactory, CustomerFactory, UserFactory, make_series

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
TOKEN = new_raw_token()


@pytest.fixture
def estate():
    UserFactory(username="ada", role=Role.ADMIN)
    acme = CustomerFactory(code="ACME", name="Acme 阿克米")
    item = ConfigurationItemFactory(customer=acme, name="db-7")
    now = time.time()
    make_series(acme, item=item, name="host_cpu_utilisation", points=[(now - 600, 20.0), (now - 300, 30.0)])
    Agent.objects.create(customer=acme, configuration_item=item, name="db-7", key_hash=hash_token(TOKEN))
    # Nothing answers here: the notification stays a row, its link is read from the row.
    Channel.objects.create(customer=acme, name="Acme ops group", kind="webhook", config={"url": "http://127.0.0.1:9/"})
    return {"customer": acme, "item": item}


def push(base: str, value: float, seq: int) -> None:
    body = json.dumps({"seq": seq, "samples": [{"name": "host_cpu_utilisation", "labels": {}, "value": value,
                                                "ts": time.time()}]}).encode()
    request = urllib.request.Request(f"{base}/api/monitoring/push/", data=body, method="POST", headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_write_a_rule_see_it_fire_and_acknowledge_it_from_the_link(page, log_in, shot, estate, live_server):
    log_in(page, "ada")
    page.goto(f"{live_server.url}/monitoring/alertrules/add/")
    # The editor shows the fields of the chosen rule type only.
    expect(page.locator("#id_absence_seconds")).to_be_hidden()
    page.select_option("#id_kind", "check_state")
    expect(page.locator("#id_threshold")).to_be_hidden()
    expect(page.locator('[name="check_states"]').first).to_be_visible()
    page.select_option("#id_kind", "threshold")
    expect(page.locator("#id_threshold")).to_be_visible()
    expect(page.locator("#preview-incomplete")).to_contain_text("Metric")  # nothing typed yet
    page.fill("#id_name", "CPU busy")
    page.select_option("#id_customer", str(estate["customer"].pk))
    page.select_option("#id_configuration_item", str(estate["item"].pk))
    page.fill("#id_metric", "host_cpu_utilisation")
    page.fill("#id_threshold", "90")
    page.select_option("#id_severity", "critical")
    page.select_option("#id_channels", label="Acme ops group")
    page.locator("#id_threshold").dispatch_event("change")
    expect(page.locator("#preview-summary")).to_contain_text("0 times")
    shot(page, "rule-editor")
    with page.expect_navigation():
        page.click("#save")
    expect(page.locator("main")).to_contain_text("CPU busy")

    push(live_server.url, 97.0, 1)  # filed and evaluated at once (tasks run eagerly here)
    alert = Alert.objects.get()
    page.goto(f"{live_server.url}/monitoring/alerts/")
    expect(page.locator("#object-table tbody tr").first).to_contain_text("CPU busy")
    shot(page, "alert-list")

    link = Notification.objects.filter(source=f"monitoring.alert:{alert.pk}").first().url
    path = re.sub(r"^https?://[^/]+", "", link)
    anonymous = page.context.browser.new_context(locale="en-US")
    other = anonymous.new_page()
    other.goto(f"{live_server.url}{path}")
    expect(other.locator("#alert-card")).to_contain_text("CPU busy")
    other.click("#link-acknowledge")
    expect(other.locator("#link-done")).to_be_visible()
    expect(other.locator("#alert-state")).to_have_text("Acknowledged")
    anonymous.close()

    page.goto(f"{live_server.url}/monitoring/alerts/{alert.pk}/")
    expect(page.locator("#alert-timeline")).to_contain_text("Acknowledged")
    expect(page.locator("#alert-chart canvas").first).to_be_visible()
    shot(page, "alert-detail")


def test_the_alert_chart_reaches_its_threshold_when_the_values_stay_far_below(page, log_in, estate, live_server):
    """A spike fired the alert and the series has since fallen back: the dashed threshold line
    must still be on the chart, so the value axis has to reach it."""
    from opsdesk.monitoring.models import Series
    from tests.factories import make_alert

    series = Series.objects.get(name="host_cpu_utilisation")
    alert = make_alert(estate["customer"], item=estate["item"], series=series, threshold=400.0,
                       title="CPU over 400")
    log_in(page, "ada")
    page.goto(f"{live_server.url}/monitoring/alerts/{alert.pk}/")
    chart = page.locator("#alert-chart .monitoring-chart").first
    expect(chart).to_have_attribute("data-state", "ready")
    top = page.evaluate("""(id) => echarts.getInstanceByDom(document.getElementById(id)).getModel()
        .getComponent('yAxis').axis.scale.getExtent()[1]""", chart.get_attribute("id"))
    assert top >= 400


def test_the_alert_list_filters_by_ticking_states(page, log_in, shot, estate):
    from tests.factories import make_alert

    make_alert(estate["customer"], item=estate["item"], title="disk full on db-7", state="firing")
    make_alert(estate["customer"], item=estate["item"], title="backup failed on db-7", state="resolved")
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, "ada")
    page.goto("/monitoring/alerts/")
    rows = page.locator("#object-table tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Firing", exact=True).check()  # one click, no Ctrl: the list follows
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("disk full on db-7")
    assert "state=firing" in page.url
    page.get_by_label("Resolved", exact=True).check()
    expect(rows).to_have_count(2)
    shot(page, "alerts-filtered")
