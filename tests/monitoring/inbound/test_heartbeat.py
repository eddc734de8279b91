"""Heartbeats: on time, late (the clock moved past period + grace), fail, start, and the ping
that resolves."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from opsdesk.monitoring.alerting import periodic
from opsdesk.monitoring.inbound import heartbeat
from opsdesk.monitoring.models import Alert, AlertState, InboundIntegration
from opsdesk.notify.models import Page

pytestmark = pytest.mark.django_db

HOUR = 3600


@pytest.fixture
def job(customer_a, sender_for):
    return sender_for(customer_a, "heartbeat", name="nightly backup", period_seconds=HOUR, grace_seconds=300,
                      severity="critical")


def ping(job, suffix: str = "", method: str = "get", body: str = ""):
    url = f"/api/monitoring/heartbeat/{job.token}/{suffix}"
    if method == "post":
        return job.client.post(url, data=body, content_type="text/plain")
    return job.client.get(url)


def test_a_ping_on_time_raises_nothing(job):
    assert ping(job).status_code == 200
    pinged = InboundIntegration.objects.get().last_ping_at
    assert pinged is not None
    # Just inside period + grace: not late.
    assert heartbeat.late(pinged + dt.timedelta(seconds=HOUR + 300)) == 0
    assert not Alert.objects.exists()


def test_late_fires_once_and_the_next_ping_resolves(job):
    ping(job)
    pinged = InboundIntegration.objects.get().last_ping_at
    later = pinged + dt.timedelta(seconds=HOUR + 301)
    assert heartbeat.late(later) == 1
    assert heartbeat.late(later + dt.timedelta(seconds=15)) == 0  # the next pass: the same alert
    alert = Alert.objects.get()
    assert (alert.source, alert.title, alert.severity, alert.state) == \
        ("heartbeat", "nightly backup is late", "critical", AlertState.FIRING)
    assert alert.started_at == pinged + dt.timedelta(seconds=HOUR + 300)
    assert Page.objects.count() == 1
    assert ping(job, method="post").status_code == 200
    assert Alert.objects.get().state == AlertState.RESOLVED


def test_the_periodic_pass_runs_the_late_step(job):
    InboundIntegration.objects.update(last_ping_at=timezone.now() - dt.timedelta(seconds=2 * HOUR))
    done = periodic.run()
    assert done["late_heartbeats"] == 1
    assert Alert.objects.get().title == "nightly backup is late"


def test_never_pinged_goes_late_from_when_it_was_made(job):
    made = InboundIntegration.objects.get().created_at
    assert heartbeat.late(made + dt.timedelta(seconds=HOUR + 299)) == 0
    assert heartbeat.late(made + dt.timedelta(seconds=HOUR + 301)) == 1
    assert "never been pinged" in Alert.objects.get().description


def test_fail_fires_at_once_with_the_posted_log_and_a_ping_resolves(job):
    response = ping(job, "fail/", method="post", body="pg_dump: error: connection refused")
    assert response.status_code == 200
    assert response.json()["fired"] == 1
    alert = Alert.objects.get()
    assert (alert.title, alert.description) == ("nightly backup reported a failure",
                                                "pg_dump: error: connection refused")
    assert InboundIntegration.objects.get().last_ping_at is None  # a failure is no good run
    ping(job, "fail/")  # failing again: the same alert
    assert Alert.objects.count() == 1
    ping(job)
    assert Alert.objects.get().state == AlertState.RESOLVED


def test_start_moves_no_clock_and_resolves_nothing(job):
    ping(job, "fail/")
    response = ping(job, "start/")
    assert response.status_code == 200
    assert response.json() == {"firing": 0, "resolved": 0, "ignored": 1, "fired": 0}
    assert InboundIntegration.objects.get().last_ping_at is None
    assert InboundIntegration.objects.get().last_start_at is not None
    assert Alert.objects.get().state == AlertState.FIRING


def test_a_run_that_starts_and_does_not_finish_within_the_grace_is_late(job):
    from opsdesk.monitoring.inbound import heartbeat

    ping(job)
    ping(job, "start/")
    started = InboundIntegration.objects.get().last_start_at
    assert heartbeat.late(started + dt.timedelta(seconds=299)) == 0
    assert heartbeat.late(started + dt.timedelta(seconds=301)) == 1
    assert "has not finished" in Alert.objects.get().description
    ping(job)
    assert Alert.objects.get().state == AlertState.RESOLVED
    assert heartbeat.due(InboundIntegration.objects.get()) > started + dt.timedelta(seconds=HOUR)


def test_an_unknown_heartbeat_url_is_401(job):
    assert job.client.get("/api/monitoring/heartbeat/opd_nope/").status_code == 401
    assert job.client.post("/api/monitoring/heartbeat/opd_nope/fail/").status_code == 401
    assert not Alert.objects.exists()


def test_a_disabled_heartbeat_never_goes_late(job):
    InboundIntegration.objects.update(enabled=False, last_ping_at=timezone.now() - dt.timedelta(days=2))
    assert heartbeat.late() == 0
