"""A time zone typed by a person (or sent by a fuzzer) is a known zone or a clear error, never a
500: zoneinfo reads the name as a file path, and a long one is "File name too long"."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from opsdesk.core.models.people import validate_time_zone
from tests.conftest import api_client_for


@pytest.mark.parametrize("name", ["a" * 300, "Mars/Olympus", "../../etc/passwd", ""])
def test_an_impossible_time_zone_is_a_validation_error(name):
    with pytest.raises(ValidationError):
        validate_time_zone(name)


def test_a_known_time_zone_passes():
    validate_time_zone("Asia/Shanghai")


@pytest.mark.django_db
def test_the_api_answers_400_naming_the_field(admin):
    response = api_client_for(admin).post("/api/servicedesk/calendars/", {"name": "工作日", "time_zone": "x" * 300},
                                          format="json")
    assert response.status_code == 400
    assert "time_zone" in response.json()
