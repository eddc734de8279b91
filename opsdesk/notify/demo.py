"""Demo data, notify's part: the service desk's on-call schedule (a weekly rotation of the demo
engineer and manager, with the manager covering one of the engineer's days), the escalation
policy that pages for both demo customers' alerts, and how the two are reached.

No notification channel is made, on purpose. The demo cannot know a real SMTP relay or chat robot:
a channel pointing anywhere real would send mail from a demo, and one pointing nowhere (a webhook
to 127.0.0.1:9) fails every delivery, which soon raises a "notification channel failing" alert of
its own. Without a channel, escalation still runs (pages, steps, who was paged) and sends nothing;
the contact methods below wait for the channel an administrator adds.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

from opsdesk.core import services as core_services
from opsdesk.core.demo import CUSTOMERS
from opsdesk.core.models import Customer, Team, User
from opsdesk.notify import channel_services, oncall, oncall_services
from opsdesk.notify.models import (
    ContactKind,
    EscalationPolicy,
    EscalationStep,
    Rotation,
    RotationKind,
    RotationMember,
    Schedule,
    StepTarget,
)

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
HANDOFF = dt.time(9, 0)
SCHEDULE = "一线值班 First line"
POLICY = "标准升级 Standard escalation"
TEAM = "Service desk 服务台"  # made by core's demo
# (username, address, from which severity): the manager is woken only for major and critical.
CONTACTS = [("engineer", "engineer@example.com", "info"), ("manager", "manager@example.com", "major")]


def last_monday(now: dt.datetime) -> dt.datetime:
    """The Monday 09:00 (Beijing time) the rotation started: the last one at least three days ago,
    because the alerting demo replays the last three days and someone was on call then."""
    cutoff = dt.datetime.combine(now.astimezone(ZONE).date() - dt.timedelta(days=3), HANDOFF, tzinfo=ZONE)
    return cutoff - dt.timedelta(days=cutoff.weekday())


def next_tuesday(now: dt.datetime) -> dt.datetime:
    """09:00 (Beijing time) of the coming Tuesday (a week on, when today is Tuesday)."""
    local = now.astimezone(ZONE)
    return dt.datetime.combine(local.date() + dt.timedelta(days=(1 - local.weekday()) % 7 or 7), HANDOFF,
                               tzinfo=ZONE)


def load_notify() -> str:
    now = timezone.now()
    engineer = User.objects.get(username="engineer")
    manager = User.objects.get(username="manager")
    team = Team.objects.get(name=TEAM)
    # The people on call are the team's members (an engineer sees the schedules of their teams).
    core_services.update(team, {"members": [*team.members.all(), engineer, manager]}, actor=None)

    schedule = core_services.create(Schedule, {
        "name": SCHEDULE, "team": team, "time_zone": "Asia/Shanghai",
        "description": "服务台工程师每周轮换，周一 09:00 交接。\n"
                       "The service desk takes turns weekly, handing over on Monday at 09:00."}, actor=None)
    start, tuesday = last_monday(now), next_tuesday(now)
    rotation = core_services.create(Rotation, {
        "schedule": schedule, "name": "每周轮换 Weekly rotation", "layer": 1, "kind": RotationKind.WEEKLY,
        "starts_at": start, "handoff_time": HANDOFF}, actor=None)
    # Whoever goes first, the engineer has the week of the coming Tuesday: that is the day the
    # manager covers.
    turns = (engineer, manager) if (tuesday.date() - start.date()).days // 7 % 2 == 0 else (manager, engineer)
    for position, user in enumerate(turns):
        core_services.create(RotationMember, {"rotation": rotation, "user": user, "position": position}, actor=None)
    # The manager arranges it himself, as a person would: "I cover for you on Tuesday".
    oncall_services.take_over(schedule, actor=manager, starts_at=tuesday, ends_at=tuesday + dt.timedelta(days=1),
                              reason="代班：工程师参加培训 Covering: the engineer is at a training course", now=now)

    policy = core_services.create(EscalationPolicy, {
        "name": POLICY, "team": team, "repeat": 1, "final_user": manager,
        "customers": list(Customer.objects.filter(code__in=[c["code"] for c in CUSTOMERS]))}, actor=None)
    core_services.create(EscalationStep, {"policy": policy, "position": 0, "delay_minutes": 0,
                                          "target": StepTarget.SCHEDULE, "schedule": schedule}, actor=None)
    core_services.create(EscalationStep, {"policy": policy, "position": 1, "delay_minutes": 15,
                                          "target": StepTarget.USER, "user": manager}, actor=None)

    for username, address, severity in CONTACTS:
        channel_services.create_contact_method({
            "user": User.objects.get(username=username), "kind": ContactKind.EMAIL, "address": address,
            "min_severity": severity}, actor=None)
    on_now = ", ".join(u.username for u in oncall.on_call(schedule, now)) or "nobody"
    return (f"on-call schedule “{SCHEDULE}” (weekly, {on_now} on call now, an override next Tuesday), "
            f"escalation policy “{POLICY}” for both customers, {len(CONTACTS)} contact methods")
