"""Which ticket a mail answers: by its In-Reply-To and References (a Message-ID on a ticket's
timeline or of a mail we sent, or one of ours naming the ticket), else by a `[#N]` in the
subject. A ticket number read from a Message-ID or the subject counts only when the sender
belongs to the ticket's customer (anyone can type a number). A merged ticket hands its mail on
to the ticket it was merged into."""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsdesk.core.models import Customer
from opsdesk.servicedesk.mail import instance
from opsdesk.servicedesk.mail.parsing import ParsedMail
from opsdesk.servicedesk.models import OutgoingMail, Ticket, TicketEntry

SUBJECT_TAG = re.compile(r"\[#(\d{1,18})\]")
MAX_MERGE_HOPS = 10


@dataclass
class Thread:
    ticket: Ticket
    how: str  # "message-id" or "subject"


def follow_merges(ticket: Ticket) -> Ticket:
    for _hop in range(MAX_MERGE_HOPS):
        if not ticket.merged_into_id:
            break
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
    return ticket


def by_message_ids(ids: list[str], customer: Customer | None = None) -> Ticket | None:
    """The ticket whose timeline or sent mail carries one of `ids` (the latest), else the ticket
    named in one of our own Message-IDs, but only for a sender of that ticket's customer: the
    number is readable in any mail we sent, the random part is what only the thread knows."""
    if not ids:
        return None
    found = (TicketEntry.objects.filter(message_id__in=ids).order_by("-created_at", "-pk")
             .values_list("ticket_id", flat=True).first())
    if found is None:
        found = OutgoingMail.objects.filter(message_id__in=ids).order_by("-pk").values_list("ticket_id",
                                                                                              flat=True).first()
    if found is not None:
        return Ticket.objects.filter(pk=found).first()
    if customer is None:
        return None
    for mid in ids:
        number = instance.ticket_of(mid)
        if number is not None:
            ticket = Ticket.objects.filter(pk=number, customer=customer).first()
            if ticket is not None:
                return ticket
    return None


def find(mail: ParsedMail, customer: Customer | None) -> Thread | None:
    ticket = by_message_ids(mail.thread_ids, customer)
    if ticket is not None:
        return Thread(follow_merges(ticket), "message-id")
    if customer is not None:
        for number in SUBJECT_TAG.findall(mail.subject):
            ticket = Ticket.objects.filter(pk=int(number), customer=customer).first()
            if ticket is not None:
                return Thread(follow_merges(ticket), "subject")
    return None
