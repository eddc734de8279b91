"""Fetching one mailbox: the messages whose UID is above the last one filed (all of them again
when the server's UIDVALIDITY changed), in batches, each message filed in its own transaction
(intake.process). The mailbox is opened read-only: opsdesk neither moves, flags nor deletes mail.

At-least-once: the last UID is written after its batch is filed, so a fetcher killed halfway
fetches the batch again and intake's Message-ID key makes the second time a no-op (a batch's
Message-IDs are read first, and the bodies of the ones already filed are not even fetched).
One fetcher at a time per mailbox, by a lease on its row."""

from __future__ import annotations

import datetime as dt
import functools
import imaplib
import logging
import re
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from opsdesk.core.memo import memo_scope
from opsdesk.servicedesk.mail import connections, intake, outgoing
from opsdesk.servicedesk.mail.parsing import MSGID
from opsdesk.servicedesk.models import InboundMail, MailChannel, TicketEntry

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=10)
BATCH = 200
# A fetch hands on after this many messages (a new task goes on), so one huge mailbox does not
# hold a worker for an hour; the lease is renewed after each batch.
MESSAGES_PER_FETCH = 20_000
UID_IN_HEADER = re.compile(rb"UID (\d+)")


@dataclass
class FetchResult:
    seen: int = 0  # messages above the last UID
    filed: int = 0  # new rows
    skipped: int = 0  # already filed (fetched again)
    more: bool = False  # stopped at MESSAGES_PER_FETCH
    error: str = ""


def quote_folder(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _claim(channel_id: int) -> MailChannel | None:
    now = timezone.now()
    taken = (MailChannel.objects.filter(pk=channel_id, enabled=True)
             .filter(Q(fetch_lease_until__isnull=True) | Q(fetch_lease_until__lte=now))
             .update(fetch_lease_until=now + LEASE))
    return MailChannel.objects.filter(pk=channel_id).first() if taken else None


def fetch(channel_id: int) -> FetchResult | None:
    """Fetch a mailbox; None when it is disabled or another fetcher holds it."""
    channel = _claim(channel_id)
    if channel is None:
        return None
    result = FetchResult()
    conn = None
    try:
        conn = connections.imap(channel)
        _fetch_into(conn, channel, result)
        MailChannel.objects.filter(pk=channel.pk).update(last_fetch_at=timezone.now(), last_error="")
    except Exception as exc:
        result.error = connections.scrub(f"{type(exc).__name__}: {exc}", channel)[:2000]
        log.warning("mailbox %s: %s", channel.pk, result.error)
        MailChannel.objects.filter(pk=channel.pk).update(last_fetch_at=timezone.now(), last_error=result.error)
    finally:
        if conn is not None:
            connections.logout(conn)
        MailChannel.objects.filter(pk=channel.pk).update(fetch_lease_until=None)
    return result


def _ok(answer: tuple[str, list]) -> list:
    typ, data = answer
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{typ}: {data!r}"[:500])
    return data


def _fetch_into(conn: imaplib.IMAP4, channel: MailChannel, result: FetchResult) -> None:
    _ok(conn.select(quote_folder(channel.folder), readonly=True))
    validity = int(conn.untagged_responses.get("UIDVALIDITY", [b"0"])[0])
    last_uid = channel.last_uid
    if channel.uid_validity != validity:
        # The server renumbered the folder: every message again (the Message-IDs make it safe).
        last_uid = 0
        MailChannel.objects.filter(pk=channel.pk).update(uid_validity=validity, last_uid=0)
    data = _ok(conn.uid("SEARCH", None, f"UID {last_uid + 1}:*"))
    uids = sorted({int(u) for u in (data[0] or b"").split() if int(u) > last_uid})
    own, known = intake.own_addresses(), {}
    for start in range(0, len(uids), BATCH):
        if result.seen >= MESSAGES_PER_FETCH:
            result.more = True
            break
        batch = uids[start:start + BATCH]
        result.seen += len(batch)
        wanted, ids = _unfiled(conn, channel, batch, result)
        if wanted:
            # Which of these messages are already on a ticket (came through another mailbox,
            # or are our own sent mail coming back): one query for the batch.
            on_tickets: dict[str, int | None] = dict.fromkeys(ids)
            on_tickets.update(TicketEntry.objects.filter(message_id__in=ids).values_list("message_id", "ticket_id"))
            written: list[int] = []
            token = outgoing.wake_later.set(written)
            try:
                # The batch's lookups (teams, contracts, webhooks…) are read once for the batch.
                bodies = fetch_bodies(conn, wanted)
                writer = intake.RawWriter([raw for _uid, raw in bodies])
                try:
                    with memo_scope():
                        for i, (uid, raw) in enumerate(bodies):
                            filed = intake.process(channel, raw, uid=uid, own=own, known=known, checked=True,
                                                   on_tickets=on_tickets, stored=functools.partial(writer.path, i))
                            if filed is not None:
                                result.filed += 1
                            else:
                                result.skipped += 1
                finally:
                    writer.join()
            finally:
                outgoing.wake_later.reset(token)
                outgoing.wake(written)
        MailChannel.objects.filter(pk=channel.pk).update(last_uid=batch[-1],
                                                         fetch_lease_until=timezone.now() + LEASE)


def _unfiled(conn: imaplib.IMAP4, channel: MailChannel, batch: list[int], result: FetchResult
             ) -> tuple[list[int], set[str]]:
    """The UIDs of the batch whose Message-ID this mailbox has not filed (and those without one),
    and those Message-IDs."""
    data = _ok(conn.uid("FETCH", ",".join(map(str, batch)), "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"))
    ids: dict[int, str] = {}
    for uid, header in _pairs(data):
        found = MSGID.search(header.decode("utf-8", "replace"))
        if found:
            ids[uid] = found.group(1)
    known = set(InboundMail.objects.filter(channel=channel, message_id__in=set(ids.values()))
                .values_list("message_id", flat=True))
    wanted = [uid for uid in batch if ids.get(uid) not in known]
    result.skipped += len(batch) - len(wanted)
    return wanted, {ids[uid] for uid in wanted if uid in ids}


def fetch_bodies(conn: imaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes]]:
    return _pairs(_ok(conn.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")))


def _pairs(data: list) -> list[tuple[int, bytes]]:
    """(UID, literal) from imaplib's FETCH answer, whether the server puts UID before or after
    the literal."""
    pairs = []
    for i, item in enumerate(data):
        if not isinstance(item, tuple) or len(item) < 2:
            continue
        found = UID_IN_HEADER.search(item[0])
        if found is None and i + 1 < len(data) and isinstance(data[i + 1], bytes):
            found = UID_IN_HEADER.search(data[i + 1])
        if found is not None:
            pairs.append((int(found.group(1)), item[1]))
    return pairs
