"""The API answers a token's owner in their own language, unless the client asks for another."""

from __future__ import annotations

import pytest

from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def test_a_token_owner_gets_errors_in_their_language(admin):
    admin.language = "zh-hans"
    admin.save()
    response = api_client_for(admin).post("/api/core/customers/", {"code": "", "name": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == ["该字段不能为空。"]
    assert response["Content-Language"] == "zh-hans"


def test_accept_language_wins_over_the_owners_setting(admin):
    admin.language = "zh-hans"
    admin.save()
    response = api_client_for(admin).post("/api/core/customers/", {"code": "", "name": "x"}, format="json",
                                          HTTP_ACCEPT_LANGUAGE="en")
    assert response.json()["code"] == ["This field may not be blank."]
