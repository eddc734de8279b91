"""The delivery engine: notifications rows → requests to the channels.

The row is the truth, the task queue only a wake-up (docs/architecture.md). A sender *claims* the due rows of
one destination (a channel, plus an address for email, SMS and voice) by setting them SENDING with
a lease, sends them ALL as one request (the channel's digest: `fit` decides how many go, the rest
stay pending for the next request), writes one DeliveryAttempt per notification of the request
and settles each row: SENT, back to PENDING with a backoff, or FAILED after MAX_ATTEMPTS with the
response kept. A worker killed mid-request leaves its rows SENDING; when their lease runs out the
sweep hands them to a sender again (at-least-once: the webhook passes each notification's key so
a receiver can drop the copy).

Who sends: a worker's own sender threads (senders.py), woken in-process when the rows commit. A
wake-up from another process (the web, the sweep's beat) is a Celery task, which the worker that
takes it hands to its threads; run eagerly (the tests), the task sends itself (`deliver`).

One request in flight per destination, for every process together: a destination with a live
lease on a row is being sent to by someone else, who claims again as soon as its request is
settled and so takes what arrived meanwhile (a wake-up that finds the destination busy is not
lost). Claims of one destination take turns: on PostgreSQL a transaction-scoped advisory lock
keyed by the destination, with the rows taken FOR UPDATE SKIP LOCKED (not a lock on the channel's
row, which made every address of an email or SMS channel wait for each other's claims, and a
claim wait for anyone holding that row: a person saving the channel, a settle writing its health);
on SQLite the IMMEDIATE transaction (settings.py), which takes the write lock at BEGIN; on both a
conditional UPDATE that only rows still takeable pass. Inside the claim:
- the vendor's rate limits (ChannelType.limits) are counted from the DeliveryAttempt rows of the
  destination (distinct requests in each window), so they hold for every worker together; when a
  limit is reached the rows' `due_at` moves to when the next request may go (nothing is dropped);
- a destination whose last request failed waits until its retry is due (a vendor's retry_after,
  such as DingTalk's 10-minute block, or the backoff), and new rows then go with the retry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, Value, When
from django.utils import timezone, translation

from opsdesk.core import crypto
from opsdesk.notify import channels, senders
from opsdesk.notify.channels.base import ACKNOWLEDGE, SEVERITY_RANK, Message, SendResult, scrub, translating
from opsdesk.notify.channels.limiter import RateLimiter
from opsdesk.notify.models import Channel, DeliveryAttempt, Notification, NotificationState
from opsdesk.notify.signals import channel_failing, channel_recovered

log = logging.getLogger(__name__)

# How long a sender owns the rows it claimed; a request times out after 10 s (channels/base.py),
# so a live sender always settles its rows well inside it.
# (A settings module may shorten it, as the kill test and bench/notify.py do; not an environment setting.)
LEASE = dt.timedelta(seconds=getattr(settings, "OPSDESK_NOTIFY_LEASE_SECONDS", 60))
# Seconds to wait after the n-th failed attempt; after MAX_ATTEMPTS the notification is FAILED.
BACKOFF = (10, 30, 120, 600, 1800, 3600, 3600)
MAX_ATTEMPTS = len(BACKOFF) + 1
# Rows claimed for one request at most (the channel's digest cuts further by size).
BATCH_LIMIT = 200
# A task stops after this many requests or seconds and hands the rest to a new task, so one busy
# destination cannot hold a worker for ever.
REQUESTS_PER_TASK = 50
SECONDS_PER_TASK = 30.0
# A channel "keeps failing" when every request for this long, and at least this many, failed.
FAILING_AFTER = dt.timedelta(minutes=5)
FAILING_REQUESTS = 3

PENDING, SENDING, SENT, FAILED = (NotificationState.PENDING, NotificationState.SENDING, NotificationState.SENT,
                                  NotificationState.FAILED)

_client: httpx.Client | None = None


def client() -> httpx.Client:
    """One connection pool per process (httpx's client is thread-safe)."""
    global _client
    if _client is None:
        _client = httpx.Client(follow_redirects=False)
    return _client


Destination = tuple[int, str]  # (channel id, address)


# --- entry points ------------------------------------------------------------------------------

def send(ids: Iterable[int]) -> int:
    """Send these notifications and everything else due for their destinations; returns how
    many notifications were delivered (0 in a worker, whose sender threads take them over)."""
    destinations = set(Notification.objects.filter(pk__in=list(ids)).filter(_takeable(timezone.now()))
                       .values_list("channel_id", "address"))
    local = senders.local()
    if local is not None:
        for destination in sorted(destinations):
            local.wake(destination)
        return 0
    return sum(deliver(destination) for destination in sorted(destinations))


def sweep() -> int:
    """Wake a sender for every destination with due work (pending rows whose time came, rows
    whose sender's lease ran out); returns how many destinations were woken."""
    destinations = due_destinations()
    for destination in destinations:
        _wake(destination)
    return len(destinations)


def due_destinations(now: dt.datetime | None = None) -> list[Destination]:
    now = now or timezone.now()
    return sorted(set(Notification.objects.filter(_takeable(now), channel__enabled=True)
                      .values_list("channel_id", "address")))


def deliver(destination: Destination) -> int:
    """Requests to one destination until nothing is due for it (or the task's share is used up,
    then a new task goes on); returns how many notifications were delivered."""
    delivered = 0
    started = time.monotonic()
    for _request in range(REQUESTS_PER_TASK):
        claim = _claim(destination)
        if claim is None:
            return delivered
        delivered += _send_and_settle(claim)
        if time.monotonic() - started > SECONDS_PER_TASK:
            break
    # More may be due: hand it on rather than hold this worker.
    _wake(destination)
    return delivered


def step(destination: Destination) -> bool:
    """One request to the destination, if something is due and no one else is sending to it:
    answers whether one went (then more may be due, and the caller looks again)."""
    claim = _claim(destination)
    if claim is None:
        return False
    _send_and_settle(claim)
    return True


def _wake(destination: Destination, at: dt.datetime | None = None) -> None:
    """A sender for the destination now, or at `at` (when its limit or retry allows: sooner than
    the sweep would find it; the sweep still does if this wake-up is lost)."""
    from opsdesk.notify import tasks

    now = timezone.now()
    local = senders.local()
    if local is not None:
        local.wake(destination, 0.0 if at is None else max(0.0, (at - now).total_seconds()))
        return
    first = (Notification.objects.filter(channel_id=destination[0], address=destination[1])
             .filter(_takeable(at or now)).values_list("pk", flat=True).first())
    if first is None:
        return
    if at is None or at <= now:
        tasks.send_notifications.delay([first])
    elif not settings.CELERY_TASK_ALWAYS_EAGER:
        tasks.send_notifications.apply_async([[first]], countdown=(at - now).total_seconds())


# --- claiming ----------------------------------------------------------------------------------

def _takeable(now: dt.datetime) -> Q:
    """Rows a sender may take: pending and due, or sending with a lease that ran out."""
    return Q(state=PENDING, due_at__lte=now) | Q(state=SENDING, lease_until__lte=now)


@dataclass
class Claim:
    channel: Channel
    address: str
    rows: list[Notification]
    lease_until: dt.datetime
    request: str


def _worst_first() -> Case:
    return Case(*(When(severity=name, then=Value(-rank)) for name, rank in SEVERITY_RANK.items()),
                default=Value(0), output_field=IntegerField())


def _take_turn(destination: Destination) -> None:
    """Inside the claim's transaction: claims of this destination one at a time, across processes.
    PostgreSQL: an advisory lock held until the transaction ends (a key of the destination's own:
    no row that other work locks). SQLite: the IMMEDIATE transaction already holds the write lock."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"opsdesk.notify:{destination[0]}:{destination[1]}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


def _claim(destination: Destination) -> Claim | None:
    channel_id, address = destination
    # Read first, outside any transaction: on SQLite a transaction takes the write lock at BEGIN,
    # and most wake-ups find the destination busy or done (a burst of alerts wakes many senders).
    rows_now = Notification.objects.filter(channel_id=channel_id, address=address)
    now = timezone.now()
    if (rows_now.filter(state=SENDING, lease_until__gt=now).exists()
            or not rows_now.filter(_takeable(now)).exists()):
        return None
    with transaction.atomic():
        _take_turn(destination)
        channel = Channel.objects.filter(pk=channel_id).first()
        if channel is None or not channel.enabled:
            return None  # a disabled channel's rows wait (not dropped) until it is enabled again
        now = timezone.now()
        rows_of = Notification.objects.filter(channel_id=channel_id, address=address)
        if rows_of.filter(state=SENDING, lease_until__gt=now).exists():
            return None  # another sender is at it, and looks again when its request is done
        takeable = rows_of.filter(_takeable(now))
        if not takeable.exists():
            return None
        hold = hold_until(channel, address, now)
        if hold is not None and hold > now:
            # Not now: the rows (and a dead sender's) wait until the destination takes requests.
            takeable.update(state=PENDING, due_at=hold, lease_until=None)
            transaction.on_commit(lambda: _wake(destination, hold))
            return None
        ids = list(takeable.select_for_update(skip_locked=True)
                   .order_by(_worst_first(), "created_at", "pk").values_list("pk", flat=True)[:BATCH_LIMIT])
        lease_until = now + LEASE
        # Conditional: only rows still takeable are ours (on SQLite this is what makes one winner).
        Notification.objects.filter(pk__in=ids).filter(_takeable(now)).update(state=SENDING, lease_until=lease_until)
        rows = list(Notification.objects.filter(pk__in=ids, state=SENDING, lease_until=lease_until)
                    .order_by(_worst_first(), "created_at", "pk"))
    if not rows:
        return None
    return Claim(channel, address, rows, lease_until, uuid.uuid4().hex)


def requests_in_window(channel: Channel, address: str, since: dt.datetime) -> list[dt.datetime]:
    """When each request to the destination since `since` was made (one time per request), for
    every channel that reaches the same robot (its `limit_key`)."""
    same = Q(notification__channel__limit_key=channel.limit_key) if channel.limit_key \
        else Q(notification__channel=channel)
    return list(DeliveryAttempt.objects.filter(same, notification__address=address, at__gt=since)
                .values("request").annotate(first=Min("at")).order_by("first").values_list("first", flat=True))


def hold_until(channel: Channel, address: str, now: dt.datetime) -> dt.datetime | None:
    """When the destination may take its next request, if not now: its vendor's rate limits
    (counted in the delivery log, so for all workers together) or the retry of a failed request."""
    at = now
    try:
        kind = channels.get(channel.kind)
    except KeyError:
        kind = None
    if kind is not None and kind.limits:
        horizon = max(window.seconds for window in kind.limits)
        limiter = RateLimiter(clock=now.timestamp)
        for sent_at in requests_in_window(channel, address, now - dt.timedelta(seconds=horizon)):
            limiter.record("d", sent_at.timestamp())
        free_at = limiter.next_at("d", kind.limits)
        at = max(at, dt.datetime.fromtimestamp(free_at, tz=dt.UTC))
    # Only a recent failure holds the destination: a retry is due at most BACKOFF's longest step after
    # it. Looking further back read every attempt ever made to the destination.
    recent = now - dt.timedelta(seconds=2 * max(BACKOFF))
    latest = (DeliveryAttempt.objects.filter(notification__channel=channel, notification__address=address,
                                             at__gte=recent)
              .order_by("-at", "-pk").values_list("ok", flat=True).first())
    if latest is False:
        retry = (Notification.objects.filter(channel=channel, address=address, state=PENDING, due_at__gt=now)
                 .aggregate(at=Min("due_at"))["at"])
        if retry is not None:
            at = max(at, retry)
    return at if at > now else None


# --- sending -----------------------------------------------------------------------------------

def channel_config(channel: Channel, address: str = "") -> tuple[dict, list[str]]:
    """The channel's settings with its secrets merged in, in memory only, and the secret values
    (to scrub from anything written or logged)."""
    secrets: dict = {}
    if channel.secrets_encrypted:
        secrets = json.loads(crypto.decrypt(channel.secrets_encrypted))
    config = {**channel.config, **secrets}
    if address:
        config["to"] = address
    return config, [str(v) for v in secrets.values() if v]


def message_of(row: Notification) -> Message:
    from django.utils.translation import gettext

    severity = row.severity if row.severity in SEVERITY_RANK else "info"
    return Message(title=row.title, text=row.text, severity=severity, url=row.url,
                   fields=dict(row.fields or {}), url_label=gettext(ACKNOWLEDGE), key=row.key)


def request(channel: Channel, address: str, rows: list[Notification]) -> tuple[SendResult, list[str]]:
    """One request with these notifications, in the language of the first (the digest's own
    words; each message's text is already in its own language)."""
    from django.utils.translation import gettext

    hide: list[str] = []
    try:
        config, hide = channel_config(channel, address)
        kind = channels.get(channel.kind)
        with translation.override(rows[0].language or settings.LANGUAGE_CODE), translating(gettext):
            messages = [message_of(row) for row in rows]
            result = kind.send(config, messages, client=client(), now=time.time())
    except Exception as exc:  # a bad configuration or a bug must not lose the notifications
        result = SendResult(ok=False, status=0, detail=f"{type(exc).__name__}: {exc}")
    return result, hide


def _send_and_settle(claim: Claim) -> int:
    at = timezone.now()
    started = time.monotonic()
    result, hide = request(claim.channel, claim.address, claim.rows)
    duration_ms = int((time.monotonic() - started) * 1000)
    detail = scrub(result.detail or "", hide)
    log.info("notify request %s to channel %s: %s (HTTP %s, %s of %s)", claim.request, claim.channel.pk,
             "ok" if result.ok else "failed", result.status, result.delivered, len(claim.rows))
    return settle(claim, result, detail=detail, at=at, duration_ms=duration_ms)


def settle(claim: Claim, result: SendResult, *, detail: str, at: dt.datetime, duration_ms: int) -> int:
    """Write what became of a request: the delivery log, each row's new state, the channel's health."""
    rows = claim.rows
    if result.ok:
        # A channel that sends without a digest may not count; it sent them all.
        delivered = min(result.delivered, len(rows)) if result.delivered else len(rows)
        in_request = rows[:delivered]
    else:
        delivered, in_request = 0, rows
    now = timezone.now()
    mine = Notification.objects.filter(state=SENDING, lease_until=claim.lease_until)
    vendor_code = "" if result.vendor_code is None else str(result.vendor_code)[:40]
    # What a person reads on the row and the channel: the status and vendor code with the answer.
    error = " ".join(filter(None, [f"HTTP {result.status}" if result.status else "",
                                   f"[{vendor_code}]" if vendor_code else "", detail]))[:500]
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create([
            DeliveryAttempt(notification=row, request=claim.request, at=at, ok=result.ok, status=result.status,
                            vendor_code=vendor_code, detail=detail, duration_ms=duration_ms,
                            batch_size=len(in_request))
            for row in in_request])
        if result.ok:
            sent_ids = [row.pk for row in in_request]
            # Even when the lease ran out meanwhile: it went, so it is SENT (and never sent again).
            Notification.objects.filter(pk__in=sent_ids).exclude(state=SENT).update(
                state=SENT, sent_at=now, lease_until=None, last_error="", attempts=_plus_one())
            # Named as "and N more": they go with the next request, at once.
            mine.filter(pk__in=[row.pk for row in rows[delivered:]]).update(state=PENDING, lease_until=None)
            _recovered(claim.channel, now)
        elif result.retry_after is not None:
            # The vendor refuses the destination until then: everything for it waits, nothing is
            # counted as a failed attempt (a rate limit is not the notification's fault).
            until = now + dt.timedelta(seconds=result.retry_after)
            mine.filter(pk__in=[row.pk for row in rows]).update(state=PENDING, lease_until=None, due_at=until,
                                                                 last_error=error)
            Notification.objects.filter(channel=claim.channel, address=claim.address, state=PENDING,
                                        due_at__lt=until).update(due_at=until)
            _failing(claim.channel, error, now)
        else:
            for row in rows:
                attempts = row.attempts + 1
                change = {"attempts": attempts, "lease_until": None, "last_error": error}
                if attempts >= MAX_ATTEMPTS:
                    change.update(state=FAILED)
                else:
                    change.update(state=PENDING, due_at=now + dt.timedelta(seconds=BACKOFF[attempts - 1]))
                mine.filter(pk=row.pk).update(**change)
            _failing(claim.channel, error, now)
    return delivered


def _plus_one() -> F:
    return F("attempts") + 1


# --- the channel's health ------------------------------------------------------------------------

def _failing(channel: Channel, detail: str, now: dt.datetime) -> None:
    """After a failed request: a channel whose every request failed for FAILING_AFTER (and at least
    FAILING_REQUESTS of them) is marked failing, and channel_failing is sent once."""
    attempts = DeliveryAttempt.objects.filter(notification__channel=channel)
    last_ok = attempts.filter(ok=True).aggregate(at=Max("at"))["at"]
    failed = attempts.filter(ok=False)
    if last_ok is not None:
        failed = failed.filter(at__gt=last_ok)
    stats = failed.aggregate(first=Min("at"), requests=Count("request", distinct=True))
    Channel.objects.filter(pk=channel.pk).exclude(failing_since=None).update(last_error=detail[:500])
    if stats["requests"] < FAILING_REQUESTS or now - stats["first"] < FAILING_AFTER:
        return
    since = stats["first"]
    if Channel.objects.filter(pk=channel.pk, failing_since=None).update(failing_since=since, last_error=detail[:500]):
        transaction.on_commit(lambda: channel_failing.send(sender=Channel, channel=channel, since=since,
                                                           error=detail))


def _recovered(channel: Channel, now: dt.datetime) -> None:
    if Channel.objects.filter(pk=channel.pk).exclude(failing_since=None).update(failing_since=None, last_error=""):
        transaction.on_commit(lambda: channel_recovered.send(sender=Channel, channel=channel, at=now))


# --- figures for /healthz and /metrics -----------------------------------------------------------

def oldest_due(now: dt.datetime | None = None) -> dt.datetime | None:
    """The due time of the longest-waiting notification that should have gone already (rows of a
    disabled channel wait on purpose and are left out)."""
    now = now or timezone.now()
    return Notification.objects.filter(_takeable(now), channel__enabled=True).aggregate(at=Min("due_at"))["at"]


def counts() -> dict[str, int]:
    rows = Notification.objects.values("state").annotate(n=Count("pk"))
    return {row["state"]: row["n"] for row in rows}

