"""Where a message to a group goes, decided when it is written (in the cause's transaction):

1. Feishu: the reply API, answering the message (any message of the group can be answered).
2. DingTalk and WeCom: the reply URL of the message answered (or of the group's latest message)
   while it is valid: DingTalk's session webhook until it expires, WeCom's response_url once
   within its hour.
3. Otherwise the group's own robot, a notify channel (kind dingtalk / wecom) set on the group:
   notify.services.queue, so notify's delivery (rate limits, retries, the delivery log) sends it.
4. Otherwise nowhere: the row is written FAILED with the reason, for staff to see on the group
   ("set a group robot").

Rows of 1 and 2 are ChatOutbox rows sent after the commit (opsdesk.servicedesk.chat.outbox)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from opsdesk.notify import services as notify
from opsdesk.servicedesk import chat
from opsdesk.servicedesk.models import Ticket
from opsdesk.servicedesk.models.chat import ChatGroup, ChatMessage, ChatOutbox, OutboxState

# A reply URL this close to its end is not used (the request might arrive after it).
MARGIN = dt.timedelta(seconds=60)


def deliver(group: ChatGroup, title: str, body: str = "", *, key: str, answering: ChatMessage | None = None,
            ticket: Ticket | None = None) -> ChatOutbox | None:
    """Write the message (its first line `title`, then `body`) to the group, once per `key`;
    None when notify's channel takes it or the key was used already."""
    text = f"{title}\n{body}" if body else title
    vendor = chat.get(group.integration.kind)
    now = timezone.now()
    latest = answering or _latest(group, ticket)
    if latest is None:
        return _row(group, None, ticket, text, key, error=_("The group has sent no message to answer."))
    if vendor.replies_by_message_id:
        return _row(group, latest, ticket, text, key)
    usable = _usable(latest, now, single_use=vendor.reply_url_single_use)
    if usable:
        if vendor.reply_url_single_use:
            ChatMessage.objects.filter(pk=latest.pk).update(reply_url_used=True)
        return _row(group, latest, ticket, text, key)
    channel = group.notify_channel
    if channel is not None and channel.enabled:
        notify.queue(channel, {"title": title, "text": body}, key=key,
                     source=f"servicedesk.chatgroup:{group.pk}", customer=group.customer, language=group.language)
        return None
    return _row(group, latest, ticket, text, key,
                error=_("The bot can no longer post into this group, and the group has no group robot: set one on "
                        "the group."))


def _latest(group: ChatGroup, ticket: Ticket | None) -> ChatMessage | None:
    messages = ChatMessage.objects.filter(group=group).exclude(state="ignored").order_by("-received_at", "-pk")
    if ticket is not None:
        mine = messages.filter(ticket=ticket).first()
        if mine is not None:
            return mine
    return messages.first()


def _usable(message: ChatMessage, now: dt.datetime, *, single_use: bool) -> bool:
    if not message.reply_url_encrypted or (single_use and message.reply_url_used):
        return False
    return message.reply_url_expires_at is None or message.reply_url_expires_at - MARGIN > now


def _row(group: ChatGroup, message: ChatMessage | None, ticket: Ticket | None, text: str, key: str,
         error: str = "") -> ChatOutbox | None:
    if message is None:
        # Nothing to answer and nowhere to post: nothing can be written (a row needs its message).
        return None
    row = ChatOutbox(key=key[:120], group=group, message=message, ticket=ticket, text=text,
                     state=OutboxState.FAILED if error else OutboxState.PENDING, last_error=error[:500])
    try:
        with transaction.atomic():  # a savepoint: a used key leaves the caller's transaction intact
            row.save()
    except IntegrityError:
        if ChatOutbox.objects.filter(key=row.key).exists():
            return None
        raise
    if not error:
        from opsdesk.servicedesk.chat import outbox

        transaction.on_commit(lambda: outbox.wake([row.pk]))
    return row
