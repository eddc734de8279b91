"""Monitoring's domain functions: enrolment tokens, enrolling an agent, accepting pushed batches."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opsdesk.cmdb.models import CIKind, ConfigurationItem
from opsdesk.core import services as core_services
from opsdesk.core.actions import domain_action
from opsdesk.core.models import Customer, User
from opsdesk.core.models.tokens import hash_token, new_raw_token
from opsdesk.core.permissions import can
from opsdesk.core.scoping import object_in_scope
from opsdesk.monitoring.models import Agent, EnrolmentToken, IngestBatch

ENROLMENT_DAYS = 7


class EnrolmentRefused(PermissionDenied):
    """The enrolment token is unknown, used or expired."""


# --- enrolment -------------------------------------------------------------------------------

def create_enrolment_token(customer: Customer, *, name: str, actor: User | None,
                           days: int = ENROLMENT_DAYS) -> tuple[EnrolmentToken, str]:
    """Make a one-time enrolment token for `customer`; the raw value is returned once, never stored."""
    if not name.strip():
        raise ValidationError({"name": _("This field is required.")})
    if days < 1:
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    raw = new_raw_token()
    token = EnrolmentToken(customer=customer, name=name.strip(), key_hash=hash_token(raw),
                           expires_at=timezone.now() + dt.timedelta(days=days), created_by=actor)
    # Staff who serve the customer (the entry's view roles, within their customers).
    if actor is not None and not (can(actor, "view", token) and object_in_scope(actor, token, write=True)):
        raise PermissionDenied()
    with domain_action(actor, "add_enrolment_token", token, check=False):
        token.save()
    return token, raw


def _host_item(customer: Customer, hostname: str, attributes: dict[str, Any]) -> ConfigurationItem:
    item = ConfigurationItem.objects.filter(customer=customer, name=hostname).first()
    if item is not None:
        return item
    data = {"customer": customer, "kind": CIKind.objects.get(slug="server"), "name": hostname,
            "attributes": {"hostname": hostname, **attributes}}
    return core_services.create(ConfigurationItem, data, actor=None)


def enrol(raw_token: str, *, hostname: str, attributes: dict[str, Any] | None = None) -> tuple[Agent, str]:
    """Spend a one-time enrolment token: find or create the host's configuration item (by customer
    and host name), make its agent and return it with the agent's raw token (shown once)."""
    with transaction.atomic():
        token = (EnrolmentToken.objects.select_for_update().select_related("customer")
                 .filter(key_hash=hash_token(raw_token)).first())
        if token is None or not token.is_usable:
            raise EnrolmentRefused(_("The enrolment token is not valid, has expired or was already used."))
        item = _host_item(token.customer, hostname, attributes or {})
        raw = new_raw_token()
        agent = Agent(customer=token.customer, configuration_item=item, name=hostname, key_hash=hash_token(raw))
        with domain_action(None, "enrol", agent, check=False):
            agent.save()
            token.used_at = timezone.now()
            token.save(update_fields=["used_at"])
    return agent, raw


def authenticate_agent(raw: str) -> Agent | None:
    return Agent.objects.filter(key_hash=hash_token(raw)).first()


# --- the push ------------------------------------------------------------------------------------

def accept_batch(agent: Agent, body: dict[str, Any]) -> int:
    """Store one validated batch as one row, durable once this returns; a batch stored before
    (same agent and sequence number) is not stored again. Returns the sequence number stored."""
    seq = int(body["seq"])
    samples = body["samples"]
    payload = json.dumps({"seq": seq, "sent_at": body.get("sent_at"), "samples": samples},
                         separators=(",", ":"), ensure_ascii=False).encode()
    try:
        with transaction.atomic():
            IngestBatch.objects.create(agent=agent, seq=seq, samples=len(samples), payload=payload)
    except IntegrityError:
        # Stored before (a re-sent batch, or two pushes racing): the unique constraint decides.
        if not IngestBatch.objects.filter(agent=agent, seq=seq).exists():
            raise
    now = timezone.now()
    Agent.objects.filter(pk=agent.pk).update(last_seen_at=now)
    Agent.objects.filter(pk=agent.pk, last_seq__lt=seq).update(last_seq=seq)
    return seq
