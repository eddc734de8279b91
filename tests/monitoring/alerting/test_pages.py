"""The alert list (firing first, refreshing itself), the alert's page (timeline, chart around the
firing), and the rule editor's replay of the last 7 days."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from opsdesk.monitoring.alerting.preview import replay
from opsdesk.monitoring.alerting.rules import CompiledRule
from opsdesk.monitoring.models import AlertEvent
from opsdesk.monitoring.store import get_store
from tests.factories import ConfigurationItemFactory, make_alert, make_series

pytestmark = pytest.mark.django_db


def test_the_alert_list_puts_firing_first_and_the_worst_first_within(admin_client, customer_a):
    resolved = make_alert(customer_a, state="resolved", severity="critical", title="old fault")
    minor = make_alert(customer_a, severity="minor", title="minor fault")
    critical = make_alert(customer_a, severity="critical", title="critical fault")
    acked = make_alert(customer_a, state="acknowledged", severity="critical", title="acked fault")
    html = admin_client.get("/monitoring/alerts/").content.decode()
    positions = [html.index(a.title) for a in (critical, minor, acked, resolved)]
    assert positions == sorted(positions)
    assert 'hx-trigger="every 15s"' in html


def test_the_alert_page_shows_its_timeline_and_why_nobody_was_paged(admin_client, customer_a):
    cause = make_alert(customer_a, title="switch down")
    alert = make_alert(customer_a, title="server unreachable", suppressed_by=cause)
    AlertEvent.objects.create(alert=alert, kind="suppressed", at=timezone.now(), text="switch down")
    html = admin_client.get(f"/monitoring/alerts/{alert.pk}/").content.decode()
    assert 'id="alert-timeline"' in html and 'id="alert-held"' in html
    assert f'href="/monitoring/alerts/{cause.pk}/"' in html


def test_the_alert_page_charts_its_series_around_the_firing(admin_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    now = timezone.now().timestamp()
    series = make_series(customer_a, item=item, points=[(now - 600, 10.0), (now - 60, 99.0)])
    alert = make_alert(customer_a, item=item, series=series, threshold=90.0,
                       started_at=timezone.now() - dt.timedelta(minutes=1))
    html = admin_client.get(f"/monitoring/alerts/{alert.pk}/").content.decode()
    assert 'id="alert-chart"' in html
    start = int((alert.started_at - dt.timedelta(hours=1)).timestamp())
    assert f'data-start="{start}"' in html
    assert '&quot;threshold&quot;: 90.0' in html


def rule(**kwargs) -> CompiledRule:
    values = dict(id=1, name="r", kind="threshold", metric="m", labels=(), operator=">", threshold=90.0,
                  recovery=None, for_seconds=0, rate_window=300, absence_seconds=600, check_states=frozenset(),
                  check_type="", severity="major", customer_id=None, item_id=None, kind_id=None, template_id=None)
    values.update(kwargs)
    return CompiledRule(**values)


def test_replay_counts_firings_with_duration_and_hysteresis():
    ts = [0, 300, 600, 900, 1200, 1500, 1800, 2100]
    values = [50, 95, 95, 85, 95, 60, 95, 50]
    assert replay(rule(), ts, values) == [(300, 900), (1200, 1500), (1800, 2100)]
    assert replay(rule(recovery=70.0), ts, values) == [(300, 1500), (1800, 2100)]
    assert replay(rule(for_seconds=300), ts, values) == [(300, 900)]


def test_the_rule_editor_previews_the_last_week(admin_client, customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    now = timezone.now().timestamp()
    points = [(now - 86400 * 3 + i * 300, 95.0 if i % 24 < 6 else 20.0) for i in range(24 * 4)]
    make_series(customer_a, item=item, name="host_cpu_utilisation", points=points)
    get_store().housekeeping(now)  # a week is replayed on the 5-minute rollups
    form = {"name": "CPU", "customer": customer_a.pk, "kind": "threshold", "metric": "host_cpu_utilisation",
            "operator": ">", "threshold": "90", "for_seconds": "0", "rate_window_seconds": "300",
            "absence_seconds": "600", "severity": "major", "labels": "", "enabled": "on"}
    html = admin_client.post("/monitoring/alertrules/preview/", form).content.decode()
    assert 'id="preview-summary"' in html
    assert "<strong>4 times</strong>" in html
    incomplete = admin_client.post("/monitoring/alertrules/preview/", {**form, "metric": "nope"}).content.decode()
    assert 'id="preview-incomplete"' in incomplete


def test_the_rule_form_takes_labels_as_pairs_and_check_states_as_tick_boxes(admin_client, customer_a):
    from opsdesk.monitoring.models import AlertRule

    make_series(customer_a, item=ConfigurationItemFactory(customer=customer_a), name="filesystem_used_percent",
                points=[(timezone.now().timestamp(), 50.0)])
    page = admin_client.get("/monitoring/alertrules/add/").content.decode()
    assert 'type="checkbox" name="check_states" value="critical"' in page
    assert 'value="ok"' not in page  # OK never fires
    base = {"name": "Disk", "customer": customer_a.pk, "kind": "threshold", "metric": "filesystem_used_percent",
            "operator": ">", "threshold": "85", "for_seconds": "0", "rate_window_seconds": "300",
            "absence_seconds": "600", "severity": "major", "enabled": "on"}
    refused = admin_client.post("/monitoring/alertrules/add/", {**base, "labels": "mount /data"})
    assert refused.status_code == 400
    assert "Write each label as name=value" in refused.content.decode()
    made = admin_client.post("/monitoring/alertrules/add/", {**base, "labels": 'mount=/data, fstype="ext4"'})
    assert made.status_code == 302, re.findall(r"invalid-feedback[^>]*>([^<]*)", made.content.decode())
    rule = AlertRule.objects.get(name="Disk")
    assert rule.labels == {"mount": "/data", "fstype": "ext4"}
    edit = admin_client.get(f"/monitoring/alertrules/{rule.pk}/edit/").content.decode()
    assert 'value="mount=/data, fstype=ext4"' in edit
    states = admin_client.post("/monitoring/alertrules/add/", {**base, "name": "Checks", "kind": "check_state",
                                                               "metric": "", "check_states": ["critical", "unknown"]})
    assert states.status_code == 302, states.content.decode()[:2000]
    assert AlertRule.objects.get(name="Checks").check_states == ["critical", "unknown"]


def test_customer_users_cannot_use_the_preview(customer_client):
    assert customer_client.post("/monitoring/alertrules/preview/", {}).status_code == 403


def test_the_rule_list_says_each_rules_condition_in_one_line(admin_client, customer_a):
    from django.urls import reverse
    from django.utils import translation

    from tests.factories import make_rule

    make_rule(customer_a, name="cpu", metric="cpu_usage_percent", threshold=90.0, for_seconds=300)
    make_rule(customer_a, name="quiet", metric="load1", kind="absence", absence_seconds=600, threshold=None)
    make_rule(customer_a, name="down", metric="", kind="check_state", check_states=["critical", "unknown"],
              threshold=None)
    make_rule(customer_a, name="growth", metric="filesystem_used_percent", kind="rate", rate_window_seconds=3600,
              threshold=2.0)
    url = reverse("monitoring:alertrule_list")

    page = admin_client.get(url).content.decode()
    assert "cpu_usage_percent &gt; 90.0 % for 5 min" in page
    assert "no data of load1 for 10 min" in page
    assert "check in Critical or Unknown" in page
    assert "change of filesystem_used_percent over 1 h &gt; 2.0 % a minute" in page
    assert "<th>Operator</th>" not in page  # folded into the condition, not a column of its own
    admin_client.cookies["django_language"] = "zh-hans"
    with translation.override("zh-hans"):
        page = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "cpu_usage_percent &gt; 90.0 % 持续 5 分钟" in page
    assert "load1 无数据达 10 分钟" in page
    assert "检查处于 严重 或 未知" in page


def test_a_rule_export_keeps_its_fields_beside_the_condition(admin_client, customer_a):
    import csv
    import io

    from django.urls import reverse

    from tests.factories import make_rule

    make_rule(customer_a, name="cpu", metric="cpu_usage_percent", threshold=90.0, for_seconds=300)
    response = admin_client.get(reverse("monitoring:alertrule_list"), {"export": "csv"})
    header, row = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))[:2]
    cells = dict(zip(header, row, strict=True))
    assert (cells["metric"], cells["operator"], cells["threshold"], cells["for (seconds)"]) == (
        "cpu_usage_percent", ">", "90.0", "300")
    assert cells["condition"] == "cpu_usage_percent > 90.0 % for 5 min"


def test_the_alert_page_writes_its_value_and_threshold_in_the_metrics_unit(admin_client, customer_a):
    from django.urls import reverse

    from tests.factories import make_rule

    item = ConfigurationItemFactory(customer=customer_a, name="db-01")
    rule = make_rule(customer_a, item=item, metric="filesystem_used_percent", threshold=85.0)
    alert = make_alert(customer_a, item=item, rule=rule, value=96.59, threshold=85.0,
                       labels={"mount": "/", "fstype": "ext4"})
    page = admin_client.get(reverse("monitoring:alert_detail", args=[alert.pk])).content.decode()
    assert "<td>96.6 %</td>" in page and "<td>85.0 %</td>" in page
    assert "fstype=ext4 · mount=/" in page and '{"fstype"' not in page
    inbound = make_alert(customer_a, item=item, value=3.0)  # no rule: a number as it came
    assert "<td>3</td>" in admin_client.get(reverse("monitoring:alert_detail", args=[inbound.pk])).content.decode()


def test_a_rules_notification_writes_its_value_in_the_metrics_unit_in_both_languages(customer_a):
    from opsdesk.monitoring.alerting import messages
    from tests.factories import make_rule

    item = ConfigurationItemFactory(customer=customer_a, name="db-01")
    rule = make_rule(customer_a, item=item, metric="filesystem_used_percent", threshold=85.0, for_seconds=600)
    alert = make_alert(customer_a, item=item, rule=rule, value=96.59, threshold=85.0)
    sent = messages.firing(alert)
    assert "**96.6 %** (> 85.0 % for 10 min)" in sent["en"]["text"]
    assert "**96.6 %**（> 85.0 %，持续 10 分钟）" in sent["zh-hans"]["text"]
    inbound = messages.firing(make_alert(customer_a, item=item, value=3.0))  # no rule: the number as it came
    assert "**3**" in inbound["en"]["text"]
