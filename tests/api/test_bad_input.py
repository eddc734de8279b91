"""Bad input is a 400 (or 404) JSON answer that says what is wrong; a real bug stays a 500 so the
"no 5xx" checks see it instead of it passing for bad input."""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError
from rest_framework.exceptions import ParseError
from rest_framework.test import APIRequestFactory

from opsdesk.core.api.exceptions import exception_handler
from opsdesk.core.api.parsers import MAX_DEPTH, JSONParser, nesting_exceeds

pytestmark = pytest.mark.django_db


def nested(depth: int) -> str:
    """A JSON object holding objects `depth` levels deep."""
    return '{"name": ' * (depth - 1) + "{}" + "}" * (depth - 1)


@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_a_deeply_nested_json_body_is_a_400_that_says_so(admin_api, depth):
    response = admin_api.post("/api/core/sites/", data=nested(depth), content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert f"nested more than {MAX_DEPTH} levels deep" in response.json()["detail"]


def test_nesting_within_the_limit_is_parsed():
    body = json.dumps({"a": [[{"b": [1, 2]}]] * 3})
    assert JSONParser().parse(_stream(body)) == json.loads(body)
    assert not nesting_exceeds(json.loads(nested(MAX_DEPTH)), MAX_DEPTH)
    assert nesting_exceeds(json.loads(nested(MAX_DEPTH + 1)), MAX_DEPTH)
    with pytest.raises(ParseError):
        JSONParser().parse(_stream("[" * 2000 + "]" * 2000))


def _stream(text: str):
    import io

    return io.BytesIO(text.encode())


def test_malformed_json_is_still_a_400(admin_api):
    response = admin_api.post("/api/core/sites/", data='{"name": ', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_forms_are_still_accepted(admin_api, customer_a):
    response = admin_api.post("/api/core/sites/", data={"customer": customer_a.pk, "name": "Form site"})
    assert response.status_code == 201, response.content


BIG = "99999999999999999999"  # beyond any 64-bit integer column


@pytest.mark.parametrize(("method", "url"), [
    ("get", f"/api/core/customers/{BIG}/"),
    ("patch", f"/api/core/customers/{BIG}/"),
    ("delete", f"/api/core/customers/{BIG}/"),
    ("get", f"/api/core/sites/?customer={BIG}"),
    ("post", "/api/core/sites/"),
])
def test_an_overflowing_id_is_not_a_500(admin_api, method, url):
    data = {"customer": int(BIG), "name": "x"} if method in ("post", "patch") else None
    response = getattr(admin_api, method)(url, data=data, format="json")
    assert response.status_code in (200, 400, 404), response.content
    assert response["Content-Type"].startswith("application/json")


def _context() -> dict:
    return {"request": APIRequestFactory().post("/api/core/sites/"), "view": None}


@pytest.mark.parametrize("error", [ValueError("x"), TypeError("y"), OverflowError("z"), RecursionError()])
def test_an_unknown_error_is_left_to_be_a_500(error):
    # None makes DRF re-raise it, and Django answers 500: a bug shows as a bug.
    assert exception_handler(error, _context()) is None


def test_an_integrity_error_is_a_409():
    response = exception_handler(IntegrityError("UNIQUE constraint failed"), _context())
    assert response.status_code == 409
