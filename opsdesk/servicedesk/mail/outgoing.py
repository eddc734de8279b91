"""Mail to a ticket's requester: the desk's public replies, the acknowledgement of a request
that came by mail or the portal ("every request is recorded and answered at once"), and the
resolution notice.

A `ticket_event` listener renders the mail (in the ticket's language, plain text and HTML) and
writes an OutgoingMail row in the action's own transaction, so the mail exists exactly when
the reply does; after the commit a task sends it. Sending claims the row with a lease; a
sender killed mid-send leaves the row SENDING, and when the lease runs out the sweep hands it
to a sender again (at-least-once, with the same Message-ID, so a client that got it twice shows
it once). A failed send is retried with a backoff, then FAILED with the server's answer."""

from __future__ import annotations

import datetime as dt
import email.policy
import logging
import smtplib
from contextvars import ContextVar
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from django.db import transaction
from django.db.models import F, Q
from django.dispatch import receiver
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation

from opsdesk.core.memo import remember
from opsdesk.servicedesk.mail import connections, instance
from opsdesk.servicedesk.models import InboundMail, MailChannel, OutgoingMail, Ticket, TicketChannel, TicketEntry
from opsdesk.servicedesk.models.mail import OutgoingKind, OutgoingState
from opsdesk.servicedesk.models.tickets import TicketStatus
from opsdesk.servicedesk.richtext import html_to_text, sanitize_html
from opsdesk.servicedesk.signals import ticket_event

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=2)  # SMTP answers within connections.TIMEOUT (30 s) or the send fails
BACKOFF = (30, 120, 600, 1800, 3600, 3600)  # seconds after the n-th failed attempt
MAX_ATTEMPTS = len(BACKOFF) + 1
# Acknowledgements to one address in an hour at most: a robot we did not recognise, writing in
# a loop, gets a few answers, not thousands.
ACKS_PER_HOUR = 5
MAX_REFERENCES = 20
LANGUAGES = ("en", "zh-hans")

SENDING_POLICY = email.policy.SMTP.clone(max_line_length=998)

PENDING, SENDING, SENT, FAILED = (OutgoingState.PENDING, OutgoingState.SENDING, OutgoingState.SENT,
                                  OutgoingState.FAILED)


# --- written with the ticket action ---------------------------------------------------------------

@receiver(ticket_event, dispatch_uid="servicedesk.mail.outgoing")
def _on_ticket_event(sender, ticket: Ticket, event: str, entry: TicketEntry | None = None, **extra) -> None:
    if event == "opened" and ticket.channel in (TicketChannel.EMAIL, TicketChannel.PORTAL):
        queue_acknowledgement(ticket, entry)
    elif event == "reply" and entry is not None and entry.public and not extra.get("customer_side"):
        queue(ticket, OutgoingKind.REPLY, entry)
    elif event == "status" and extra.get("new") == TicketStatus.RESOLVED:
        queue_resolution(ticket)


# The mailbox whose mail is being filed now (intake sets it): its acknowledgement and the
# answers go out through the same mailbox, without looking it up again.
filing_from: ContextVar[MailChannel | None] = ContextVar("opsdesk_mail_filing_from", default=None)


# Set by the fetcher to a list: the mail written while it files a batch is woken once after the
# batch (one task instead of one per acknowledgement); the sweep catches any wake-up lost.
wake_later: ContextVar[list[int] | None] = ContextVar("opsdesk_mail_wake_later", default=None)


def channel_for(ticket: Ticket) -> MailChannel | None:
    """The mailbox the ticket came in by, else the first mailbox that can send."""
    current = filing_from.get()
    if current is not None and current.enabled and current.smtp_host:
        return current
    sending = MailChannel.objects.filter(enabled=True).exclude(smtp_host="")
    came_by = (InboundMail.objects.filter(ticket=ticket).order_by("pk").values_list("channel_id", flat=True).first())
    if came_by is not None:
        found = sending.filter(pk=came_by).first()
        if found is not None:
            return found
    return sending.order_by("pk").first()


