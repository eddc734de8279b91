"""Alertmanager's webhook payload (version 4) as Alertmanager 0.25 sends it: severity, title,
item, de-duplication of re-sends, resolution."""

from __future__ import annotations

import pytest

from opsdesk.monitoring.models import Alert, AlertState
from opsdesk.notify.models import Page
from tests.factories import ConfigurationItemFactory

pytestmark = pytest.mark.django_db


def payload(status: str = "firing", *, fingerprint: str = "6e6f9d0a1b2c3d4e", severity: str = "warning",
            instance: str = "db1.example.com:9100", **extra) -> dict:
    alert = {"status": status,
             "labels": {"alertname": "HighLoad", "severity": severity, "instance": instance, "job": "node"},
             "annotations": {"summary": "Load is high on db1", "description": "load15 is 12"},
             "startsAt": "2026-03-01T06:00:00.123456789Z",
             "endsAt": "2026-03-01T06:10:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
             "generatorURL": "http://prometheus:9090/graph?g0.expr=load", "fingerprint": fingerprint, **extra}
    return {"version": "4", "groupKey": "{}:{alertname=\"HighLoad\"}", "truncatedAlerts": 0, "status": status,
            "receiver": "opsdesk", "groupLabels": {"alertname": "HighLoad"}, "commonLabels": alert["labels"],
            "commonAnnotations": alert["annotations"], "externalURL": "http://alertmanager:9093",
            "alerts": [alert]}


def test_a_firing_alert_becomes_an_alert_of_the_integrations_customer_on_the_named_item(customer_a, sender_for):
    item = ConfigurationItemFactory(customer=customer_a, name="db1", attributes={"hostname": "db1.example.com"})
    sender = sender_for(customer_a, "alertmanager")
    response = sender.post(payload())
    assert response.status_code == 200, response.content
    assert response.json() == {"firing": 1, "resolved": 0, "ignored": 0, "fired": 1}
    alert = Alert.objects.get()
    assert (alert.customer, alert.source, alert.integration, alert.configuration_item) == \
        (customer_a, "alertmanager", sender.integration, item)
    assert (alert.title, alert.severity, alert.state) == ("Load is high on db1", "minor", AlertState.FIRING)
    assert alert.description.startswith("load15 is 12") and "prometheus:9090" in alert.description
    assert alert.labels["alertname"] == "HighLoad"
    assert alert.started_at.isoformat() == "2026-03-01T06:00:00.123456+00:00"
    assert Page.objects.get().source == f"monitoring.alert:{alert.pk}"


@pytest.mark.parametrize(("word", "ours"), [("critical", "critical"), ("page", "major"), ("error", "major"),
                                            ("warning", "minor"), ("info", "info"), ("whatever", "major")])
def test_the_severity_label_maps_to_ours_else_the_integrations_default(customer_a, sender_for, word, ours):
    sender_for(customer_a, "alertmanager", severity="major").post(payload(severity=word))
    assert Alert.objects.get().severity == ours


def test_re_sends_make_one_alert_and_the_resolution_resolves_it(customer_a, sender_for):
    sender = sender_for(customer_a, "alertmanager")
    for _ in range(3):  # group_interval and repeat_interval re-sends
        assert sender.post(payload()).status_code == 200
    assert Alert.objects.count() == 1
    assert Page.objects.count() == 1
    assert sender.post(payload("resolved")).json()["resolved"] == 1
    alert = Alert.objects.get()
    assert alert.state == AlertState.RESOLVED
    assert alert.resolved_at.isoformat() == "2026-03-01T06:10:00+00:00"
    assert Page.objects.get().state == "resolved"


def test_without_a_matching_item_the_integrations_item_is_taken(customer_a, sender_for):
    own = ConfigurationItemFactory(customer=customer_a, name="prometheus")
    sender_for(customer_a, "alertmanager", configuration_item=own).post(payload(instance="10.9.9.9:9100"))
    assert Alert.objects.get().configuration_item == own


def test_the_title_falls_back_to_the_alertname(customer_a, sender_for):
    body = payload()
    body["alerts"][0]["annotations"] = {}
    body["commonAnnotations"] = {}
    sender_for(customer_a, "alertmanager").post(body)
    assert Alert.objects.get().title == "HighLoad"


def test_acknowledging_the_alerts_page_acknowledges_the_alert(customer_a, sender_for, engineer,
                                                                django_capture_on_commit_callbacks):
    from opsdesk.notify import escalation

    sender_for(customer_a, "alertmanager").post(payload())
    alert, page = Alert.objects.get(), Page.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        escalation.acknowledge(page, actor=engineer)
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by) == (AlertState.ACKNOWLEDGED, engineer)
    assert alert.events.filter(kind="acknowledged", text="page").exists()
    page.refresh_from_db()
    assert page.state == "acknowledged"
