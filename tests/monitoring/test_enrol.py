"""Enrolment: a one-time token makes an agent (and its host's configuration item)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from rest_framework.test import APIClient

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.models.tokens import hash_token
from opsdesk.monitoring import services
from opsdesk.monitoring.models import Agent, EnrolmentToken, IngestBatch
from tests.factories import ConfigurationItemFactory

pytestmark = pytest.mark.django_db

URL = "/api/monitoring/enrol/"


def enrol(body):
    return APIClient().post(URL, body, format="json")


def test_enrolment_makes_the_host_and_the_agent_and_spends_the_token(customer_a, admin):
    token, raw = services.create_enrolment_token(customer_a, name="rack 3", actor=admin)
    assert token.key_hash == hash_token(raw) and raw not in token.key_hash
    answer = enrol({"token": raw, "hostname": "web-01", "os": "Debian 13"})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    agent = Agent.objects.get(pk=body["agent"])
    item = ConfigurationItem.objects.get(pk=body["configuration_item"])
    assert (agent.customer, agent.configuration_item, item.customer) == (customer_a, item, customer_a)
    assert item.kind.slug == "server" and item.name == "web-01"
    assert item.attributes == {"hostname": "web-01", "os": "Debian 13"}
    assert agent.key_hash == hash_token(body["token"])
    token.refresh_from_db()
    assert token.used_at is not None
    # The token it got pushes.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    pushed = client.post("/api/monitoring/push/", {"seq": 1, "samples": []}, format="json")
    assert pushed.status_code == 200 and IngestBatch.objects.filter(agent=agent).count() == 1


def test_an_existing_host_is_found_by_name(customer_a):
    item = ConfigurationItemFactory(customer=customer_a, name="db-01")
    _token, raw = services.create_enrolment_token(customer_a, name="t", actor=None)
    answer = enrol({"token": raw, "hostname": "db-01"})
    assert answer.status_code == 201
    assert answer.json()["configuration_item"] == item.pk
    assert ConfigurationItem.objects.filter(customer=customer_a).count() == 1


def test_a_token_enrols_once(customer_a):
    _token, raw = services.create_enrolment_token(customer_a, name="t", actor=None)
    assert enrol({"token": raw, "hostname": "a"}).status_code == 201
    again = enrol({"token": raw, "hostname": "b"})
    assert again.status_code == 403
    assert "detail" in again.json()
    assert Agent.objects.count() == 1
    assert not ConfigurationItem.objects.filter(name="b").exists()


def test_an_expired_or_unknown_token_is_refused(customer_a):
    token, raw = services.create_enrolment_token(customer_a, name="t", actor=None)
    EnrolmentToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert enrol({"token": raw, "hostname": "a"}).status_code == 403
    assert enrol({"token": "opd_nothing", "hostname": "a"}).status_code == 403
    assert not Agent.objects.exists() and not ConfigurationItem.objects.filter(name="a").exists()


def test_enrolment_input_is_validated(customer_a):
    _token, raw = services.create_enrolment_token(customer_a, name="t", actor=None)
    answer = enrol({"token": raw})
    assert answer.status_code == 400 and "hostname" in answer.json()
    assert enrol({"token": raw, "hostname": 5}).status_code == 400
    assert not Agent.objects.exists()


def test_only_staff_who_serve_the_customer_make_enrolment_tokens(customer_a, customer_b, engineer, customer_user):
    services.create_enrolment_token(customer_a, name="ok", actor=engineer)
    with pytest.raises(PermissionDenied):
        services.create_enrolment_token(customer_b, name="not theirs", actor=engineer)
    with pytest.raises(PermissionDenied):
        services.create_enrolment_token(customer_a, name="customer", actor=customer_user)
    assert EnrolmentToken.objects.count() == 1


def test_the_generic_api_cannot_make_agents_or_tokens(admin_api, customer_a):
    assert admin_api.post("/api/monitoring/agents/", {"name": "x"}, format="json").status_code == 403
    assert admin_api.post("/api/monitoring/enrolmenttokens/", {"name": "x"}, format="json").status_code == 403
