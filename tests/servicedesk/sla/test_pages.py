"""The calendar's year page (holidays, swapped working days and unknown days marked; the warning
that it runs out) and its add-days form (bad input names the field), the dashboard warning, the
badge, and the seed calendars."""

from __future__ import annotations

import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.template import Context, Template
from django.urls import reverse

from opsdesk.core import registry
from opsdesk.servicedesk.models import BusinessCalendar, CalendarDay
from opsdesk.servicedesk.registrations_sla import sla_widgets
from opsdesk.servicedesk.sla import services as sla_services
from opsdesk.servicedesk.sla import status
from tests.factories import make_ticket
from tests.servicedesk.sla.conftest import at

pytestmark = pytest.mark.django_db


def _year(client, calendar, year) -> str:
    response = client.get(reverse("servicedesk:calendar_year", args=[calendar.pk]), {"year": year})
    assert response.status_code == 200
    return response.content.decode()


def test_the_year_page_marks_holidays_and_swapped_days(client, admin, calendars, clock):
    client.force_login(admin)
    page = _year(client, calendars["china"], 2025)
    assert 'data-day="2025-10-01" data-kind="holiday"' in page
    assert 'data-day="2025-09-28" data-kind="swapped"' in page
    assert 'data-day="2025-10-11" data-kind="swapped"' in page
    assert 'data-day="2025-09-27" data-kind="weekend"' in page
    assert 'data-unknown="1"' not in page


def test_the_page_warns_60_days_before_the_calendar_runs_out_and_hatches_unknown_days(client, admin, calendars,
                                                                                     clock):
    client.force_login(admin)
    end = status.runs_out(calendars["china"], clock().date()).runs_out_on
    assert end == dt.date(2026, 12, 31)
    clock.set(at(2026, 10, 31, 10))  # 61 days before: only the quiet line
    page = _year(client, calendars["china"], 2026)
    assert 'id="calendar-known-until"' in page and 'id="calendar-runs-out"' not in page
    clock.set(at(2026, 11, 1, 10))  # 60 days before
    assert 'id="calendar-runs-out" data-runs-out="2026-12-31"' in _year(client, calendars["china"], 2026)
    page = _year(client, calendars["china"], 2027)
    assert 'data-day="2027-01-01" data-kind="workday" data-unknown="1"' in page
    assert 'id="year-unknown-days"' in page
    clock.set(at(2027, 1, 2, 10))  # past it
    client.force_login(admin)  # the session of 2026 has expired by then
    assert 'alert-danger small mb-2" id="calendar-runs-out"' in _year(client, calendars["china"], 2027)


def test_the_add_days_form_sets_a_range_and_writes_one_audit_row(client, admin, calendars, clock):
    client.force_login(admin)
    china = calendars["china"]
    logged = LogEntry.objects.count()
    response = client.post(reverse("servicedesk:calendar_year", args=[china.pk]), {
        "lines": "2027-01-01..2027-01-03 holiday 元旦\n2027-02-20 workday 春节补班",
        "entered_until": "2027-12-31"})
    assert response.status_code == 302 and response["Location"].endswith("?year=2027")
    assert list(CalendarDay.objects.filter(calendar=china).values_list("date", "kind", "name")) == [
        (dt.date(2027, 1, 1), "holiday", "元旦"), (dt.date(2027, 1, 2), "holiday", "元旦"),
        (dt.date(2027, 1, 3), "holiday", "元旦"), (dt.date(2027, 2, 20), "workday", "春节补班")]
    assert LogEntry.objects.count() == logged + 1
    page = _year(client, china, 2027)
    assert 'data-day="2027-01-01" data-kind="holiday"' in page and 'data-unknown="1"' not in page
    assert 'data-runs-out="2027-12-31"' in page


def test_one_day_through_the_single_fields(client, admin, calendars, clock):
    client.force_login(admin)
    china = calendars["china"]
    response = client.post(reverse("servicedesk:calendar_year", args=[china.pk]), {
        "first": "2027-01-01", "last": "", "kind": "holiday", "label": "元旦"})
    assert response.status_code == 302
    assert CalendarDay.objects.get(calendar=china).date == dt.date(2027, 1, 1)


