"""The integration's pages: made by staff with the token shown once (then never again), the URL
and the Alertmanager receiver to paste, a new token that replaces the old one; customers never
see integrations."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings

from opsdesk.monitoring.inbound import services
from opsdesk.monitoring.models import Alert, InboundIntegration

from .test_alertmanager import payload

pytestmark = pytest.mark.django_db


def _raw(page: str) -> str:
    match = re.search(r'id="raw-token">([^<]+)</pre>', page)
    assert match, "the token is not on the page"
    return match.group(1)


@override_settings(BASE_URL="https://ops.example.com")
def test_staff_make_an_integration_and_see_its_token_once(engineer_client, customer_a):
    response = engineer_client.post("/monitoring/inboundintegrations/add/", {
        "customer": customer_a.pk, "name": "prod prometheus", "kind": "alertmanager", "severity": "major",
        "grace_seconds": 300, "mapping": "{}", "enabled": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    integration = InboundIntegration.objects.get()
    page = engineer_client.get(response["Location"]).content.decode()
    raw = _raw(page)
    assert services.authenticate(raw) == integration
    assert "https://ops.example.com/api/monitoring/inbound/alertmanager/" in page
    assert f"credentials: {raw}" in page  # the receiver YAML, ready to paste
    again = engineer_client.get(response["Location"]).content.decode()
    assert 'id="raw-token"' not in again and raw not in again
    assert "credentials: &lt;TOKEN&gt;" in again


def test_a_new_token_replaces_the_old_one(engineer_client, customer_a, sender_for):
    sender = sender_for(customer_a, "alertmanager")
    old = sender.token
    response = engineer_client.post(f"/monitoring/inboundintegrations/{sender.integration.pk}/actions/new_token/")
    assert response.status_code == 302
    new = _raw(engineer_client.get(response["Location"]).content.decode())
    assert new != old
    assert sender.post(payload(), token=old).status_code == 401
    assert sender.post(payload(), token=new).status_code == 200
    assert Alert.objects.count() == 1


def test_the_api_answers_the_new_token_once(engineer, customer_a, sender_for):
    from tests.conftest import api_client_for

    api = api_client_for(engineer)
    made = api.post("/api/monitoring/inboundintegrations/", {
        "customer": customer_a.pk, "name": "from a script", "kind": "alertmanager", "severity": "major"},
        format="json")
    assert made.status_code == 201, made.content
    raw = made.json()["raw_token"]
    number = made.json()["id"]
    assert services.authenticate(raw).pk == number
    assert "raw_token" not in api.get(f"/api/monitoring/inboundintegrations/{number}/").json()
    renewed = api.post(f"/api/monitoring/inboundintegrations/{number}/new-token/")
    assert renewed.status_code == 200, renewed.content
    new = renewed.json()["raw_token"]
    assert new != raw and services.authenticate(raw) is None and services.authenticate(new).pk == number
    assert "raw_token" not in api.get("/api/monitoring/inboundintegrations/").json()["results"][0]


def test_the_mapping_error_names_its_field_on_the_form(engineer_client, customer_a):
    response = engineer_client.post("/monitoring/inboundintegrations/add/", {
        "customer": customer_a.pk, "name": "hook", "kind": "webhook", "severity": "major", "grace_seconds": 300,
        "mapping": '{"titel": "/t"}', "enabled": "on"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "titel: Unknown field" in page and "title: A path to the alert&#x27;s title is required" in page
    assert not InboundIntegration.objects.exists()


def test_a_heartbeat_page_shows_its_ping_url_and_cron_line(engineer_client, customer_a, sender_for):
    hb = sender_for(customer_a, "heartbeat", period_seconds=86400)
    page = engineer_client.get(f"/monitoring/inboundintegrations/{hb.integration.pk}/").content.decode()
    assert "/api/monitoring/heartbeat/&lt;TOKEN&gt;/" in page
    assert "fail/" in page and 'id="heartbeat-due"' in page


def test_customers_and_other_teams_never_see_an_integration(client, customer_user, engineer_of_b, customer_a,
                                                            sender_for):
    sender = sender_for(customer_a, "alertmanager")
    url = f"/monitoring/inboundintegrations/{sender.integration.pk}/"
    client.force_login(customer_user)
    assert client.get(url).status_code == 404
    client.force_login(engineer_of_b)
    assert client.get(url).status_code == 404
    assert client.post(f"{url}actions/new_token/").status_code == 404
