"""Pages escalate with a moving clock: steps, repeats, the final person, acknowledgement and
resolution, idempotency keys, and two workers advancing the same page."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from opsdesk.core.models import Role
from opsdesk.notify import escalation
from opsdesk.notify.escalation import acknowledge_page, advance_due_pages, resolve_page, start_page
from opsdesk.notify.models import (
    Channel,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    Notification,
    Page,
    PageState,
)
from tests.notify.oncall_helpers import SHANGHAI, people, rotation, schedule

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
MESSAGE = {"en": {"title": "db1 disk full", "text": "98 % used", "severity": "major", "url": "https://x/1"},
           "zh-hans": {"title": "db1 磁盘已满", "text": "已用 98 %", "severity": "major", "url": "https://x/1"}}
RESOLVED = {"en": {"title": "db1 disk OK again", "text": "", "severity": "major"},
            "zh-hans": {"title": "db1 磁盘恢复", "text": "", "severity": "major"}}


@pytest.fixture
def mail():
    return Channel.objects.create(name="SMTP relay", kind="email")


@pytest.fixture
def setup(mail, customer_a):
    """ann is on call in "Primary" (step 1); after 10 minutes mona (step 2); the list runs twice
    (repeat 1); finally the boss."""
    ann, ben = people("ann", "ben")
    mona, boss = people("mona", "boss", role=Role.MANAGER)
    ann.language = "en"
    ann.save()
    sched = schedule()
    rotation(sched, [ann, ben], starts_at=T0.replace(hour=9), kind="daily")
    policy = EscalationPolicy.objects.create(name="Default", repeat=1, final_user=boss)
    policy.customers.add(customer_a)
    EscalationStep.objects.create(policy=policy, position=0, target="schedule", schedule=sched)
    EscalationStep.objects.create(policy=policy, position=1, delay_minutes=10, target="user", user=mona)
    return {"ann": ann, "ben": ben, "mona": mona, "boss": boss, "policy": policy, "schedule": sched}


def sent(**filters) -> list[tuple[str, str, str]]:
    return [(n.recipient.username if n.recipient else "", n.address, n.title)
            for n in Notification.objects.filter(**filters).select_related("recipient").order_by("id")]


def test_steps_advance_with_the_clock_repeat_then_page_the_final_person(setup, customer_a):
    page = start_page("monitoring.alert:1", customer=customer_a, message=MESSAGE, now=T0)
    assert page.policy == setup["policy"]  # the customer's default policy
    assert sent() == [("ann", "ann@example.com", "db1 disk full")]  # ann reads English
    assert Notification.objects.get().key == f"page:{page.pk}:0:0:user{setup['ann'].pk}"
    assert advance_due_pages(T0 + dt.timedelta(minutes=9, seconds=59)) == 0
    assert advance_due_pages(T0 + dt.timedelta(minutes=10)) == 1
    assert sent()[-1] == ("mona", "mona@example.com", "db1 磁盘已满")  # mona has no language: Chinese
    page.refresh_from_db()
    assert (page.step, page.round, page.state) == (1, 0, PageState.ACTIVE)
    # Back to the first step (round 1) after the wrap delay (the last step's 10 minutes).
    assert advance_due_pages(T0 + dt.timedelta(minutes=19)) == 0
    assert advance_due_pages(T0 + dt.timedelta(minutes=20)) == 1
    page.refresh_from_db()
    assert (page.step, page.round) == (0, 1)
    assert Notification.objects.filter(key=f"page:{page.pk}:1:0:user{setup['ann'].pk}").exists()
    assert advance_due_pages(T0 + dt.timedelta(minutes=30)) == 1
    assert advance_due_pages(T0 + dt.timedelta(minutes=40)) == 1
    page.refresh_from_db()
    assert page.state == PageState.EXHAUSTED
    assert page.next_at is None
    assert [r for r, _a, _t in sent()] == ["ann", "mona", "ann", "mona", "boss"]
    assert set(page.paged_users) == {setup["ann"].pk, setup["mona"].pk, setup["boss"].pk}
    assert advance_due_pages(T0 + dt.timedelta(hours=5)) == 0
    assert Notification.objects.count() == 5


def test_acknowledge_stops_the_escalation_and_tells_the_others(setup, customer_a):
    start_page("monitoring.alert:2", customer=customer_a, message=MESSAGE, now=T0)
    advance_due_pages(T0 + dt.timedelta(minutes=10))
    page = acknowledge_page("monitoring.alert:2", actor=setup["mona"], now=T0 + dt.timedelta(minutes=11))
    assert page.state == PageState.ACKNOWLEDGED
    assert page.acknowledged_by == setup["mona"]
    notices = sent(key__contains=":ack:")
    # ann (English) hears it; mona herself does not.
    assert notices == [("ann", "ann@example.com", f"{setup['mona']} acknowledged: db1 disk full")]
    assert advance_due_pages(T0 + dt.timedelta(hours=3)) == 0
    assert not Notification.objects.filter(recipient=setup["boss"]).exists()
    # A second acknowledgement changes nothing.
    assert acknowledge_page("monitoring.alert:2", actor=setup["ann"]) is None
    assert Page.objects.get(pk=page.pk).acknowledged_by == setup["mona"]


def test_resolve_tells_everyone_paged_and_the_channels(setup, customer_a, mail):
    group = Channel.objects.create(name="Ops group", kind="dingtalk")
    setup["policy"].channels.add(group)
    start_page("monitoring.alert:3", customer=customer_a, message=MESSAGE, now=T0)
    assert sent(channel=group) == [("", "", "db1 磁盘已满")]
    advance_due_pages(T0 + dt.timedelta(minutes=10))
    page = resolve_page("monitoring.alert:3", message=RESOLVED)
    assert page.state == PageState.RESOLVED
    told = sent(key__contains=":resolved")
    assert sorted(told) == sorted([("ann", "ann@example.com", "db1 disk OK again"),
                                   ("mona", "mona@example.com", "db1 磁盘恢复"), ("", "", "db1 磁盘恢复")])
    assert advance_due_pages(T0 + dt.timedelta(hours=3)) == 0
    assert resolve_page("monitoring.alert:3", message=RESOLVED) is None
    assert resolve_page("monitoring.alert:unknown", message=RESOLVED) is None


def test_a_second_start_returns_the_same_page_and_pages_nobody_again(setup, customer_a):
    first = start_page("monitoring.alert:4", customer=customer_a, message=MESSAGE, now=T0)
    again = start_page("monitoring.alert:4", customer=customer_a, message=MESSAGE, now=T0 + dt.timedelta(seconds=5))
    assert again.pk == first.pk
    assert Notification.objects.count() == 1
    assert Page.objects.count() == 1


def test_two_workers_advancing_the_same_page_do_the_step_once(setup, customer_a):
    start_page("monitoring.alert:5", customer=customer_a, message=MESSAGE, now=T0)
    at = T0 + dt.timedelta(minutes=10)
    seen_by_one = Page.objects.select_related("policy").get()
    seen_by_two = Page.objects.select_related("policy").get()
    assert escalation._advance(seen_by_one, at) is True
    assert escalation._advance(seen_by_two, at) is False  # its read of (step, round, next_at) is stale
    page = Page.objects.get()
    assert (page.step, page.round) == (1, 0)
    assert Notification.objects.filter(recipient=setup["mona"]).count() == 1


def test_a_step_run_twice_sends_nothing_twice(setup, customer_a):
    page = start_page("monitoring.alert:6", customer=customer_a, message=MESSAGE, now=T0)
    # A worker that crashed after queueing and before moving the page on runs the step again.
    escalation._run_step(page, escalation._steps(page.policy), T0)
    assert Notification.objects.count() == 1


def test_contact_methods_by_severity_and_kind(setup, customer_a, mail):
    ann = setup["ann"]
    robot = Channel.objects.create(name="ann's robot", kind="dingtalk")
    sms = Channel.objects.create(name="Aliyun SMS", kind="aliyun_sms")
    ann.phone = "+8613800000000"
    ann.save()
    email = ContactMethod.objects.create(user=ann, kind="email", address="ann@home.example")
    text = ContactMethod.objects.create(user=ann, kind="sms", min_severity="critical")
    chat = ContactMethod.objects.create(user=ann, kind="channel", channel=robot, min_severity="major")
    ContactMethod.objects.create(user=ann, kind="voice", enabled=False)
    page = start_page("monitoring.alert:7", customer=customer_a, message=MESSAGE, now=T0)
    keys = dict(Notification.objects.values_list("key", "address"))
    assert keys == {f"page:{page.pk}:0:0:{email.pk}": "ann@home.example", f"page:{page.pk}:0:0:{chat.pk}": ""}
    critical = {lang: {**text_, "severity": "critical"} for lang, text_ in MESSAGE.items()}
    page2 = start_page("monitoring.alert:8", customer=customer_a, message=critical, now=T0)
    sms_row = Notification.objects.get(key=f"page:{page2.pk}:0:0:{text.pk}")
    assert (sms_row.channel, sms_row.address, sms_row.severity) == (sms, "+8613800000000", "critical")


def test_a_page_without_policy_tells_only_the_channels(mail, customer_b):
    group = Channel.objects.create(name="B group", kind="wecom")
    page = start_page("monitoring.alert:9", customer=customer_b, message=MESSAGE, channels=[group], now=T0)
    assert page.policy is None
    assert page.next_at is None
    assert sent() == [("", "", "db1 磁盘已满")]
    assert Notification.objects.get().channel == group
    assert advance_due_pages(T0 + dt.timedelta(days=1)) == 0


def test_a_team_step_pages_every_active_member(mail, customer_a):
    from tests.factories import TeamFactory

    ann, ben, gone = people("ann", "ben", "gone")
    gone.is_active = False
    gone.save()
    team = TeamFactory(name="DBA")
    team.members.add(ann, ben, gone)
    policy = EscalationPolicy.objects.create(name="DBA")
    EscalationStep.objects.create(policy=policy, target="team", team=team)
    start_page("monitoring.alert:10", customer=customer_a, policy=policy, message=MESSAGE, now=T0)
    assert sorted(r for r, _a, _t in sent()) == ["ann", "ben"]


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="needs PostgreSQL: two connections writing at once (SQLite's test database is one)")
# Serialized rollback, as every transactional test here: a plain flush makes the content types
# again under new ids, and the serialized tests that follow in this worker could not load theirs.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_on_postgresql(setup, customer_a):
    page = start_page("monitoring.alert:11", customer=customer_a, message=MESSAGE, now=T0)
    at = T0 + dt.timedelta(minutes=10)
    barrier = threading.Barrier(4)
    moved: list[int] = []

    def worker() -> None:
        barrier.wait()
        try:
            moved.append(advance_due_pages(at))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(moved) == [0, 0, 0, 1]
    page.refresh_from_db()
    assert (page.step, page.round) == (1, 0)
    assert Notification.objects.filter(recipient=setup["mona"]).count() == 1