def queue_acknowledgement(ticket: Ticket, entry: TicketEntry | None) -> OutgoingMail | None:
    address = (ticket.requester_email or "").lower()
    if not address:
        return None
    since = timezone.now() - dt.timedelta(hours=1)
    # Within a batch of mail the count is read once per address and then kept up to date here.
    sent = remember(("servicedesk.acks", address), lambda: [OutgoingMail.objects.filter(
        to_address=address, kind=OutgoingKind.ACKNOWLEDGEMENT, created_at__gte=since).count()])
    if sent[0] >= ACKS_PER_HOUR:
        log.debug("no acknowledgement for ticket %s: %s had %s this hour", ticket.pk, address, ACKS_PER_HOUR)
        return None
    row = queue(ticket, OutgoingKind.ACKNOWLEDGEMENT, None,
                thread=[entry.message_id] if entry is not None and entry.message_id else [])
    if row is not None:
        sent[0] += 1
    return row


def queue_resolution(ticket: Ticket) -> OutgoingMail | None:
    # "Resolve" with a solution wrote a public reply a moment ago in this transaction: one mail,
    # the resolution notice carrying the solution, instead of two.
    row = (OutgoingMail.objects.filter(ticket=ticket, kind=OutgoingKind.REPLY, state=PENDING, attempts=0,
                                       entry__created_at=ticket.resolved_at).order_by("-pk").first())
    if row is not None:
        _render_into(row, ticket, OutgoingKind.RESOLVED, row.entry)
        row.kind, row.automatic = OutgoingKind.RESOLVED, False
        row.save()
        return row
    return queue(ticket, OutgoingKind.RESOLVED, None)


def queue(ticket: Ticket, kind: str, entry: TicketEntry | None, *, thread: list[str] | None = None
          ) -> OutgoingMail | None:
    """Write the mail of `kind` about `entry` (or the ticket). `thread`: the Message-IDs of the
    conversation so far when the caller knows them (a new ticket's is its opening mail's)."""
    address = (ticket.requester_email or "").strip()
    channel = channel_for(ticket) if address else None
    if channel is None:
        return None
    part = f"entry-{entry.pk}" if entry is not None else kind
    row = OutgoingMail(ticket=ticket, customer_id=ticket.customer_id, channel=channel, entry=entry, kind=kind,
                       to_address=address[:254], message_id=instance.new_message_id(ticket.pk, part),
                       automatic=kind == OutgoingKind.ACKNOWLEDGEMENT or (kind == OutgoingKind.RESOLVED
                                                                          and entry is None))
    if thread is None:
        thread = list(TicketEntry.objects.filter(ticket=ticket).exclude(message_id="")
                      .exclude(pk=entry.pk if entry is not None else None).order_by("created_at", "pk")
                      .values_list("message_id", flat=True))
    if thread:
        row.in_reply_to = thread[-1]
        refs = thread if len(thread) <= MAX_REFERENCES else [thread[0], *thread[-(MAX_REFERENCES - 1):]]
        row.references = " ".join(f"<{mid}>" for mid in refs)
    _render_into(row, ticket, kind, entry)
    row.save()
    if entry is not None and not entry.message_id:
        # The customer's answer to this mail names this id: it threads to the ticket.
        TicketEntry.objects.filter(pk=entry.pk).update(message_id=row.message_id)
        entry.message_id = row.message_id
    collected = wake_later.get()
    if collected is not None:
        collected.append(row.pk)  # the fetcher wakes a sender once per batch
    else:
        transaction.on_commit(lambda: _wake(row.pk))
    return row


def _language(ticket: Ticket) -> str:
    return ticket.language if ticket.language in LANGUAGES else "en"


def _render_into(row: OutgoingMail, ticket: Ticket, kind: str, entry: TicketEntry | None) -> None:
    language = _language(ticket)
    with translation.override(language):
        context = {"ticket": ticket, "number": ticket.pk, "title": ticket.title,
                   "status": ticket.get_status_display(), "name": _requester_name(ticket),
                   "body_html": sanitize_html(entry.body) if entry is not None else "",
                   "text": html_to_text(entry.body) if entry is not None else "",
                   "from_name": row.channel.from_name if row.channel_id else "opsdesk"}
        text = _render(kind, language, "txt", context)
        subject, _sep, body = text.partition("\n")
        row.subject = subject.strip()[:400]
        row.body_text = body.strip() + "\n"
        row.body_html = _render(kind, language, "html", context)
    row.language = language


def _render(kind: str, language: str, suffix: str, context: dict) -> str:
    try:
        return render_to_string(f"servicedesk/mail/{kind}.{language}.{suffix}", context)
    except TemplateDoesNotExist:
        return render_to_string(f"servicedesk/mail/{kind}.en.{suffix}", context)


