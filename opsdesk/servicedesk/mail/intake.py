"""One fetched message → exactly one InboundMail row, and through the ticket actions a new ticket,
a reply on the ticket it answers, triage (no customer known) or nothing (an automatic mail).

Exactly once: the row's (mailbox, Message-ID) is unique and is written in the same transaction
as the ticket or reply it made, so a message fetched twice, or by two fetchers at once, is
filed once (the loser of a race rolls back whole). The raw
message is written under the data directory before anything else, and whatever goes wrong while
reading or filing it ends as a quarantined row naming the reason: never lost, and never an
exception that stops the fetcher."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from opsdesk.core.actions import unit_of_work
from opsdesk.core.models import Customer
from opsdesk.servicedesk import attachments, services
from opsdesk.servicedesk.mail import instance, loops, outgoing, senders, threads
from opsdesk.servicedesk.mail.parsing import ParsedMail, parse, strip_quoted_html
from opsdesk.servicedesk.models import InboundMail, MailChannel, TicketChannel, TicketEntry, TicketStatus
from opsdesk.servicedesk.models.mail import InboundState

log = logging.getLogger(__name__)

# A message larger than this is kept (raw) and quarantined unread: reading it would hold a
# worker and the memory of a whole mailbox.
MAX_MESSAGE_BYTES = 60 * 1024 * 1024
# A Date header further in the past than this (a wrong clock, a forged date) is not used as the
# time the request was made: the fetch time is.
MAX_DATE_AGE = dt.timedelta(days=7)
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


# --- the raw message -----------------------------------------------------------------------------------

def raw_root() -> Path:
    return Path(settings.DATA_DIR) / "mail"


def store_raw(raw: bytes) -> str:
    """Write the message under the data directory by its hash (the same message twice is one
    file); returns the path relative to the data directory."""
    digest = hashlib.sha256(raw).hexdigest()
    relative = Path("mail") / digest[:2] / f"{digest}.eml"
    path = Path(settings.DATA_DIR) / relative
    try:
        if path.stat().st_size == len(raw):
            return str(relative)
    except FileNotFoundError:
        pass
    # The name is the content's hash, so a file of the right size is the whole message, and one
    # cut short by a crash is written again. (Not a temporary file renamed into place: on ext4
    # each rename costs about 0.6 ms, a tenth of the time of filing a mail.)
    try:
        out = open(path, "wb")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        out = open(path, "wb")
    with out:
        out.write(raw)
    return str(relative)


class RawWriter:
    """Writes a fetched batch's messages under the data directory in a thread of its own, in
    order, while the fetcher parses and files them: the disk's time (a new file costs 0.3–0.8 ms
    on ext4) overlaps the database's. Each message is still on disk before its row is written:
    `path(i)` waits for message i."""

    def __init__(self, raws: list[bytes]) -> None:
        self._results: list[str | BaseException | None] = [None] * len(raws)
        self._written = [threading.Event() for _ in raws]
        self._thread = threading.Thread(target=self._write_all, args=(raws,), name="opsdesk-mail-raw", daemon=True)
        self._thread.start()

    def _write_all(self, raws: list[bytes]) -> None:
        for i, raw in enumerate(raws):
            try:
                self._results[i] = store_raw(raw)
            except BaseException as exc:  # handed to the fetcher, which records the failed fetch
                self._results[i] = exc
            finally:
                self._written[i].set()

    def path(self, i: int) -> str:
        self._written[i].wait()
        result = self._results[i]
        if isinstance(result, BaseException):
            raise result
        return str(result)

    def join(self) -> None:
        self._thread.join()


def read_raw(row: InboundMail) -> bytes:
    return (Path(settings.DATA_DIR) / row.raw_path).read_bytes()


# --- processing --------------------------------------------------------------------------------------

def own_addresses() -> set[str]:
    """Our own mailboxes' addresses: mail from them is ours coming back."""
    addresses = set()
    for sender, login in MailChannel.objects.values_list("from_address", "imap_username"):
        addresses.add(sender.lower())
        if "@" in login:
            addresses.add(login.lower())
    return addresses


