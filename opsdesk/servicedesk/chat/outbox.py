"""Sending ChatOutbox rows: the row is the truth, the task only a wake-up (docs/architecture.md).

A sender claims a row (PENDING and due, or SENDING with a lease that ran out) by a conditional
update to SENDING with a lease, makes the one request, and settles it: SENT, PENDING again after
a backoff (or the vendor's retry-after), or FAILED after MAX_ATTEMPTS with the answer kept. A
worker killed mid-request leaves the row SENDING; the sweep (beat "servicedesk-chat-sweep",
every 10 s) hands it to a sender when its lease has run out. Feishu de-duplicates by the row's
key (`uuid`), so a retry after a lost answer does not post twice there; a session webhook or
response_url has no such key (at-least-once)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import httpx
from django.db.models import F, Q
from django.utils import timezone

from opsdesk.core import crypto
from opsdesk.servicedesk import chat
from opsdesk.servicedesk.chat.base import SendResult, Target
from opsdesk.servicedesk.models.chat import ChatOutbox, OutboxState

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=60)
BACKOFF = (10, 30, 120, 600, 1800)
MAX_ATTEMPTS = len(BACKOFF) + 1

_client: httpx.Client | None = None


def client() -> httpx.Client:
    global _client
    if _client is None:
        _client = httpx.Client(follow_redirects=False)
    return _client


def _takeable(now: dt.datetime) -> Q:
    return Q(state=OutboxState.PENDING, due_at__lte=now) | Q(state=OutboxState.SENDING, lease_until__lte=now)


def wake(ids: list[int]) -> None:
    from opsdesk.servicedesk.chat import tasks

    tasks.send_chat_outbox.delay(ids)


def send(ids: Iterable[int]) -> int:
    """Send these rows (those still to be sent); returns how many went."""
    return sum(_send_one(pk) for pk in ids)


def sweep() -> int:
    """Send every row that is due or whose sender died; returns how many went."""
    ids = list(ChatOutbox.objects.filter(_takeable(timezone.now())).order_by("due_at", "pk")
               .values_list("pk", flat=True)[:500])
    return send(ids)


def _send_one(pk: int) -> int:
    now = timezone.now()
    lease_until = now + LEASE
    if not ChatOutbox.objects.filter(pk=pk).filter(_takeable(now)).update(state=OutboxState.SENDING,
                                                                          lease_until=lease_until):
        return 0  # sent already, or another sender holds it
    row = ChatOutbox.objects.select_related("group__integration", "message").get(pk=pk)
    result = request(row)
    log.info("chat outbox %s to group %s: %s (HTTP %s)", row.pk, row.group_id, "ok" if result.ok else "failed",
             result.status)
    mine = ChatOutbox.objects.filter(pk=pk, state=OutboxState.SENDING, lease_until=lease_until)
    done = timezone.now()
    if result.ok:
        ChatOutbox.objects.filter(pk=pk).exclude(state=OutboxState.SENT).update(
            state=OutboxState.SENT, sent_at=done, lease_until=None, last_error="", attempts=F("attempts") + 1)
        return 1
    error = " ".join(filter(None, [f"HTTP {result.status}" if result.status else "", result.detail]))[:500]
    attempts = row.attempts + 1
    if result.retry_after is not None:
        mine.update(state=OutboxState.PENDING, lease_until=None, last_error=error,
                    due_at=done + dt.timedelta(seconds=result.retry_after))
    elif attempts >= MAX_ATTEMPTS:
        mine.update(state=OutboxState.FAILED, lease_until=None, last_error=error, attempts=attempts)
    else:
        mine.update(state=OutboxState.PENDING, lease_until=None, last_error=error, attempts=attempts,
                    due_at=done + dt.timedelta(seconds=BACKOFF[attempts - 1]))
    return 0


def request(row: ChatOutbox) -> SendResult:
    from opsdesk.servicedesk.chat.services import settings_of

    integration = row.group.integration
    try:
        vendor = chat.get(integration.kind)
        reply_url = crypto.decrypt(row.message.reply_url_encrypted) if row.message.reply_url_encrypted else ""
        target = Target(message_id=row.message.vendor_message_id, reply_url=reply_url)
        return vendor.send(settings_of(integration), target, row.text, key=row.key, client=client())
    except Exception as exc:  # a bad configuration or a bug must not lose the row: it is retried
        log.exception("chat outbox %s", row.pk)
        return SendResult(ok=False, detail=f"{type(exc).__name__}")