def _requester_name(ticket: Ticket) -> str:
    if ticket.requester_id:
        return ticket.requester.name
    if ticket.requester_user_id:
        return str(ticket.requester_user.get_full_name() or ticket.requester_user.username)
    return ""


def _wake(row_id: int) -> None:
    from opsdesk.servicedesk.mail import tasks

    tasks.send_outgoing.delay([row_id])


def wake(ids: list[int]) -> None:
    """A sender for rows written (and committed) earlier, 50 to a task."""
    from opsdesk.servicedesk.mail import tasks

    for start in range(0, len(ids), 50):
        tasks.send_outgoing.delay(ids[start:start + 50])


# --- sending ---------------------------------------------------------------------------------------

def _takeable(now: dt.datetime) -> Q:
    return Q(state=PENDING, due_at__lte=now) | Q(state=SENDING, lease_until__lte=now)


def build(row: OutgoingMail) -> EmailMessage:
    channel = row.channel
    # Lines up to RFC 5322's hard limit: a Message-ID folded onto a second line is legal, but
    # some clients copy the fold into their In-Reply-To, and the reply would not thread.
    mail = EmailMessage(policy=SENDING_POLICY)
    mail["Subject"] = row.subject
    mail["From"] = formataddr((channel.from_name, channel.from_address))
    name = _requester_name(row.ticket)
    mail["To"] = formataddr((name, row.to_address)) if name else row.to_address
    mail["Date"] = format_datetime(row.created_at)
    mail["Message-ID"] = f"<{row.message_id}>"
    if row.in_reply_to:
        mail["In-Reply-To"] = f"<{row.in_reply_to}>"
    if row.references:
        mail["References"] = row.references
    mail["X-Loop"] = channel.from_address
    if row.automatic:
        mail["Auto-Submitted"] = "auto-replied" if row.kind == OutgoingKind.ACKNOWLEDGEMENT else "auto-generated"
        mail["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office answer to it
    mail.set_content(row.body_text, subtype="plain", charset="utf-8")
    mail.add_alternative(row.body_html, subtype="html", charset="utf-8")
    if row.entry_id:
        for attachment in row.entry.attachments.all():
            try:
                data = attachment.file.read()
            except OSError:
                continue
            maintype, _slash, subtype = (attachment.content_type or "application/octet-stream").partition("/")
            mail.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.name)
    # Last: set_content and add_attachment drop or move the Content-* headers.
    mail["Content-Language"] = "zh-Hans" if row.language == "zh-hans" else "en"
    return mail


def send(ids: list[int]) -> int:
    """Send these rows (if still due); returns how many were sent."""
    return sum(deliver(pk) for pk in ids)


def deliver(row_id: int) -> bool:
    now = timezone.now()
    lease_until = now + LEASE
    claimed = (OutgoingMail.objects.filter(pk=row_id).filter(_takeable(now))
               .update(state=SENDING, lease_until=lease_until, attempts=F("attempts") + 1))
    if not claimed:
        return False  # sent, being sent, or not due yet
    row = OutgoingMail.objects.select_related("channel", "ticket", "entry").get(pk=row_id)
    mine = OutgoingMail.objects.filter(pk=row_id, state=SENDING, lease_until=lease_until)
    channel = row.channel
    try:
        if channel is None or not channel.enabled or not channel.smtp_host:
            raise smtplib.SMTPException("the mail channel is gone, disabled or cannot send")
        message = build(row)
        with connections.smtp(channel) as conn:
            conn.send_message(message, from_addr=channel.from_address, to_addrs=[row.to_address])
    except Exception as exc:
        error = connections.scrub(f"{type(exc).__name__}: {exc}", channel)[:2000] if channel else str(exc)[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            mine.update(state=FAILED, lease_until=None, last_error=error)
        else:
            due = timezone.now() + dt.timedelta(seconds=BACKOFF[row.attempts - 1])
            mine.update(state=PENDING, due_at=due, lease_until=None, last_error=error)
        log.warning("mail %s to ticket %s's requester not sent: %s", row.pk, row.ticket_id, error)
        return False
    mine.update(state=SENT, sent_at=timezone.now(), lease_until=None, last_error="")
    return True


def due_ids(now: dt.datetime | None = None) -> list[int]:
    return list(OutgoingMail.objects.filter(_takeable(now or timezone.now())).order_by("pk")
                .values_list("pk", flat=True)[:1000])


def sweep() -> int:
    """Wake a sender for each row that is due or whose sender's lease ran out."""
    ids = due_ids()
    wake(ids)
    return len(ids)
