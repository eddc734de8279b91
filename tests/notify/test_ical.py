"""iCalendar in and out: Grafana OnCall's and PagerDuty's exports seed a schedule (events become
overrides, recurring ones expanded, unknown people reported), a feed URL read from a real local
HTTP server, and each person's subscription URL (no login, signed, revoked by a new password)."""

from __future__ import annotations

import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import icalendar
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from opsdesk.core.models import Role
from opsdesk.notify import ical, oncall_services
from opsdesk.notify.models import Override
from opsdesk.notify.oncall import on_call
from tests.factories import UserFactory
from tests.notify.oncall_helpers import BERLIN, UTC, names, override, people, rotation, schedule

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def staff():
    ann, ben, cat = people("ann", "ben", "cat")
    ann.first_name, ann.last_name = "Ann", "Anders"
    ann.save()
    admin = UserFactory(username="root", role=Role.ADMIN)
    return {"ann": ann, "ben": ben, "cat": cat, "admin": admin}


def test_a_grafana_oncall_export_seeds_the_schedule(staff):
    sched = schedule("DBA", time_zone="Europe/Berlin")
    data = (FIXTURES / "oncall_grafana.ics").read_bytes()
    report = oncall_services.import_ical(sched, actor=staff["admin"], data=data, now=NOW)
    # ann, ben, and cat's Thursdays: six of them, one left out by EXDATE.
    assert report.created == 2 + 5
    assert report.unmatched == [("ghost", dt.datetime(2026, 3, 4, 7, 0, tzinfo=UTC))]
    assert names(on_call(sched, dt.datetime(2026, 3, 2, 7, 0, tzinfo=UTC))) == ["ann"]
    assert names(on_call(sched, dt.datetime(2026, 3, 3, 6, 59, 59, tzinfo=UTC))) == ["ann"]
    assert names(on_call(sched, dt.datetime(2026, 3, 3, 7, 0, tzinfo=UTC))) == ["ben"]
    thursdays = sorted(o.starts_at for o in Override.objects.filter(user=staff["cat"]))
    # 09:00 Berlin every Thursday: 08:00 UTC in winter, 07:00 UTC after the change on 29 March.
    assert [t.astimezone(BERLIN).hour for t in thursdays] == [9] * 5
    assert thursdays[0] == dt.datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
    assert thursdays[2] == dt.datetime(2026, 3, 26, 8, 0, tzinfo=UTC)
    assert thursdays[3] == dt.datetime(2026, 4, 2, 7, 0, tzinfo=UTC)
    assert dt.datetime(2026, 3, 12, 8, 0, tzinfo=UTC) not in thursdays
    assert all(o.ical_uid for o in Override.objects.all())


def test_a_pagerduty_feed_matches_attendees_by_email_and_reports_strangers(staff):
    sched = schedule("Primary")
    report = oncall_services.import_ical(sched, actor=staff["admin"],
                                         data=(FIXTURES / "oncall_pagerduty.ics").read_bytes(), now=NOW)
    assert report.created == 2
    assert [s for s, _start in report.unmatched] == ["On Call - Zoe Zhang - Primary"]
    week = {o.user.username: (o.starts_at, o.ends_at) for o in Override.objects.all()}
    assert week == {"ben": (dt.datetime(2026, 3, 2, 1, tzinfo=UTC), dt.datetime(2026, 3, 9, 1, tzinfo=UTC)),
                    "ann": (dt.datetime(2026, 3, 16, 1, tzinfo=UTC), dt.datetime(2026, 3, 23, 1, tzinfo=UTC))}


def test_a_second_import_replaces_the_feed_overrides_and_keeps_peoples_own(staff):
    sched = schedule("Primary")
    own = override(sched, staff["cat"], NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=2))
    data = (FIXTURES / "oncall_pagerduty.ics").read_bytes()
    oncall_services.import_ical(sched, actor=staff["admin"], data=data, now=NOW)
    again = oncall_services.import_ical(sched, actor=staff["admin"], data=data, now=NOW)
    assert (again.removed, again.created) == (2, 2)
    assert Override.objects.filter(schedule=sched).count() == 3
    assert Override.objects.filter(pk=own.pk).exists()


