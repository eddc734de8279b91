"""The REST API: token and session auth, scopes, filters shared with the UI, JSON errors that name
the field, and never a 500 for bad input."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from opsdesk.core import services
from opsdesk.core.models import ApiToken
from tests.conftest import api_client_for
from tests.factories import ConfigurationItemFactory, kind

pytestmark = pytest.mark.django_db


def test_without_credentials_it_answers_401_json():
    response = APIClient().get("/api/cmdb/configurationitems/")
    assert response.status_code in (401, 403)
    assert "detail" in response.json()


def test_a_bad_token_is_401(customer_a):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer opd_not-a-real-token")
    assert api.get("/api/core/customers/").status_code == 401


def test_an_expired_token_is_refused(admin):
    token, raw = services.create_token(admin, name="t", write=True)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/core/customers/").status_code == 401


def test_tokens_are_stored_hashed_and_record_use(admin):
    token, raw = services.create_token(admin, name="t")
    assert raw not in (token.key_hash, token.key_prefix) and len(token.key_hash) == 64
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/core/customers/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_read_only_token_cannot_write(admin, customer_a):
    api = api_client_for(admin, write=False)
    assert api.get("/api/core/customers/").status_code == 200
    response = api.patch(f"/api/core/customers/{customer_a.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_a_validation_error_names_the_field(admin_api, customer_a):
    response = admin_api.post("/api/cmdb/configurationitems/", {
        "customer": customer_a.pk, "name": "web", "kind": kind("server").pk,
        "attributes": {"ip_address": "not-an-ip", "cpu_cores": "x"}}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "attributes" in body
    assert any("ip_address" in m for m in body["attributes"])


def test_errors_come_in_the_persons_language(admin_api):
    response = admin_api.post("/api/core/customers/", {"code": "", "name": ""}, format="json",
                              HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert response.json()["code"] == ["该字段不能为空。"]


def test_a_duplicate_is_a_400_not_a_500(admin_api, customer_a):
    response = admin_api.post("/api/core/customers/", {"code": customer_a.code, "name": "dup"}, format="json")
    assert response.status_code == 400
    assert "code" in response.json()


def test_bad_filters_and_bad_ids_are_4xx(admin_api):
    assert admin_api.get("/api/cmdb/configurationitems/", {"customer": "abc"}).status_code == 400
    assert admin_api.get("/api/cmdb/configurationitems/999999/").status_code == 404
    assert admin_api.get("/api/cmdb/configurationitems/", {"page": 99}).status_code == 404
    assert admin_api.post("/api/core/customers/", "{not json", content_type="application/json").status_code == 400


def test_filters_and_ordering_are_the_uis(admin_api, customer_a, customer_b):
    ConfigurationItemFactory(customer=customer_a, name="b-web")
    ConfigurationItemFactory(customer=customer_a, name="a-web")
    ConfigurationItemFactory(customer=customer_b, name="c-web")
    body = admin_api.get("/api/cmdb/configurationitems/", {"customer": customer_a.pk, "ordering": "name"}).json()
    assert [r["name"] for r in body["results"]] == ["a-web", "b-web"]
    body = admin_api.get("/api/cmdb/configurationitems/", {"q": "c-w"}).json()
    assert [r["name"] for r in body["results"]] == ["c-web"]


def test_credentials_are_write_only(admin_api, customer_a):
    created = admin_api.post("/api/core/credentials/", {"customer": customer_a.pk, "name": "snmp",
                                                        "kind": "snmp_community", "secret": "public-ish"},
                             format="json")
    assert created.status_code == 201, created.content
    assert "secret" not in created.json() and created.json()["has_secret"] is True
    listed = admin_api.get("/api/core/credentials/").json()["results"][0]
    assert "secret" not in listed and "secret_encrypted" not in listed
    assert "public-ish" not in str(admin_api.get(f"/api/core/credentials/{listed['id']}/").content)


def test_a_customer_user_cannot_read_users_or_credentials(customer_api):
    assert customer_api.get("/api/core/users/").status_code == 403
    assert customer_api.get("/api/core/credentials/").status_code == 403


def test_user_passwords_are_write_only_and_validated(admin_api):
    weak = admin_api.post("/api/core/users/", {"username": "newbie", "role": "engineer", "password": "123"},
                          format="json")
    assert weak.status_code == 400 and "password" in weak.json()
    good = admin_api.post("/api/core/users/", {"username": "newbie", "role": "engineer",
                                               "password": "a-long-enough-passphrase"}, format="json")
    assert good.status_code == 201 and "password" not in good.json()
    customer_without = admin_api.post("/api/core/users/", {"username": "cu", "role": "customer"}, format="json")
    assert customer_without.status_code == 400 and "customer" in customer_without.json()


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi: 3" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
    # Nothing from another host (a CDN): every script and style is the site's own. (Looking for
    # "cdn" in the page failed in a CI run: the page's random CSRF token held those letters.)
    urls = re.findall(rb"""(?:src|href)=["']([^"']+)""", docs.content)
    assert urls and [url for url in urls if re.match(rb"(?:[a-z]+:)?//", url)] == []
