"""From a verified chat message to the desk: exactly once per vendor message, into the group's
open ticket or a new one, acknowledged in the group.

- The group is found or made (a new group belongs to the integration's default customer, or to
  nobody: "unassigned").
- A message in an unassigned group is HELD: kept, acknowledged as received, and ticketed when
  staff assign the group to a customer (services.assign_customer). A ticket always has a
  customer, so no triage ticket is made without one.
- A message of an assigned group goes to the group's open ticket (services.reply, from the
  customer's side) or, when there is none (never one, or resolved, closed, or another
  customer's), opens one (services.open_ticket, channel "chat"); the ticket is remembered on the
  group.
- Messages that are not an @-mention in a group are IGNORED (their text is not kept).

All of it is one transaction: the message row, the ticket's entry and the acknowledgement's row
commit together, and the vendor's answer goes after the commit (the vendor is answered at once;
the acknowledgement reaches the group a moment later)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from opsdesk.core import crypto
from opsdesk.servicedesk import services
from opsdesk.servicedesk.chat import answers
from opsdesk.servicedesk.chat.base import Incoming, Refused
from opsdesk.servicedesk.models import Ticket, TicketChannel
from opsdesk.servicedesk.models.chat import ChatGroup, ChatIntegration, ChatMessage, MessageState
from opsdesk.servicedesk.models.tickets import OPEN_STATUSES

TITLE_LENGTH = 80


@dataclass(frozen=True)
class Received:
    message: ChatMessage
    duplicate: bool


def current_ticket(group: ChatGroup) -> Ticket | None:
    """The group's open ticket (through merges), if it is still open and its customer's."""
    ticket = group.open_ticket
    seen = set()
    while ticket is not None and ticket.merged_into_id and ticket.pk not in seen:
        seen.add(ticket.pk)
        ticket = ticket.merged_into
    if ticket is None or ticket.status not in OPEN_STATUSES or ticket.merged_into_id:
        return None
    # Never another customer's ticket, whatever the row says (a group moved to another customer).
    return ticket if ticket.customer_id == group.customer_id else None


def receive(integration: ChatIntegration, incoming: Incoming, *, api_base: str) -> Received:
    """Store the message once and act on it; a vendor's retry of the same message changes
    nothing. A DingTalk sign seen before on another message is a replay: Refused(401)."""
    try:
        with transaction.atomic():
            return _receive(integration, incoming, api_base=api_base)
    except IntegrityError:
        # The same message delivered twice at once: the other delivery wrote it.
        existing = ChatMessage.objects.filter(integration=integration,
                                              vendor_message_id=incoming.message_id[:200]).first()
        if existing is None:
            raise
        return Received(existing, duplicate=True)


def _receive(integration: ChatIntegration, incoming: Incoming, *, api_base: str) -> Received:
    message_id = incoming.message_id[:200]
    existing = ChatMessage.objects.filter(integration=integration, vendor_message_id=message_id).first()
    if existing is not None:
        return Received(existing, duplicate=True)
    if incoming.signature and ChatMessage.objects.filter(integration=integration,
                                                         signature=incoming.signature[:200]).exists():
        raise Refused(401, "This signature was already used for another message.")
    at = timezone.now()
    message = ChatMessage(integration=integration, vendor_message_id=message_id, sender_id=incoming.sender_id[:200],
                          sender_name=(incoming.sender_name or incoming.sender_id)[:200],
                          signature=incoming.signature[:200], received_at=at)
    reason = _ignored(incoming)
    if reason:
        # Nothing for the desk: remembered (for de-duplication and replays), the words are not kept.
        message.state, message.reason = MessageState.IGNORED, reason
        message.save()
        return Received(message, duplicate=False)
    group, made = ChatGroup.objects.select_for_update().get_or_create(
        integration=integration, conversation_id=incoming.conversation_id[:200],
        defaults={"title": incoming.conversation_title[:300], "customer": integration.customer,
                  "language": integration.language})
    if not made and incoming.conversation_title and group.title != incoming.conversation_title[:300]:
        group.title = incoming.conversation_title[:300]
        group.save(update_fields=["title", "updated_at"])
    message.group, message.text = group, incoming.text
    if incoming.reply_url and _trusted(incoming.reply_url, api_base):
        message.reply_url_encrypted = crypto.encrypt(incoming.reply_url)
        if incoming.reply_url_expires_at:
            message.reply_url_expires_at = dt.datetime.fromtimestamp(incoming.reply_url_expires_at, tz=dt.UTC)
    if group.customer_id is None:
        message.state = MessageState.HELD
        message.save()
        with translation.override(group.language):
            text = _("Received. This group is not linked to a customer yet: the service desk will open the ticket "
                     "as soon as it is.")
        answers.deliver(group, text, key=f"chat:held:{message.pk}", answering=message)
        return Received(message, duplicate=False)
    message.state = MessageState.HELD  # until ticketed, a moment later in this transaction
    message.save()
    ticket_message(group, message, last=True)
    return Received(message, duplicate=False)


def _ignored(incoming: Incoming) -> str:
    if not incoming.is_group:
        return "not a group chat"
    if not incoming.addressed:
        return "the bot was not mentioned"
    if not incoming.text:
        return f"no text ({incoming.kind or 'empty'})"
    return ""


def _trusted(url: str, api_base: str) -> bool:
    # DingTalk signs the timestamp only, not the body: a session webhook is used only when it
    # points at the vendor's own API, so a forged body cannot make opsdesk post anywhere else.
    base = api_base.rstrip("/") + "/"
    return bool(api_base) and url.startswith(base)


def _title(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= TITLE_LENGTH else first[:TITLE_LENGTH - 1] + "…"


def ticket_message(group: ChatGroup, message: ChatMessage, *, last: bool) -> None:
    """Add a message of an assigned group to its open ticket, or open one; acknowledge the last
    of a run (one message normally; the waiting ones when a group is assigned)."""
    ticket = current_ticket(group)
    author = message.sender_name or message.sender_id
    thread_id = f"chat:{group.integration.kind}:{message.vendor_message_id}"
    if ticket is not None:
        entry = services.reply(ticket, actor=None, body=message.text, via=TicketChannel.CHAT, author_name=author,
                               message_id=thread_id, from_customer=True, at=message.received_at)
        added = True
    else:
        ticket = services.open_ticket(actor=None, customer=group.customer, channel=TicketChannel.CHAT,
                                      title=_title(message.text), description=message.text, author_name=author,
                                      language=group.language, at=message.received_at, message_id=thread_id)
        entry = ticket.entries.order_by("pk").first()
        added = False
    message.state, message.ticket, message.entry = MessageState.TICKETED, ticket, entry
    message.save(update_fields=["state", "ticket", "entry"])
    if group.open_ticket_id != ticket.pk:
        group.open_ticket = ticket
        group.save(update_fields=["open_ticket", "updated_at"])
    if last:
        with translation.override(ticket.language):
            text = (_("Added to ticket #%(number)s.") if added else
                    _("Recorded as ticket #%(number)s: %(title)s")) % {"number": ticket.pk, "title": ticket.title}
        answers.deliver(group, text, key=f"chat:ack:{message.pk}", answering=message, ticket=ticket)
