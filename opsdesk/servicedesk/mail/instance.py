"""This opsdesk's own Message-IDs: `<ticket-N.entry-M.RANDOM@INSTANCE.opsdesk>` (GLPI's idea). The
instance id is made once and kept in the database, so every process of one opsdesk writes and
recognises the same ids, and another opsdesk's (with its own instance id) never match ours."""

from __future__ import annotations

import functools
import re
import secrets
import uuid

from django.db import IntegrityError, transaction

from opsdesk.servicedesk.models import MailInstance

DOMAIN_SUFFIX = "opsdesk"
OUR_ID = re.compile(r"^ticket-(?P<ticket>\d{1,18})\.(?P<rest>[\w.-]{1,100})@(?P<instance>[0-9a-f]{32})\.opsdesk$")


@functools.cache
def _cached() -> str:
    return _load_or_make()


def _load_or_make() -> str:
    found = MailInstance.objects.order_by("pk").values_list("instance_id", flat=True).first()
    if found:
        return found
    try:
        with transaction.atomic():
            return MailInstance.objects.create(instance_id=uuid.uuid4().hex).instance_id
    except IntegrityError:  # another process made it first
        return MailInstance.objects.order_by("pk").values_list("instance_id", flat=True).first()


def instance_id() -> str:
    """The id (32 hex digits), made by the migration that made the table; cached per process."""
    return _cached()


def new_message_id(ticket_id: int, part: str) -> str:
    """A Message-ID of ours (without angle brackets), such as ticket-12.entry-40.k3j…@<id>.opsdesk."""
    return f"ticket-{ticket_id}.{part}.{secrets.token_hex(6)}@{instance_id()}.{DOMAIN_SUFFIX}"


def ticket_of(message_id: str) -> int | None:
    """The ticket number in a Message-ID this opsdesk wrote; None for anyone else's ids
    (another opsdesk's included: its instance id differs)."""
    found = OUR_ID.match(message_id or "")
    if found is None or found.group("instance") != instance_id():
        return None
    return int(found.group("ticket"))
