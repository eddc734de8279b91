"""On call in a real browser: the menu opens "On call now", the calendar shows two weeks of
shifts and moves by week, and a person takes over someone else's shift from it."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from opsdesk.core.models import Role
from opsdesk.notify.models import ContactMethod, Override, Rotation, RotationMember, Schedule
from tests.factories import TeamFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    # live_server needs committed data; serialized_rollback puts back what the migrations wrote.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def rota():
    eric = UserFactory(username="eric", role=Role.ENGINEER, email="eric@example.com")
    ann = UserFactory(username="ann", role=Role.ENGINEER, email="ann@example.com", first_name="Ann",
                      last_name="Li")
    ben = UserFactory(username="ben", role=Role.ENGINEER, email="ben@example.com", first_name="Ben",
                      last_name="Wang")
    team = TeamFactory(name="DBA")
    team.members.add(eric, ann, ben)
    schedule = Schedule.objects.create(name="DBA primary", team=team, time_zone="Asia/Shanghai")
    rotation = Rotation.objects.create(schedule=schedule, name="daily", kind="daily",
                                       starts_at=timezone.now() - dt.timedelta(days=10))
    RotationMember.objects.create(rotation=rotation, user=ann, position=0)
    RotationMember.objects.create(rotation=rotation, user=ben, position=1)
    ContactMethod.objects.create(user=ann, kind="sms", address="+8613800000001", min_severity="critical")
    return {"eric": eric, "ann": ann, "ben": ben, "schedule": schedule}


def test_open_the_calendar_and_take_over_a_shift(page, log_in, shot, rota):
    log_in(page, "eric")
    with page.expect_navigation():
        page.locator("aside").get_by_role("link", name="On call now").click()
    expect(page.locator("main h1")).to_have_text("On call now")
    expect(page.locator("#oncall-now .oncall-row")).to_have_count(1)
    expect(page.locator("#oncall-now")).to_contain_text("+8613800000001")
    shot(page, "oncall-now")

    with page.expect_navigation():
        page.locator("main").get_by_role("link", name="Calendar").click()  # the menu has "Business calendars"
    expect(page.locator(".oncall-day")).to_have_count(14)
    first_day = page.locator(".oncall-day").first.get_attribute("data-day")
    with page.expect_navigation():
        page.click("#week-next")
    expect(page.locator(".oncall-day").first).not_to_have_attribute("data-day", first_day)
    with page.expect_navigation():
        page.click("#week-previous")
    expect(page.locator(".oncall-day").first).to_have_attribute("data-day", first_day)
    shot(page, "calendar")

    # Tomorrow's shift (the grid starts this Monday, so tomorrow is always on it), taken over by eric.
    tomorrow = timezone.now().astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=1)
    day = page.locator(f'.oncall-day[data-day="{tomorrow:%Y-%m-%d}"]')
    shift = day.locator(".oncall-shift").last
    taken_from = shift.get_attribute("data-user")
    assert taken_from in ("ann", "ben")
    with page.expect_navigation():
        shift.locator("button.take-over-shift").click()
    expect(page.locator(".alert-success")).to_contain_text("You are on call in DBA primary")
    override = Override.objects.get()
    assert (override.user, override.schedule) == (rota["eric"], rota["schedule"])
    expect(page.locator('.oncall-shift.is-override[data-user="eric"]').first).to_be_visible()
    shot(page, "calendar-taken-over")
