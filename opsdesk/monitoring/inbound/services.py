"""The domain functions of inbound integrations: make one (its token shown once), change it,
give it a new token, authenticate a sender, and receive what it sends (one transaction a request:
a malformed body stores nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from opsdesk.core.actions import domain_action
from opsdesk.core.models import User
from opsdesk.core.models.tokens import hash_token, new_raw_token
from opsdesk.core.services import create_object, update_object
from opsdesk.monitoring import inbound
from opsdesk.monitoring.alerting import lifecycle
from opsdesk.monitoring.models import InboundIntegration, IntegrationKind

MAX_TOKEN = 200


# --- what people do ------------------------------------------------------------------------------

def validate(integration: InboundIntegration) -> None:
    """The rules a form cannot see: the item is the customer's, a heartbeat has a period, a
    webhook's mapping is complete and well-formed (each of its fields named)."""
    errors: dict[str, list[str]] = {}
    item = integration.configuration_item
    if item is not None and item.customer_id != integration.customer_id:
        errors["configuration_item"] = [str(_("The item must belong to the integration's customer."))]
    if integration.kind == IntegrationKind.HEARTBEAT and not integration.period_seconds:
        errors["period_seconds"] = [str(_("A heartbeat needs the period at which it is pinged."))]
    if integration.kind == IntegrationKind.WEBHOOK:
        problems = inbound.get(IntegrationKind.WEBHOOK).check_mapping(integration.mapping)
        if problems:
            errors["mapping"] = [f"{field}: {message}" for field, message in sorted(problems.items())]
    if errors:
        raise ValidationError(errors)


def _with_token(raw: str):
    def prepare(integration: InboundIntegration) -> None:
        integration.key_hash = hash_token(raw)
        validate(integration)
    return prepare


def create_integration(data: dict[str, Any], *, actor: User | None) -> InboundIntegration:
    """A new integration with its token; the raw token is on the answer as `raw_token`, to be
    shown once (it is stored only hashed)."""
    raw = new_raw_token()
    integration = create_object(InboundIntegration, data, actor=actor, prepare=_with_token(raw))
    integration.raw_token = raw
    return integration


def update_integration(integration: InboundIntegration, data: dict[str, Any], *,
                       actor: User | None) -> InboundIntegration:
    return update_object(integration, data, actor=actor, prepare=validate)


def new_token(integration: InboundIntegration, *, actor: User | None) -> InboundIntegration:
    """Replace the token (a leaked one stops working at once); the new raw token is on the
    answer as `raw_token`, shown once."""
    raw = new_raw_token()
    with domain_action(actor, "new_token", integration) as action:
        integration.key_hash = hash_token(raw)
        integration.save(update_fields=["key_hash", "updated_at"])
        action.audit(integration, {"token": ["…", "…"]})
    integration.raw_token = raw
    return integration


# --- senders ------------------------------------------------------------------------------------

def authenticate(*raws: str | None) -> InboundIntegration | None:
    """The integration of the first of the given raw tokens that is one (header, then query)."""
    for raw in raws:
        if raw and len(raw) <= MAX_TOKEN:
            integration = InboundIntegration.objects.filter(key_hash=hash_token(raw)).first()
            if integration is not None:
                return integration
    return None


@dataclass
class Received:
    firing: int
    resolved: int
    ignored: int
    fired_now: int

    def as_dict(self) -> dict[str, int]:
        return {"firing": self.firing, "resolved": self.resolved, "ignored": self.ignored, "fired": self.fired_now}


def receive(integration: InboundIntegration, request: inbound.Inbound) -> Received:
    """Take one request of the integration's sender. Raises inbound.Invalid (nothing written)
    for a malformed one; everything else is written in one transaction."""
    parsed = inbound.get(integration.kind).parse(integration, request)
    with transaction.atomic():
        if parsed.pinged_at is not None:
            # A queryset update: a heartbeat pinged every minute would fill the audit log.
            InboundIntegration.objects.filter(pk=integration.pk).update(last_ping_at=parsed.pinged_at)
            integration.last_ping_at = parsed.pinged_at
        if parsed.started_at is not None:
            InboundIntegration.objects.filter(pk=integration.pk).update(last_start_at=parsed.started_at)
            integration.last_start_at = parsed.started_at
        fired = lifecycle.apply(parsed.candidates, parsed.recoveries)
    return Received(firing=len(parsed.candidates), resolved=len(parsed.recoveries), ignored=parsed.ignored,
                    fired_now=len(fired))
