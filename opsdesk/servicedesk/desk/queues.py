"""The engineer's queues: named views of the open tickets (mine, my teams', unassigned, about to
breach), each a filter on the scoped queryset, nearest SLA due first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opsdesk.servicedesk.models.tickets import OPEN_STATUSES

OPEN = sorted(OPEN_STATUSES)

# "About to breach": a clock already warned (its thresholds), breached, or due within this long.
BREACH_HORIZON = dt.timedelta(hours=1)

# The order of every queue: nearest due first, tickets without a clock after them, worst priority first.
QUEUE_ORDER = (F("sla_due_at").asc(nulls_last=True), "priority", "-id")


@dataclass(frozen=True)
class Queue:
    key: str
    label: object
    icon: str

    def filter(self, user, qs: QuerySet) -> QuerySet:
        # The same list, in the same order, as the partial indexes' condition.
        open_ = qs.filter(status__in=OPEN)
        if self.key == "mine":
            return open_.filter(assignee=user)
        if self.key == "team":
            return open_.filter(team__in=team_ids(user))
        if self.key == "unassigned":
            return open_.filter(assignee__isnull=True)
        if self.key == "breaching":
            soon = timezone.now() + BREACH_HORIZON
            return open_.filter(Q(sla_state__in=("warning", "breached")) | Q(sla_due_at__lte=soon))
        if self.key == "open":
            return open_
        return qs


QUEUES = [
    Queue("mine", _("Mine"), "bi-person"),
    Queue("team", _("My teams"), "bi-people"),
    Queue("unassigned", _("Unassigned"), "bi-inbox"),
    Queue("breaching", _("About to breach"), "bi-alarm"),
    Queue("open", _("All open"), "bi-list-task"),
    Queue("all", _("All tickets"), "bi-archive"),
]
BY_KEY = {q.key: q for q in QUEUES}
DEFAULT = "open"


def selected(key: str) -> Queue:
    return BY_KEY.get(key) or BY_KEY[DEFAULT]


def team_ids(user) -> list[int]:
    """The person's teams as a list of ids, read once per request: a literal list lets the
    planner walk the (team, SLA due) index in order instead of joining the teams for every row."""
    cached = getattr(user, "_opsdesk_team_ids", None)
    if cached is None:
        cached = sorted(user.teams.values_list("pk", flat=True))
        user._opsdesk_team_ids = cached
    return cached


def counts(user, scoped: QuerySet) -> dict[str, int]:
    """The number of tickets in each queue but "all". One count each: each is answered from its
    own partial index of open tickets (one pass over them all read every row's columns)."""
    return {queue.key: queue.filter(user, scoped).count() for queue in QUEUES if queue.key != "all"}
