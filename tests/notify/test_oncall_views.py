"""On-call pages and API: who sees which schedule and page, "on call now", the calendar, take over."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from opsdesk.core.models import Role
from opsdesk.notify.models import ContactMethod, Override
from tests.conftest import api_client_for
from tests.factories import TeamFactory, UserFactory, make_page
from tests.notify.oncall_helpers import SHANGHAI, names, people, rotation, schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def web():
    """Django's test client (tests/notify/conftest.py's `client` is an httpx one)."""
    return Client()


@pytest.fixture
def admin_web(admin):
    web = Client()
    web.force_login(admin)
    return web


@pytest.fixture
def two_teams(engineer, engineer_of_b):
    """Schedule "A nights" of Team A (the engineer's), "B nights" of Team B, "Shared" of no team."""
    now = timezone.now()
    ann, bob = people("ann", "bob")
    a = schedule("A nights", team=engineer.teams.get())
    b = schedule("B nights", team=engineer_of_b.teams.get())
    shared = schedule("Shared")
    rotation(a, [ann], starts_at=now - dt.timedelta(days=1), kind="daily")
    rotation(b, [bob], starts_at=now - dt.timedelta(days=1), kind="daily")
    ContactMethod.objects.create(user=ann, kind="sms", address="+8613900000001")
    return {"a": a, "b": b, "shared": shared, "ann": ann, "bob": bob}


def test_on_call_now_lists_people_and_how_they_are_reached(admin_web, two_teams):
    html = admin_web.get(reverse("notify:oncall_now")).content.decode()
    assert html.count('class="oncall-row"') == 3
    assert "+8613900000001" in html
    assert "bob@example.com" in html  # no contact method: their email
    assert "Nobody is on call" in html  # the shared schedule has no rotation


def test_an_empty_on_call_page_says_what_to_do(admin_web):
    html = admin_web.get(reverse("notify:oncall_now")).content.decode()
    assert 'id="oncall-empty"' in html
    assert reverse("notify:schedule_add") in html


def test_an_engineer_sees_the_schedules_of_their_teams_only(web, engineer, two_teams):
    web.force_login(engineer)
    html = web.get(reverse("notify:oncall_now")).content.decode()
    assert "A nights" in html and "Shared" in html
    assert "B nights" not in html
    b = two_teams["b"]
    assert web.get(reverse("notify:oncall_calendar", args=[b.pk])).status_code == 404
    assert web.get(reverse("notify:schedule_detail", args=[b.pk])).status_code == 404
    assert "B nights" not in web.get(reverse("notify:schedule_list")).content.decode()
    assert web.post(reverse("notify:oncall_take_over", args=[b.pk])).status_code == 404
    assert not Override.objects.exists()


def test_the_api_and_search_narrow_schedules_and_policies_to_the_engineers_teams(engineer, engineer_of_b,
                                                                                 two_teams):
    from opsdesk.core.search import search
    from opsdesk.notify.models import EscalationPolicy, Schedule

    theirs = EscalationPolicy.objects.create(name="B escalation", team=engineer_of_b.teams.get())
    api = api_client_for(engineer)
    listed = {row["name"] for row in api.get("/api/notify/schedules/").json()["results"]}
    assert listed == {"A nights", "Shared"}
    assert api.get(f"/api/notify/schedules/{two_teams['b'].pk}/").status_code == 404
    assert api.patch(f"/api/notify/schedules/{two_teams['b'].pk}/", {"name": "mine now"},
                     format="json").status_code == 404
    rotations = {row["schedule"] for row in api.get("/api/notify/rotations/").json()["results"]}
    assert rotations == {two_teams["a"].pk}
    assert api.get(f"/api/notify/escalationpolicies/{theirs.pk}/").status_code == 404
    found = {hit.obj.pk for group in search(engineer, "nights") if group.entry.model is Schedule
             for hit in group.hits}
    assert two_teams["a"].pk in found and two_teams["b"].pk not in found
    # The other team's engineer sees theirs.
    assert api_client_for(engineer_of_b).get(f"/api/notify/schedules/{two_teams['b'].pk}/").status_code == 200


def test_customer_users_reach_no_schedule_and_no_page(web, customer_user, customer_a, two_teams):
    page = make_page(customer_a)
    web.force_login(customer_user)
    for url in (reverse("notify:oncall_now"), reverse("notify:oncall_mine"),
                reverse("notify:oncall_calendar", args=[two_teams["a"].pk]),
                reverse("notify:schedule_detail", args=[two_teams["a"].pk]),
                reverse("notify:page_detail", args=[page.pk]), reverse("notify:page_list")):
        assert web.get(url).status_code == 404, url
    api = api_client_for(customer_user, write=False)
    assert api.get("/api/notify/oncall/now/").status_code == 403
    assert api.get(f"/api/notify/pages/{page.pk}/").status_code in (403, 404)


def test_an_engineer_reaches_no_page_of_a_customer_their_teams_do_not_serve(web, engineer, customer_a, customer_b):
    mine, theirs = make_page(customer_a), make_page(customer_b)
    web.force_login(engineer)
    assert web.get(reverse("notify:page_detail", args=[mine.pk])).status_code == 200
    assert web.get(reverse("notify:page_detail", args=[theirs.pk])).status_code == 404
    listed = web.get(reverse("notify:page_list")).content.decode()
    assert mine.source in listed and theirs.source not in listed
    api = api_client_for(engineer)
    assert api.get(f"/api/notify/pages/{theirs.pk}/").status_code == 404
    assert [p["source"] for p in api.get("/api/notify/pages/").json()["results"]] == [mine.source]


def test_the_api_says_who_is_on_call_now_and_next(engineer, two_teams):
    api = api_client_for(engineer)
    body = api.get("/api/notify/oncall/now/").json()
    assert [s["name"] for s in body["schedules"]] == ["A nights", "Shared"]
    a = body["schedules"][0]
    assert [p["username"] for p in a["on_call"]] == ["ann"]
    assert a["on_call"][0]["source"] == "layer 1"
    assert a["on_call"][0]["contacts"] == [{"kind": "sms", "address": "+8613900000001", "channel": None,
                                            "min_severity": "info"}]
    assert a["next"] is None  # ann is the only member
    one = api.get(f"/api/notify/oncall/now/?schedule={two_teams['a'].pk}").json()
    assert [s["id"] for s in one["schedules"]] == [two_teams["a"].pk]
    assert api.get(f"/api/notify/oncall/now/?schedule={two_teams['b'].pk}").status_code == 404
    bad = api.get("/api/notify/oncall/now/?schedule=abc")
    assert bad.status_code == 400
    assert "schedule" in bad.json()


def test_the_schema_documents_the_on_call_route(admin_api):
    schema = admin_api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/notify/oncall/now/"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["schedule"]
    assert "200" in operation["responses"]


def test_the_calendar_shows_two_weeks_and_moves_by_week(admin_web):
    ann, ben = people("ann", "ben")
    sched = schedule()
    start = timezone.now() - dt.timedelta(days=20)
    rotation(sched, [ann, ben], starts_at=start, kind="daily")
    url = reverse("notify:oncall_calendar", args=[sched.pk])
    html = admin_web.get(url).content.decode()
    days = re.findall(r'data-day="([\d-]+)"', html)
    assert len(days) == 14
    assert dt.date.fromisoformat(days[0]).weekday() == 0
    assert 'data-user="ann"' in html and 'data-user="ben"' in html
    later = admin_web.get(f"{url}?week={days[7]}").content.decode()
    assert re.findall(r'data-day="([\d-]+)"', later)[0] == days[7]
    empty = schedule("Empty")
    html = admin_web.get(reverse("notify:oncall_calendar", args=[empty.pk])).content.decode()
    assert 'id="calendar-empty"' in html and "no rotation yet" in html


def test_taking_over_a_shift_from_the_calendar(web, two_teams, engineer):
    a = two_teams["a"]
    web.force_login(engineer)
    begin = timezone.now() + dt.timedelta(days=1)
    end = begin + dt.timedelta(hours=8)
    response = web.post(reverse("notify:oncall_take_over", args=[a.pk]),
                           {"starts_at": begin.isoformat(), "ends_at": end.isoformat()})
    assert response.status_code == 302
    override = Override.objects.get()
    assert (override.user, override.created_by) == (engineer, engineer)
    assert (override.starts_at, override.ends_at) == (begin, end)
    from opsdesk.notify.oncall import on_call

    assert names(on_call(a, begin + dt.timedelta(hours=1))) == ["eric"]
    assert names(on_call(a, end)) == ["ann"]


def test_take_over_from_now_lasts_until_the_running_shift_ends(web, two_teams, engineer):
    a = two_teams["a"]
    now = timezone.now()
    # ann is the only member of a daily rotation: her shift ends at the next 09:00 in Shanghai,
    # although she comes on again at once.
    local = now.astimezone(SHANGHAI)
    handoff = local.replace(hour=9, minute=0, second=0, microsecond=0)
    if handoff <= local:
        handoff += dt.timedelta(days=1)
    web.force_login(engineer)
    assert web.post(reverse("notify:oncall_take_over", args=[a.pk])).status_code == 302
    override = Override.objects.get()
    assert override.ends_at == handoff
    assert abs((override.starts_at - now).total_seconds()) < 30


def test_a_take_over_that_is_over_already_is_refused(web, two_teams, engineer):
    a = two_teams["a"]
    web.force_login(engineer)
    past = timezone.now() - dt.timedelta(days=2)
    response = web.post(reverse("notify:oncall_take_over", args=[a.pk]),
                           {"starts_at": past.isoformat(), "ends_at": (past + dt.timedelta(hours=1)).isoformat()},
                           follow=True)
    assert "The period is over already." in response.content.decode()
    assert not Override.objects.exists()


def test_take_over_through_the_api_action(two_teams):
    manager = UserFactory(username="mona", role=Role.MANAGER)
    api = api_client_for(manager)
    a = two_teams["a"]
    begin = timezone.now() + dt.timedelta(days=3)
    response = api.post(f"/api/notify/schedules/{a.pk}/take-over/",
                        {"starts_at": begin.isoformat(), "ends_at": (begin + dt.timedelta(hours=2)).isoformat()},
                        format="json")
    assert response.status_code == 200, response.content
    assert Override.objects.get().user == manager
    bad = api.post(f"/api/notify/schedules/{a.pk}/take-over/",
                   {"starts_at": begin.isoformat(), "ends_at": begin.isoformat()}, format="json")
    assert bad.status_code == 400
    assert "ends_at" in bad.json()


def test_rotation_form_takes_weekdays_as_boxes(admin_web):
    sched = schedule()
    response = admin_web.post(reverse("notify:rotation_add"), {
        "schedule": sched.pk, "name": "office hours", "layer": 2, "kind": "custom", "shift_hours": "",
        "starts_at": "2026-03-02T09:00", "handoff_time": "09:00", "active_from": "09:00", "active_until": "18:00",
        "weekdays": ["0", "1", "2", "3", "4"]})
    assert response.status_code == 400
    assert "A custom rotation needs its shift length in hours." in response.content.decode()
    response = admin_web.post(reverse("notify:rotation_add"), {
        "schedule": sched.pk, "name": "office hours", "layer": 2, "kind": "weekly",
        "starts_at": "2026-03-02T09:00", "handoff_time": "09:00", "active_from": "09:00", "active_until": "18:00",
        "weekdays": ["0", "1", "2", "3", "4"]})
    assert response.status_code == 302
    assert sched.rotations.get().weekdays == [0, 1, 2, 3, 4]


def test_the_schedule_page_offers_its_rotations_overrides_and_calendar(admin_web):
    sched = schedule()
    html = admin_web.get(reverse("notify:schedule_detail", args=[sched.pk])).content.decode()
    assert reverse("notify:oncall_calendar", args=[sched.pk]) in html
    assert f"{reverse('notify:rotation_add')}?schedule={sched.pk}" in html
    assert f"{reverse('notify:override_add')}?schedule={sched.pk}" in html
    assert 'id="action-take_over"' in html


def test_engineers_of_another_team_get_no_schedule_choice_in_forms(web, engineer, two_teams):
    team = TeamFactory(name="Other")
    assert team.pk
    web.force_login(engineer)
    html = web.get(reverse("notify:schedule_list")).content.decode()
    assert "A nights" in html and "B nights" not in html
