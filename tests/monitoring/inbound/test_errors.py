"""Bad tokens (401), tokens of another kind of integration (401), disabled integrations (403),
malformed bodies (400 naming the field, nothing stored), and tenancy."""

from __future__ import annotations

import pytest

from opsdesk.core.models.tokens import new_raw_token
from opsdesk.monitoring.models import Alert, AlertEvent, InboundIntegration
from opsdesk.notify.models import Page
from tests.factories import ConfigurationItemFactory

from .test_alertmanager import payload

pytestmark = pytest.mark.django_db


def test_an_unknown_token_is_401_with_a_json_body(customer_a, sender_for):
    sender = sender_for(customer_a, "alertmanager")
    response = sender.post(payload(), token=new_raw_token())
    assert response.status_code == 401
    assert response.json() == {"detail": "The integration token is not valid or was replaced."}
    assert response["WWW-Authenticate"] == 'Bearer realm="inbound"'
    no_token = sender.client.post("/api/monitoring/inbound/alertmanager/", data="{}", content_type="application/json")
    assert no_token.status_code == 401
    assert not Alert.objects.exists()


def test_the_token_may_come_as_a_query_parameter(customer_a, sender_for):
    sender = sender_for(customer_a, "alertmanager")
    assert sender.post(payload(), query=True).status_code == 200
    assert Alert.objects.count() == 1


def test_a_token_of_another_kind_of_integration_is_401(customer_a, sender_for):
    zabbix = sender_for(customer_a, "zabbix")
    response = zabbix.post(payload(), kind="alertmanager")
    assert response.status_code == 401
    assert "another type" in response.json()["detail"]
    heartbeat = zabbix.client.get(f"/api/monitoring/heartbeat/{zabbix.token}/")
    assert heartbeat.status_code == 401
    assert not Alert.objects.exists()


def test_a_disabled_integration_is_403(customer_a, sender_for):
    sender = sender_for(customer_a, "alertmanager")
    InboundIntegration.objects.filter(pk=sender.integration.pk).update(enabled=False)
    assert sender.post(payload()).status_code == 403
    assert not Alert.objects.exists()


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b["alerts"][1].update(labels="x"), "alerts.1.labels"),
    (lambda b: b["alerts"][1]["labels"].update(job=["a"]), "alerts.1.labels.job"),
    (lambda b: b["alerts"][1].update(status="burning"), "alerts.1.status"),
    (lambda b: b["alerts"][1].update(startsAt="yesterday"), "alerts.1.startsAt"),
    (lambda b: b.update(alerts={"a": 1}), "alerts"),
])
def test_a_malformed_alertmanager_body_is_400_naming_the_field_and_nothing_is_stored(customer_a, sender_for, mutate,
                                                                                    field):
    body = payload(fingerprint="first")
    # The first alert is good: a refusal must not keep it (never half-stored).
    body["alerts"].append(payload(fingerprint="second")["alerts"][0])
    mutate(body)
    response = sender_for(customer_a, "alertmanager").post(body)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert (Alert.objects.count(), AlertEvent.objects.count(), Page.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2", b"\xff\xfe", b"[" * 100 + b"]" * 100, b"42"])
def test_a_body_that_is_not_the_json_wanted_is_400(customer_a, sender_for, raw):
    response = sender_for(customer_a, "alertmanager").post(raw)
    assert response.status_code == 400
    body = response.json()
    assert "body" in body
    assert not Alert.objects.exists()


def test_an_integrations_token_makes_alerts_only_for_its_own_customer(customer_a, customer_b, sender_for):
    # Customer B has an item of the name the alert carries: it is not A's, so it is not linked.
    ConfigurationItemFactory(customer=customer_b, name="db1")
    a = sender_for(customer_a, "alertmanager", name="prom")
    b = sender_for(customer_b, "alertmanager", name="prom")
    a.post(payload(instance="db1"))
    b.post(payload(instance="db1"))  # the same Alertmanager fingerprint, another customer: another alert
    alerts = {alert.customer_id: alert for alert in Alert.objects.all()}
    assert set(alerts) == {customer_a.pk, customer_b.pk}
    assert alerts[customer_a.pk].configuration_item is None
    assert alerts[customer_b.pk].configuration_item.name == "db1"
    # A's resolution does not resolve B's alert.
    a.post(payload("resolved", instance="db1"))
    assert Alert.objects.get(customer=customer_b).state == "firing"
    assert Alert.objects.get(customer=customer_a).state == "resolved"
