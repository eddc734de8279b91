"""The generic JSON webhook: a field mapping read from the integration, checked when it is saved."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from opsdesk.monitoring.inbound import services
from opsdesk.monitoring.models import Alert, AlertState
from tests.factories import ConfigurationItemFactory

from .conftest import make_integration

pytestmark = pytest.mark.django_db

MAPPING = {"title": "/alert/title", "fingerprint": "alert.id", "status": "/state", "resolved_values": ["OK"],
           "severity": "/alert/priority", "severity_map": {"P1": "critical", "P3": "minor"},
           "item": "/alert/host", "description": "alert.text", "labels": "/tags"}


def event(state: str = "ALERT", **alert) -> dict:
    return {"state": state, "tags": {"team": "dba"},
            "alert": {"id": "chk-17", "title": "Replication lag", "priority": "P1", "host": "db-2",
                      "text": "lag 300 s", **alert}}


def test_a_mapped_body_fires_and_its_resolution_resolves(customer_a, sender_for):
    item = ConfigurationItemFactory(customer=customer_a, name="db-2")
    sender = sender_for(customer_a, "webhook", mapping=MAPPING)
    assert sender.post(event()).status_code == 200
    assert sender.post(event()).status_code == 200  # delivered twice: one alert
    alert = Alert.objects.get()
    assert (alert.source, alert.title, alert.severity, alert.configuration_item, alert.description, alert.labels) == \
        ("webhook", "Replication lag", "critical", item, "lag 300 s", {"team": "dba"})
    assert sender.post(event("ok")).json()["resolved"] == 1  # resolved values compare without case
    assert Alert.objects.get().state == AlertState.RESOLVED


def test_a_list_of_alerts_in_one_body(customer_a, sender_for):
    mapping = {"alerts": "/events", "title": "name", "fingerprint": "key", "severity": "level"}
    sender = sender_for(customer_a, "webhook", mapping=mapping, severity="info")
    body = {"events": [{"name": "disk full", "key": "a", "level": "warning"}, {"name": "fan", "key": "b"}]}
    assert sender.post(body).json() == {"firing": 2, "resolved": 0, "ignored": 0, "fired": 2}
    assert dict(Alert.objects.values_list("title", "severity")) == {"disk full": "minor", "fan": "info"}


def test_without_a_key_the_title_and_item_are_the_key(customer_a, sender_for):
    sender = sender_for(customer_a, "webhook", mapping={"title": "t"})
    sender.post({"t": "backup failed"})
    sender.post({"t": "backup failed"})
    sender.post({"t": "backup slow"})
    assert Alert.objects.count() == 2


def test_a_body_without_the_mapped_title_is_400_naming_the_path(customer_a, sender_for):
    response = sender_for(customer_a, "webhook", mapping=MAPPING).post({"state": "ALERT", "alert": {"id": "1"}})
    assert response.status_code == 400
    assert response.json() == {"/alert/title": ["This field is required."]}
    assert not Alert.objects.exists()


@pytest.mark.parametrize(("mapping", "message"), [
    ({}, "title: A path to the alert's title is required"),
    ({"title": 5}, "title: A JSON pointer"),
    ({"title": "a..b"}, "title: A dotted path has no empty parts"),
    ({"title": "t", "colour": "c"}, "colour: Unknown field"),
    ({"title": "t", "resolved_values": ["ok"]}, "resolved_values: Give the status path too"),
    ({"title": "t", "status": "s", "resolved_values": "ok"}, "resolved_values: A list of the status values"),
    ({"title": "t", "severity": "s", "severity_map": {"P1": "fatal"}}, "severity_map: An object mapping"),
    ("title", "mapping: The mapping must be a JSON object."),
])
def test_the_mapping_is_checked_when_saved_naming_its_field(customer_a, mapping, message):
    with pytest.raises(ValidationError) as caught:
        make_integration(customer_a, "webhook", mapping=mapping)
    errors = caught.value.message_dict["mapping"]
    assert any(e.startswith(message) for e in errors), errors


def test_the_mapping_is_checked_on_change_too(customer_a):
    integration = make_integration(customer_a, "webhook", mapping={"title": "t"})
    with pytest.raises(ValidationError) as caught:
        services.update_integration(integration, {"mapping": {"titel": "t"}}, actor=None)
    assert "mapping" in caught.value.message_dict