def test_one_audit_row_per_import(staff):
    from auditlog.models import LogEntry

    sched = schedule("Primary")
    before = LogEntry.objects.count()
    oncall_services.import_ical(sched, actor=staff["admin"], data=(FIXTURES / "oncall_pagerduty.ics").read_bytes(),
                                now=NOW)
    rows = list(LogEntry.objects.order_by("pk")[before:])
    assert len(rows) == 1
    assert rows[0].additional_data == {"action": "import_calendar"}
    assert rows[0].object_pk == str(sched.pk)


def test_a_file_that_is_no_calendar_is_refused_naming_the_field(staff):
    sched = schedule("Primary")
    with pytest.raises(ValidationError) as refused:
        oncall_services.import_ical(sched, actor=staff["admin"], data=b"this is not a calendar", now=NOW)
    assert "file" in refused.value.message_dict
    assert not Override.objects.exists()


def test_customer_users_may_not_import(staff, customer_user):
    sched = schedule("Primary")
    with pytest.raises(PermissionDenied):
        oncall_services.import_ical(sched, actor=customer_user, data=(FIXTURES / "oncall_pagerduty.ics").read_bytes())


@pytest.fixture
def feed_server():
    """A calendar server on 127.0.0.1 serving whatever `body` holds."""
    state = {"body": b"", "requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state["requests"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(state["body"])))
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/private/feed/PXQ5L3R.ics"
    yield state
    server.shutdown()
    server.server_close()


def test_a_schedule_refreshes_from_its_feed_url(staff, feed_server):
    feed_server["body"] = (FIXTURES / "oncall_pagerduty.ics").read_bytes()
    sched = schedule("Primary")
    sched.ical_url = feed_server["url"]
    sched.save()
    report = oncall_services.refresh_ical(sched, actor=staff["admin"], now=NOW)
    assert feed_server["requests"] == 1
    assert report.created == 2
    assert ical.refresh_feed(sched, now=NOW).created == 2  # what the periodic task runs
    assert Override.objects.filter(schedule=sched).count() == 2


def test_the_import_page_reports_unmatched_events(staff):
    sched = schedule("Primary")
    web = Client()
    web.force_login(staff["admin"])
    # The fixture's weeks moved to next month, inside the import window of the real clock.
    month = (timezone.now() + dt.timedelta(days=32)).strftime("%Y%m")
    data = (FIXTURES / "oncall_pagerduty.ics").read_bytes().replace(b"202603", month.encode())
    upload = SimpleUploadedFile("primary.ics", data, content_type="text/calendar")
    response = web.post(reverse("notify:oncall_import", args=[sched.pk]), {"file": upload, "source": "file"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="import-unmatched"' in html
    assert "On Call - Zoe Zhang - Primary" in html
    assert Override.objects.filter(schedule=sched).count() == 2


def test_the_personal_feed_lists_my_shifts_without_login(staff):
    ann, ben = staff["ann"], staff["ben"]
    sched = schedule("Primary")
    rotation(sched, [ann, ben], starts_at=timezone.now() - dt.timedelta(days=1), kind="weekly")
    token = ical.feed_token(ann)
    url = reverse("notify:oncall_ical", args=[token])
    response = Client().get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    # 60 days of a two-person weekly rotation: ann has four or five of the weeks.
    assert 4 <= len(events) <= 5
    assert {str(e["summary"]) for e in events} == {"Primary: ann"}
    assert all(e.decoded("dtend") - e.decoded("dtstart") <= dt.timedelta(days=7) for e in events)
    assert all(str(e["attendee"]) == "mailto:ann@example.com" for e in events)


def test_a_forged_or_revoked_token_is_404(staff):
    ann = staff["ann"]
    token = ical.feed_token(ann)
    assert Client().get(reverse("notify:oncall_ical", args=[token + "x"])).status_code == 404
    forged = token.replace(token.split(":")[0], ical.feed_token(staff["ben"]).split(":")[0])
    assert Client().get(reverse("notify:oncall_ical", args=[forged])).status_code == 404
    ann.set_password("a-New-password-77")
    ann.save()
    assert Client().get(reverse("notify:oncall_ical", args=[token])).status_code == 404
    assert Client().get(reverse("notify:oncall_ical", args=[ical.feed_token(ann)])).status_code == 200


def test_my_on_call_page_shows_the_subscription_url(staff):
    web = Client()
    web.force_login(staff["ann"])
    html = web.get(reverse("notify:oncall_mine")).content.decode()
    assert "/notify/oncall/calendar/" in html and ".ics" in html
    assert 'id="my-shifts-empty"' in html