@pytest.mark.parametrize(("data", "field"), [
    ({"first": "2027-01-03", "last": "2027-01-01", "kind": "holiday"}, "first"),
    ({"first": "2027-13-01", "kind": "holiday"}, "first"),
    ({"first": "2027-01-01", "kind": "holiday", "hours": "09:00-12:00"}, "hours"),
    ({"first": "2027-01-01", "kind": "workday", "hours": "nine to five"}, "hours"),
    ({"first": "2027-01-01", "last": "2027-03-01", "kind": "holiday"}, "first"),
    ({"lines": "2027-01-01 party"}, "lines"),
    ({"lines": "2027-02-30 holiday 春节"}, "lines"),
    ({}, "first"),
])
def test_bad_input_names_the_field_and_writes_nothing(client, admin, calendars, clock, data, field):
    client.force_login(admin)
    response = client.post(reverse("servicedesk:calendar_year", args=[calendars["china"].pk]), data)
    assert response.status_code == 400
    assert f'data-field="{field}"' in response.content.decode()
    assert not CalendarDay.objects.exists()


def test_the_add_days_api_names_the_field(calendars, admin):
    from tests.conftest import api_client_for

    api = api_client_for(admin, write=True)
    url = f"/api/servicedesk/calendars/{calendars['china'].pk}/add-days/"
    response = api.post(url, {"lines": "2027-01-01 party"}, format="json")
    assert response.status_code == 400 and "lines" in response.json()
    assert api.post(url, {"first": "2027-10-01", "last": "2027-10-07", "kind": "holiday", "label": "国庆"},
                    format="json").status_code == 200
    assert CalendarDay.objects.count() == 7


def test_engineers_see_the_page_without_the_form_and_customers_not_at_all(client, engineer, customer_user,
                                                                         calendars, clock):
    client.force_login(engineer)
    page = _year(client, calendars["china"], 2025)
    assert 'id="add-days"' not in page
    response = client.post(reverse("servicedesk:calendar_year", args=[calendars["china"].pk]),
                           {"first": "2027-01-01", "kind": "holiday"})
    assert response.status_code == 403 and not CalendarDay.objects.exists()
    client.force_login(customer_user)
    assert client.get(reverse("servicedesk:calendar_year", args=[calendars["china"].pk])).status_code == 404


def test_the_detail_page_links_the_year_and_warns(client, admin, calendars, clock):
    client.force_login(admin)
    page = client.get(reverse("servicedesk:businesscalendar_detail", args=[calendars["china"].pk])).content.decode()
    assert 'id="calendar-year-link"' in page and 'id="calendar-runs-out"' in page


def test_the_dashboard_warns_of_calendars_in_use_running_out(rf, admin, calendars, clock):
    request = rf.get("/")
    request.user = admin
    widgets = sla_widgets(request)
    assert [row["label"] for row in widgets[0]["rows"]] == [calendars["china"].name]
    clock.set(at(2026, 6, 1, 10))
    assert sla_widgets(request) == []


def test_the_badge_says_the_time_left_in_the_readers_language(customer_a, gold, clock):
    from django.utils import translation

    clock.set(at(2025, 9, 22, 10))
    ticket = make_ticket(customer_a, impact="high", urgency="medium", at=clock())
    clock.set(at(2025, 9, 22, 10, 15))
    template = Template("{% load servicedesk_sla %}{% sla_badge ticket %}")
    with translation.override("en"):
        html = template.render(Context({"ticket": ticket}))
    assert 'data-sla-state="running"' in html and "1 h 45 min left" in html
    clock.set(at(2025, 9, 22, 12, 35))
    with translation.override("en"):
        html = template.render(Context({"ticket": ticket}))
    assert 'data-sla-state="breached"' in html and "breached 35 min ago" in html


def test_the_seed_calendars_are_made_once(db):
    assert sla_services.seed_calendars() is not None
    assert sla_services.seed_calendars() is None
    assert BusinessCalendar.objects.count() == 2
    assert BusinessCalendar.objects.get(is_default=True).chinese_holidays
    assert any(step.name == "servicedesk_calendars" for step in registry.registry["setup"])
