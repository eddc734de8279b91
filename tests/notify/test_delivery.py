"""The delivery engine (opsdesk/notify/delivery.py) against a local HTTP receiver on 127.0.0.1
(tests/notify/conftest.py) standing in for a webhook and a DingTalk robot: digests, limits that
hold across senders, retries with backoff, leases, secrets, translation, the channel's health."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from django.utils import timezone

from opsdesk.core import crypto
from opsdesk.notify import delivery, services
from opsdesk.notify.models import Channel, DeliveryAttempt, Notification, NotificationState
from opsdesk.notify.signals import channel_failing, channel_recovered

pytestmark = pytest.mark.django_db

TOKEN = "robot-token-7f3a"
SECRET = "SECdeadbeefcafe0123456789"


def webhook(vendor, **extra) -> Channel:
    return Channel.objects.create(name="hook", kind="webhook", config={"url": vendor.base_url + "/hook"}, **extra)


def dingtalk(vendor) -> Channel:
    secrets = crypto.encrypt(json.dumps({"access_token": TOKEN, "secret": SECRET}))
    return Channel.objects.create(name="robot", kind="dingtalk", config={"base_url": vendor.base_url},
                                  secrets_encrypted=secrets)


def notify(channel: Channel, n: int, *, severity: str = "major", language: str = "en") -> Notification:
    row = services.queue(channel, {"title": f"web-{n:02d} CPU high", "text": f"CPU {90 + n % 10}%",
                                   "severity": severity, "url": f"https://ops.example.com/ack/{n}"},
                         key=f"test:{channel.pk}:{n}", language=language)
    assert row is not None
    return row


def states(*rows: Notification) -> list[str]:
    return [Notification.objects.get(pk=row.pk).state for row in rows]


def make_due(channel: Channel) -> None:
    """What time does: the waiting rows of the channel are due now."""
    Notification.objects.filter(channel=channel, state=NotificationState.PENDING).update(
        due_at=timezone.now() - dt.timedelta(seconds=1))


# --- digest and idempotency ----------------------------------------------------------------------

def test_all_due_notifications_of_a_destination_go_as_one_request_and_never_twice(vendor):
    vendor.reset({})
    channel = webhook(vendor)
    rows = [notify(channel, n, severity="critical" if n == 3 else "minor") for n in range(5)]

    assert delivery.send([rows[0].pk]) == 5

    [request] = vendor.requests
    body = request.json()
    assert [m["key"] for m in body["messages"]][0] == rows[3].key  # the worst first
    assert sorted(m["key"] for m in body["messages"]) == sorted(r.key for r in rows)
    assert sorted(request.headers["x-opsdesk-delivery"].split(",")) == sorted(r.key for r in rows)
    assert request.headers["idempotency-key"].startswith("digest-")
    assert states(*rows) == ["sent"] * 5
    attempts = list(DeliveryAttempt.objects.all())
    assert len(attempts) == 5 and len({a.request for a in attempts}) == 1
    assert {(a.ok, a.status, a.batch_size) for a in attempts} == {(True, 200, 5)}

    # A second wake-up (the queue is at-least-once) sends nothing again.
    assert delivery.send([r.pk for r in rows]) == 0
    assert len(vendor.requests) == 1 and DeliveryAttempt.objects.count() == 5


def test_a_single_notification_carries_its_key_as_idempotency_key(vendor):
    vendor.reset({})
    row = notify(webhook(vendor), 1)
    delivery.send([row.pk])
    [request] = vendor.requests
    assert request.headers["idempotency-key"] == row.key == request.headers["x-opsdesk-delivery"]
    assert request.json()["messages"][0]["key"] == row.key


def test_what_does_not_fit_in_one_request_goes_in_the_next(vendor):
    vendor.reset({})
    channel = webhook(vendor)
    big = "x" * 6000  # three fit under the 20 KB body cap
    rows = [services.queue(channel, {"title": f"t{n}", "text": big}, key=f"big:{n}") for n in range(7)]
    assert delivery.send([rows[0].pk]) == 7
    sizes = [len(r.json()["messages"]) for r in vendor.requests]
    assert sizes == [3, 3, 1] and [r.json()["omitted"] for r in vendor.requests] == [4, 1, 0]
    assert states(*rows) == ["sent"] * 7
    assert sorted(DeliveryAttempt.objects.values_list("batch_size", flat=True)) == [1, 3, 3, 3, 3, 3, 3]


def test_the_digest_speaks_the_language_of_the_notification(vendor):
    channel = dingtalk(vendor)
    zh = [notify(channel, n, language="zh-hans") for n in range(2)]
    delivery.send([zh[0].pk])
    markdown = vendor.requests[-1].json()["markdown"]
    assert markdown["title"] == "🟠 2 条通知"
    assert "[确认](https://ops.example.com/ack/0)" in markdown["text"]

    en = [notify(channel, n, language="en") for n in range(10, 12)]
    delivery.send([en[0].pk])
    markdown = vendor.requests[-1].json()["markdown"]
    assert markdown["title"] == "🟠 2 notifications"
    assert "[Acknowledge](https://ops.example.com/ack/10)" in markdown["text"]


# --- limits --------------------------------------------------------------------------------------

def test_the_vendor_limit_holds_across_senders_and_moves_due_at_instead_of_dropping(vendor):
    channel = dingtalk(vendor)
    # Twenty requests, as two worker processes would make them: nothing is kept in memory, each
    # call counts the requests in the delivery log.
    for n in range(20):
        row = notify(channel, n)
        assert delivery.send([row.pk]) == 1
    assert len(vendor.requests) == 20
    first = DeliveryAttempt.objects.order_by("at").first().at

    late = notify(channel, 20)
    assert delivery.send([late.pk]) == 0
    assert len(vendor.requests) == 20
    late.refresh_from_db()
    assert late.state == "pending"
    assert late.due_at == first + dt.timedelta(seconds=60)  # when the minute's window frees a request

    # When the minute is over (the log's requests aged by a minute), it goes.
    DeliveryAttempt.objects.update(at=first - dt.timedelta(seconds=61))
    make_due(channel)
    assert delivery.send([late.pk]) == 1
    assert states(late) == ["sent"]


def test_two_channels_of_one_robot_share_its_limit(vendor):
    """Set up twice (a customer's group robot used by two teams' channels), one robot still takes
    20 messages a minute: the limit counts the robot, not the channel."""
    from opsdesk.notify import channel_services

    def made(name: str) -> Channel:
        return channel_services.create_channel({"name": name, "kind": "dingtalk", "config": {
            "base_url": vendor.base_url, "access_token": TOKEN, "secret": SECRET}}, actor=None)

    first, second = made("ops A"), made("ops B")
    assert first.limit_key and first.limit_key == second.limit_key and TOKEN not in first.limit_key
    for n in range(10):
        assert delivery.send([notify(first, n).pk]) == 1
        assert delivery.send([notify(second, 100 + n).pk]) == 1
    late = notify(second, 200)
    assert delivery.send([late.pk]) == 0
    assert len(vendor.requests) == 20
    other_robot = channel_services.create_channel({"name": "ops C", "kind": "dingtalk", "config": {
        "base_url": vendor.base_url, "access_token": "another-robot", "secret": SECRET}}, actor=None)
    assert delivery.send([notify(other_robot, 300).pk]) == 1


def test_dingtalk_130101_blocks_the_robot_ten_minutes_and_new_rows_wait_too(vendor):
    channel = dingtalk(vendor)
    vendor.reply(200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
    row = notify(channel, 1)
    before = timezone.now()
    delivery.send([row.pk])
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("pending", 0)  # a block is not the notification's failure
    assert before + dt.timedelta(seconds=599) < row.due_at < timezone.now() + dt.timedelta(seconds=601)
    [attempt] = DeliveryAttempt.objects.all()
    assert (attempt.ok, attempt.vendor_code) == (False, "130101")

    newer = notify(channel, 2)
    assert delivery.send([newer.pk]) == 0
    newer.refresh_from_db()
    assert newer.due_at == row.due_at and len(vendor.requests) == 1

    make_due(channel)
    assert delivery.send([row.pk]) == 2  # both, as one digest
    assert len(vendor.requests) == 2 and states(row, newer) == ["sent", "sent"]


# --- retries ---------------------------------------------------------------------------------------

def test_a_failing_destination_is_retried_with_backoff_then_failed_with_the_response_kept(vendor):
    vendor.reset({})
    vendor.default = (500, {"error": "upstream exploded"}, {})
    channel = webhook(vendor)
    row = notify(channel, 1)
    waits = []
    for _attempt in range(delivery.MAX_ATTEMPTS):
        before = timezone.now()
        delivery.send([row.pk])
        row.refresh_from_db()
        if row.state == "pending":
            waits.append(round((row.due_at - before).total_seconds()))
            make_due(channel)
    assert waits == list(delivery.BACKOFF)
    assert (row.state, row.attempts) == ("failed", delivery.MAX_ATTEMPTS)
    assert "upstream exploded" in row.last_error
    log = list(DeliveryAttempt.objects.filter(notification=row))
    assert len(log) == delivery.MAX_ATTEMPTS and {(a.ok, a.status) for a in log} == {(False, 500)}
    assert "upstream exploded" in log[0].detail
    # Failed is final: nothing sends it again.
    assert delivery.send([row.pk]) == 0 and len(vendor.requests) == delivery.MAX_ATTEMPTS


def test_a_new_notification_waits_behind_the_retry_of_its_destination(vendor):
    vendor.reset({})
    channel = webhook(vendor)
    vendor.reply(503, {})  # with no Retry-After header: the webhook's 60 s
    first = notify(channel, 1)
    delivery.send([first.pk])
    second = notify(channel, 2)
    assert delivery.send([second.pk]) == 0
    assert len(vendor.requests) == 1
    make_due(channel)
    assert delivery.send([second.pk]) == 2
    assert len(vendor.requests[-1].json()["messages"]) == 2


def test_only_a_recent_failure_holds_the_destination(vendor):
    vendor.reset({})
    channel = webhook(vendor)
    vendor.reply(503, {})
    first = notify(channel, 1)
    delivery.send([first.pk])
    pending = Notification.objects.get(pk=first.pk)
    now = timezone.now()
    assert delivery.hold_until(channel, "", now) == pending.due_at  # behind the retry
    # The same failure two days later (its retry row left behind by hand): the log that far back
    # is not read, and the destination is free.
    later = now + dt.timedelta(days=2)
    Notification.objects.filter(pk=first.pk).update(due_at=later + dt.timedelta(minutes=5))
    assert delivery.hold_until(channel, "", later) is None


# --- leases ----------------------------------------------------------------------------------------

def test_a_dead_senders_rows_are_taken_again_by_the_sweep_when_the_lease_runs_out(vendor, settings):
    vendor.reset({})
    channel = webhook(vendor)
    rows = [notify(channel, n) for n in range(3)]
    claim = delivery._claim((channel.pk, ""))  # a sender claims them, then its worker is killed
    assert claim is not None and len(claim.rows) == 3
    assert states(*rows) == ["sending"] * 3

    assert delivery.send([rows[0].pk]) == 0  # the lease is live: someone else is at it
    assert delivery.sweep() == 0
    assert vendor.requests == []

    Notification.objects.filter(state="sending").update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert delivery.due_destinations() == [(channel.pk, "")]
    assert delivery.sweep() == 1  # the task runs eagerly in the tests
    assert states(*rows) == ["sent"] * 3
    assert sorted(vendor.requests[0].headers["x-opsdesk-delivery"].split(",")) == sorted(r.key for r in rows)


def test_disabled_channels_keep_their_notifications_waiting(vendor):
    vendor.reset({})
    channel = webhook(vendor, enabled=False)
    row = notify(channel, 1)
    assert delivery.send([row.pk]) == 0 and delivery.sweep() == 0
    assert states(row) == ["pending"]
    Channel.objects.filter(pk=channel.pk).update(enabled=True)
    assert delivery.sweep() == 1 and states(row) == ["sent"]


# --- secrets ---------------------------------------------------------------------------------------

def test_secrets_reach_the_vendor_but_never_the_delivery_log_or_the_logs(vendor, caplog):
    channel = dingtalk(vendor)
    # A vendor that echoes what it got (DingTalk's errmsg sometimes does) into its error.
    vendor.reply(200, {"errcode": 310000, "errmsg": f"sign not match, access_token={TOKEN} secret={SECRET}"})
    row = notify(channel, 1)
    with caplog.at_level(logging.DEBUG):
        delivery.send([row.pk])
    request = vendor.requests[0]
    assert request.query["access_token"] == TOKEN and request.query["sign"]
    row.refresh_from_db()
    texts = [row.last_error, *DeliveryAttempt.objects.values_list("detail", flat=True), caplog.text,
             json.dumps(Channel.objects.get(pk=channel.pk).config)]
    assert "sign not match" in row.last_error
    for text in texts:
        assert TOKEN not in text and SECRET not in text


def test_the_address_of_a_person_reaches_the_channel_as_to(vendor):
    channel = webhook(vendor, secrets_encrypted=crypto.encrypt(json.dumps({"secret": "s3"})))
    config, hide = delivery.channel_config(channel, "ops@example.com")
    assert config == {"url": vendor.base_url + "/hook", "secret": "s3", "to": "ops@example.com"}
    assert hide == ["s3"]
    assert "secret" not in Channel.objects.get(pk=channel.pk).config


# --- the channel's health --------------------------------------------------------------------------

def test_a_channel_that_keeps_failing_is_reported_once_and_its_recovery_too(
        vendor, django_capture_on_commit_callbacks):
    vendor.reset({})
    vendor.default = (502, {}, {})
    channel = webhook(vendor)
    failing, recovered = [], []

    def on_failing(sender, **kwargs):
        failing.append(kwargs)

    def on_recovered(sender, **kwargs):
        recovered.append(kwargs)

    channel_failing.connect(on_failing)
    channel_recovered.connect(on_recovered)
    try:
        for n in range(6):
            with django_capture_on_commit_callbacks(execute=True):
                delivery.send([notify(channel, n).pk])
            make_due(channel)
            if n == 2:
                assert failing == []  # three failures, but within a few seconds: not yet
                # Five minutes pass: the requests so far were made longer ago.
                DeliveryAttempt.objects.update(at=timezone.now() - dt.timedelta(minutes=6))
        assert len(failing) == 1
        assert failing[0]["channel"].pk == channel.pk and failing[0]["error"] == "HTTP 502 {}"
        channel.refresh_from_db()
        assert channel.failing_since is not None and channel.last_error

        vendor.default = (200, {}, {})
        with django_capture_on_commit_callbacks(execute=True):
            delivery.send([notify(channel, 99).pk])
        assert len(recovered) == 1 and len(failing) == 1
        channel.refresh_from_db()
        assert (channel.failing_since, channel.last_error) == (None, "")
    finally:
        channel_failing.disconnect(on_failing)
        channel_recovered.disconnect(on_recovered)
