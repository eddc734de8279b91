"""Acknowledge and resolve: from the alert's page, the API and the signed link in a notification
(without logging in, for a limited time); a rule refused with a message naming the field."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from opsdesk.monitoring.alerting import messages
from opsdesk.monitoring.alerting.lifecycle import Candidate, apply, fingerprint
from opsdesk.monitoring.models import Alert, AlertState
from opsdesk.notify.models import Notification, Page
from tests.conftest import api_client_for
from tests.factories import ConfigurationItemFactory, make_series

pytestmark = pytest.mark.django_db


@pytest.fixture
def firing(customer_a, group_channel_for_a):
    item = ConfigurationItemFactory(customer=customer_a, name="db-7")
    from opsdesk.monitoring.models import AlertRule

    make_series(customer_a, item=item, name="host_cpu_utilisation")
    rule = AlertRule.objects.create(name="CPU", customer=customer_a, metric="host_cpu_utilisation", threshold=90)
    rule.channels.add(group_channel_for_a)
    apply([Candidate(fingerprint=fingerprint("x", item.pk), customer_id=customer_a.pk, source="rule",
                     title="CPU busy", severity="critical", at=timezone.now(), value=99.0, threshold=90.0,
                     item_id=item.pk, rule_id=rule.pk)])
    return Alert.objects.get()


@pytest.fixture
def group_channel_for_a(customer_a):
    from opsdesk.notify.models import Channel

    return Channel.objects.create(customer=customer_a, name="group", kind="webhook", config={"url": "http://127.0.0.1:9/"})


def link_path(alert: Alert) -> str:
    notification = Notification.objects.filter(source=f"monitoring.alert:{alert.pk}").order_by("id").first()
    return re.sub(r"^https?://[^/]+", "", notification.url)


def test_the_link_in_the_notification_acknowledges_without_logging_in(firing):
    path = link_path(firing)
    anonymous = Client(enforce_csrf_checks=True)
    page = anonymous.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "CPU busy" in html and 'id="link-acknowledge"' in html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    done = anonymous.post(path, {"action": "acknowledge", "csrfmiddlewaretoken": token})
    assert done.status_code == 200 and 'id="link-done"' in done.content.decode()
    firing.refresh_from_db()
    assert firing.state == AlertState.ACKNOWLEDGED
    assert firing.events.filter(kind="acknowledged", text__contains="link").exists()
    assert Page.objects.get().state == "acknowledged"


def test_a_tampered_or_expired_link_does_nothing(firing, monkeypatch):
    path = link_path(firing)
    assert Client().get(path[:-3] + "xyz/").status_code == 404
    monkeypatch.setattr(messages, "LINK_MAX_AGE", -1)
    response = Client().post(path, {"action": "acknowledge"})
    assert response.status_code == 410
    firing.refresh_from_db()
    assert firing.state == AlertState.FIRING


def test_a_link_for_another_alert_cannot_be_made_by_hand(firing):
    forged = signing.dumps({"a": firing.pk}, salt="another-salt")
    assert Client().get(f"/monitoring/alerts/link/{forged}/").status_code == 404


def test_acknowledge_through_the_api_stops_the_escalation_and_a_second_time_is_refused(firing, engineer):
    api = api_client_for(engineer)
    response = api.post(f"/api/monitoring/alerts/{firing.pk}/acknowledge/", {}, format="json")
    assert response.status_code == 200, response.content
    assert Page.objects.get().acknowledged_by == engineer
    again = api.post(f"/api/monitoring/alerts/{firing.pk}/acknowledge/", {}, format="json")
    # The action no longer applies to an acknowledged alert: refused as not permitted, with a JSON body.
    assert again.status_code == 403
    assert "detail" in again.json()


def test_a_customer_user_cannot_acknowledge_or_see_another_customers_alert(firing, other_customer_user, customer_user):
    other = api_client_for(other_customer_user)
    assert other.get(f"/api/monitoring/alerts/{firing.pk}/").status_code == 404
    assert other.post(f"/api/monitoring/alerts/{firing.pk}/acknowledge/", {}, format="json").status_code in (403, 404)
    own = api_client_for(customer_user)
    assert own.get(f"/api/monitoring/alerts/{firing.pk}/").status_code == 200
    assert own.post(f"/api/monitoring/alerts/{firing.pk}/acknowledge/", {}, format="json").status_code == 403


@pytest.mark.parametrize(("change", "field"), [
    ({"metric": "no_such_metric"}, "metric"),
    ({"for_seconds": 8 * 24 * 3600}, "for_seconds"),
    ({"recovery_threshold": 95}, "recovery_threshold"),
    ({"operator": "<", "recovery_threshold": 80}, "recovery_threshold"),
    ({"operator": "==", "recovery_threshold": 80}, "recovery_threshold"),
    ({"threshold": None}, "threshold"),
    ({"kind": "check_state", "check_states": ["sideways"]}, "check_states"),
])
def test_an_impossible_rule_is_refused_naming_the_field_and_nothing_is_stored(admin, customer_a, change, field):
    make_series(customer_a, name="host_cpu_utilisation")
    body = {"name": "CPU", "customer": customer_a.pk, "kind": "threshold", "metric": "host_cpu_utilisation",
            "operator": ">", "threshold": 90, **change}
    response = api_client_for(admin).post("/api/monitoring/alertrules/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    from opsdesk.monitoring.models import AlertRule

    assert not AlertRule.objects.exists()


def test_the_rule_error_is_in_the_persons_language(admin, customer_a):
    api = api_client_for(admin)
    body = {"name": "CPU", "customer": customer_a.pk, "kind": "threshold", "metric": "nope", "threshold": 1}
    response = api.post("/api/monitoring/alertrules/", body, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert "指标" in " ".join(response.json()["metric"])


def test_a_good_rule_is_stored(admin, customer_a):
    make_series(customer_a, name="host_cpu_utilisation")
    body = {"name": "CPU", "customer": customer_a.pk, "metric": "host_cpu_utilisation", "threshold": 90,
            "recovery_threshold": 80, "for_seconds": 180, "severity": "critical"}
    response = api_client_for(admin).post("/api/monitoring/alertrules/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["recovery_threshold"] == 80


def test_the_firing_message_renders_in_both_languages(firing):
    texts = messages.firing(firing)
    assert set(texts) == {"zh-hans", "en"}
    assert "当前值" in texts["zh-hans"]["text"] and "Value" in texts["en"]["text"]
    assert texts["zh-hans"]["url"] == texts["en"]["url"]
    assert messages.read_link(texts["en"]["url"].rstrip("/").rsplit("/", 1)[-1]) == firing.pk
    assert dt.timedelta(seconds=messages.LINK_MAX_AGE) == dt.timedelta(hours=24)
