"""The page that makes a one-time enrolment token and shows it once, with the commands."""

from __future__ import annotations

import pytest

from opsdesk.core.models.tokens import hash_token
from opsdesk.monitoring.models import EnrolmentToken

pytestmark = pytest.mark.django_db

URL = "/monitoring/enrol/"


def test_staff_make_a_token_shown_once_with_the_commands(client, engineer, customer_a):
    client.force_login(engineer)
    assert client.get(URL).status_code == 200
    answer = client.post(URL, {"customer": customer_a.pk, "name": "web-01", "days": 3})
    assert answer.status_code == 200
    raw = answer.context["raw"]
    token = EnrolmentToken.objects.get()
    assert (token.customer, token.key_hash, token.created_by) == (customer_a, hash_token(raw), engineer)
    page = answer.content.decode()
    assert f"opsdesk agent enroll --server http://testserver --token {raw}" in page
    assert f"opsdesk collector enroll --server http://testserver --token {raw}" in page
    assert raw not in client.get("/monitoring/enrolmenttoken/").content.decode()


def test_an_engineer_cannot_make_a_token_for_a_customer_not_theirs(client, engineer, customer_b):
    client.force_login(engineer)
    answer = client.post(URL, {"customer": customer_b.pk, "name": "x", "days": 3})
    assert answer.status_code == 400
    assert "customer" in answer.context["form"].errors
    assert not EnrolmentToken.objects.exists()


def test_a_customer_user_may_not_enrol(client, customer_user, customer_a):
    client.force_login(customer_user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"customer": customer_a.pk, "name": "x", "days": 3}).status_code == 403
    assert not EnrolmentToken.objects.exists()


def test_a_bad_validity_is_named(client, engineer, customer_a):
    client.force_login(engineer)
    answer = client.post(URL, {"customer": customer_a.pk, "name": "x", "days": 0})
    assert answer.status_code == 400 and "days" in answer.context["form"].errors
