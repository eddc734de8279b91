"""Builders for on-call tests: schedules with rotations and members, in a few lines."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from opsdesk.core.models import Role
from opsdesk.notify.models import Override, Rotation, RotationMember, Schedule
from tests.factories import UserFactory

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


def people(*names: str, role: str = Role.ENGINEER) -> list:
    return [UserFactory(username=name, email=f"{name}@example.com", role=role) for name in names]


def schedule(name: str = "Primary", time_zone: str = "Asia/Shanghai", team=None) -> Schedule:
    return Schedule.objects.create(name=name, time_zone=time_zone, team=team)


def rotation(sched: Schedule, users: list, *, starts_at: dt.datetime, kind: str = "weekly", layer: int = 1,
             handoff: dt.time = dt.time(9, 0), **kwargs) -> Rotation:
    rot = Rotation.objects.create(schedule=sched, name=f"layer {layer} {kind}", layer=layer, kind=kind,
                                  starts_at=starts_at, handoff_time=handoff, **kwargs)
    for position, user in enumerate(users):
        RotationMember.objects.create(rotation=rot, user=user, position=position)
    return rot


def override(sched: Schedule, user, start: dt.datetime, end: dt.datetime, **kwargs) -> Override:
    return Override.objects.create(schedule=sched, user=user, starts_at=start, ends_at=end, **kwargs)


def names(users) -> list[str]:
    return [u.username for u in users]
