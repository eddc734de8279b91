"""Fixed dates for the SLA tests: a clock that says what time it is (django.utils.timezone.now,
which the ticket actions and the sweep read), the seed calendars, and a contract whose service
level has business-hours targets."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from opsdesk.core.models import ServiceLevel, ServiceLevelTarget
from opsdesk.servicedesk.models import BusinessCalendar
from opsdesk.servicedesk.sla import services as sla_services
from tests.factories import ContractFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    """A moment in Shanghai, as the people who read the tickets say it."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


class Clock:
    def __init__(self) -> None:
        self.now = at(2026, 11, 25, 10)

    def set(self, moment: dt.datetime) -> None:
        self.now = moment

    def __call__(self) -> dt.datetime:
        return self.now.astimezone(dt.UTC)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Today is 2026-11-25 10:00 in Shanghai unless a test sets another moment."""
    fake = Clock()
    monkeypatch.setattr("django.utils.timezone.now", fake)
    return fake


@pytest.fixture
def calendars(db) -> dict[str, BusinessCalendar]:
    sla_services.seed_calendars()
    return {"china": BusinessCalendar.objects.get(name=sla_services.CHINA_NAME),
            "always": BusinessCalendar.objects.get(name=sla_services.ALWAYS_OPEN_NAME)}


def make_service_level(name: str = "Gold", *, business_hours: bool = True,
                       minutes: dict[str, tuple[int, int]] | None = None) -> ServiceLevel:
    """severe: respond 1 h, resolve 4 h; general: 2 h, 8 h; minor: 4 h, 16 h (business hours)."""
    level = ServiceLevel.objects.create(name=name)
    for fault, (response, resolution) in (minutes or {"severe": (60, 240), "general": (120, 480),
                                                      "minor": (240, 960)}).items():
        ServiceLevelTarget.objects.create(service_level=level, fault_level=fault, response_minutes=response,
                                          resolution_minutes=resolution, business_hours_only=business_hours)
    return level


@pytest.fixture
def gold(customer_a, calendars) -> ServiceLevel:
    """Customer A's contract, 2025 to 2028, on business-hours targets (the default calendar:
    China working days)."""
    level = make_service_level()
    ContractFactory(customer=customer_a, service_level=level, start_date=dt.date(2025, 1, 1),
                    end_date=dt.date(2028, 12, 31))
    return level