def process(channel: MailChannel, raw: bytes, *, uid: int | None = None, own: Iterable[str] | None = None,
            known: dict | None = None, checked: bool = False,
            on_tickets: dict[str, int | None] | None = None,
            stored: Callable[[], str] | None = None) -> InboundMail | None:
    """File one message. None when it was filed before (the same Message-ID in this mailbox).
    `own` and `known` (senders already identified) are the fetcher's, kept for one fetch;
    `checked`: the fetcher has just looked the Message-ID up (the unique key still decides);
    `on_tickets`: the ticket (or None) of each Message-ID the fetcher looked up on the timelines;
    `stored`: the raw message's path once the fetcher's RawWriter has written it."""
    try:
        mail: ParsedMail | None = parse(raw) if len(raw) <= MAX_MESSAGE_BYTES else None
        problem = "" if mail is not None else _("The message is larger than %(mb)d MB.") % {
            "mb": MAX_MESSAGE_BYTES // (1024 * 1024)}
    except Exception as exc:
        mail, problem = None, _("The message cannot be read: %(error)s") % {"error": _describe(exc)}
    key = mail.message_id if mail is not None else "sha256-" + hashlib.sha256(raw).hexdigest()
    if not (checked and mail is not None) and InboundMail.objects.filter(channel=channel, message_id=key).exists():
        return None
    raw_path = stored() if stored is not None else store_raw(raw)
    row = InboundMail(channel=channel, message_id=key, uid=uid, raw_path=raw_path, size=len(raw),
                      fetched_at=timezone.now())
    if mail is not None:
        row.from_name, row.from_address = mail.from_name[:200], mail.from_address[:254]
        row.subject, row.received_at = mail.subject[:300], mail.date
    else:
        row.state, row.reason = InboundState.QUARANTINED, problem
        return _save_alone(row)
    try:
        with unit_of_work():
            # The row is written last, in the same transaction as the ticket: a second fetcher
            # of the same message at the same time fails on the unique key, and its ticket is
            # rolled back with it. Any error rolls the whole message back (and quarantines it).
            token = outgoing.filing_from.set(channel)
            try:
                decide(row, mail, channel, own=own, known=known, on_tickets=on_tickets)
            finally:
                outgoing.filing_from.reset(token)
            row.save()
        return row
    except IntegrityError:
        if InboundMail.objects.filter(channel=channel, message_id=key).exists():
            return None  # another fetcher filed it
        row.pk, row.ticket = None, None
        row.state, row.reason = InboundState.QUARANTINED, _("The database refused the message.")
        return _save_alone(row)
    except Exception as exc:
        log.warning("mail %s of mailbox %s quarantined: %s", key, channel.pk, _describe(exc))
        row.pk = None
        row.ticket = None
        row.state, row.reason = InboundState.QUARANTINED, _describe(exc)
        return _save_alone(row)


def _save_alone(row: InboundMail) -> InboundMail | None:
    try:
        with transaction.atomic():
            row.save()
        return row
    except IntegrityError:
        return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        messages = [f"{k}: {'; '.join(v)}" for k, v in exc.message_dict.items()] if hasattr(exc, "error_dict") \
            else exc.messages
        return "; ".join(messages)[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


def decide(row: InboundMail, mail: ParsedMail, channel: MailChannel, *, own: Iterable[str] | None = None,
           customer: Customer | None = None, known: dict | None = None,
           on_tickets: dict[str, int | None] | None = None) -> None:
    """Set the row's state (and make the ticket or reply) inside the caller's transaction.
    `customer` is a person's answer to triage: the mail opens a ticket of that customer."""
    if customer is None:
        reason = loops.automatic_reason(mail, own_addresses=own if own is not None else own_addresses(),
                                        instance_id=instance.instance_id())
        if reason:
            row.state, row.reason = InboundState.IGNORED, reason
            return
        if on_tickets is not None and mail.message_id in on_tickets:
            already = on_tickets[mail.message_id]
        else:
            already = (TicketEntry.objects.filter(message_id=mail.message_id).values_list("ticket_id", flat=True)
                       .first())
        if already is not None:
            # The same message reached another of our mailboxes (or one we sent came back).
            row.state, row.ticket_id = InboundState.IGNORED, already
            row.reason = _("Already on ticket #%(number)s.") % {"number": already}
            return
    sender = senders.identify(mail.from_address, channel, known) if customer is None else senders.Sender(customer)
    if customer is not None:
        found = senders.identify(mail.from_address, channel)
        if found.customer is not None and found.customer.pk == customer.pk:
            sender = found
    thread = threads.find(mail, sender.customer) if customer is None else None
    at = _when(mail)
    kept, refused = split_files(mail.attachments)
    if thread is not None and thread.ticket.status != TicketStatus.CLOSED:
        ticket = thread.ticket
        services.reply(ticket, actor=None, html=strip_quoted_html(mail.html) or mail.html, files=kept,
                               via=TicketChannel.EMAIL, author_name=mail.from_name or mail.from_address,
                               author_email=mail.from_address, message_id=mail.message_id, at=at,
                               from_customer=True)
        row.state, row.ticket, row.customer_id = InboundState.REPLY, ticket, ticket.customer_id
        row.reason = (_("Reply to #%(number)s (by its Message-ID).") if thread.how == "message-id" else
                      _("Reply to #%(number)s (by the ticket number in the subject).")) % {"number": ticket.pk}
        _note_refused(ticket, refused)
        return
    if sender.customer is None:
        row.state, row.reason = InboundState.TRIAGE, sender.problem
        return
    language = (sender.user.language if sender.user is not None and sender.user.language else "") or \
        ("zh-hans" if CJK.search(mail.subject + mail.text[:2000]) else "en")
    ticket = services.open_ticket(
        actor=None, customer=sender.customer, title=_title(mail), description=mail.text[:100_000],
        channel=TicketChannel.EMAIL, requester=sender.contact, requester_user=sender.user,
        requester_email=mail.from_address, message_id=mail.message_id,
        author_name=mail.from_name or mail.from_address, html=mail.html, files=kept, language=language,
        team=channel.default_team, category=channel.category, at=at)
    row.state, row.ticket, row.customer_id = InboundState.TICKET, ticket, ticket.customer_id
    row.reason = ""
    if thread is not None:
        # An answer to a closed ticket opens a new one, linked to the old.
        services.link(ticket, actor=None, target=thread.ticket)
        row.reason = _("Follow-up of closed ticket #%(number)s.") % {"number": thread.ticket.pk}
    _note_refused(ticket, refused)


def _title(mail: ParsedMail) -> str:
    title = re.sub(r"^\s*((re|fw|fwd|aw|sv|回复|答复|转发)\s*[:：]\s*)+", "", mail.subject, flags=re.IGNORECASE)
    return (title.strip() or mail.subject.strip() or _("(no subject)"))[:300]


def _when(mail: ParsedMail) -> dt.datetime:
    now = timezone.now()
    if mail.date is not None and now - MAX_DATE_AGE <= mail.date <= now:
        return mail.date
    return now


def split_files(files: list[tuple[str, bytes, str]]) -> tuple[list, list[str]]:
    """The attachments that may be kept, and a line for each one that may not (forbidden type,
    too large, one too many)."""
    kept, refused = [], []
    for upload in files:
        problems = attachments.check_files([upload]).get("files", [])
        if problems:
            refused.extend(problems)
        elif len(kept) >= settings.OPSDESK_ATTACHMENT_MAX_FILES:
            refused.append(_("%(name)s: more than %(count)d files in one mail.")
                           % {"name": upload[0], "count": settings.OPSDESK_ATTACHMENT_MAX_FILES})
        else:
            kept.append(upload)
    return kept, refused


def _note_refused(ticket, refused: list[str]) -> None:
    if refused:
        body = _("Attachments of the mail that were not kept:") + "\n" + "\n".join(refused)
        services.reply(ticket, actor=None, body=body, public=False, from_customer=False)
