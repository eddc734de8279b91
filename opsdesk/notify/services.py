"""Notify's domain functions. This module holds the one way a notification comes to be
(`queue`); delivery (delivery.py), on-call and escalation (oncall.py, escalation.py) and the
channels' configuration add theirs beside it.

notify knows channels and people, never alerts: a caller hands it a message and a destination
(or, through escalation, a recipient policy) and an opaque `source` naming the cause.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from opsdesk.core.models import Customer, User
from opsdesk.notify.models import Channel, Notification

# Message keys a caller passes: title and text are required, the rest optional.
MESSAGE_KEYS = ("title", "text", "severity", "url", "fields")


def queue(channel: Channel, message: dict[str, Any], *, key: str, source: str = "",
          customer: Customer | None = None, address: str = "", recipient: User | None = None,
          language: str = "zh-hans", due_at: dt.datetime | None = None) -> Notification | None:
    """Write one notification row, in the caller's transaction (so it exists exactly when its
    cause does), and wake a sender after the commit. `key` is the idempotency key: a second call
    with the same key makes nothing and answers None."""
    notification = Notification(
        key=key[:120], customer=customer, channel=channel, address=address, recipient=recipient,
        language=language, severity=message.get("severity", "info"), title=str(message["title"])[:300],
        text=str(message.get("text", "")), url=str(message.get("url", ""))[:500],
        fields={str(k): str(v) for k, v in (message.get("fields") or {}).items()}, source=source[:100],
        due_at=due_at or timezone.now())
    try:
        with transaction.atomic():  # a savepoint: a duplicate key leaves the caller's transaction intact
            notification.save()
    except IntegrityError:
        if Notification.objects.filter(key=notification.key).exists():
            return None
        raise
    saved = notification
    transaction.on_commit(lambda: wake_sender([saved.pk], destination=(saved.channel_id, saved.address)))
    return saved


def wake_sender(ids: list[int], *, destination: tuple[int, str] | None = None) -> None:
    """Hand the rows to a sender at once (the row is the truth; this is only the wake-up, and the
    sweep finds what a lost wake-up missed).

    In a worker, its own sender threads (senders.py) are woken in-process: no query, no task.

    Elsewhere a task is queued, unless a sender will take the row anyway (a sender takes
    everything due for its destination and claims again after each request until nothing is due):
    - a sender holds the destination right now (a live lease);
    - an older row of the destination is still pending and due: its wake-up is on the way, and
      the sender it wakes takes this row with it (the oldest row always wakes; a lost wake-up is
      the sweep's, as ever).
    A burst of alerts then makes a few tasks instead of one per notification (a filesystem queue
    drains a few dozen tasks a second, and a backlog of wake-ups is latency)."""
    from opsdesk.notify import senders, tasks

    local = senders.local()
    if local is not None and destination is not None:
        local.wake(destination)
        return
    if destination is not None and ids:
        rows = Notification.objects.filter(channel_id=destination[0], address=destination[1])
        now = timezone.now()
        if rows.filter(Q(state="sending", lease_until__gt=now)
                       | Q(state="pending", due_at__lte=now, pk__lt=min(ids))).exists():
            return
    tasks.send_notifications.delay(ids)
