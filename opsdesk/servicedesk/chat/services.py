"""The chat integrations' domain functions: create and change one (its settings checked for its
vendor, its secrets split off and encrypted, never shown again), give it a new callback URL, and
assign a group to its customer (which opens the ticket its waiting messages asked for)."""

from __future__ import annotations

import json
import secrets as random
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from opsdesk.core import crypto
from opsdesk.core.actions import domain_action
from opsdesk.core.models import Customer, User
from opsdesk.core.scoping import object_in_scope
from opsdesk.core.services import create_object, update_object
from opsdesk.servicedesk import chat
from opsdesk.servicedesk.models.chat import ChatGroup, ChatIntegration, ChatMessage, MessageState


def stored_secrets(integration: ChatIntegration) -> dict[str, str]:
    """For the intake and the sender; never for a page or an API answer."""
    if not integration.secrets_encrypted:
        return {}
    return json.loads(crypto.decrypt(integration.secrets_encrypted))


def settings_of(integration: ChatIntegration) -> dict[str, str]:
    """The vendor's defaults, the integration's settings and its secrets, in memory only."""
    vendor = chat.get(integration.kind)
    config = integration.config if isinstance(integration.config, dict) else {}
    merged = {**vendor.settings, **{k: str(v) for k, v in config.items() if k in vendor.settings}}
    merged.update(stored_secrets(integration))
    return merged


def _setter(given: dict[str, Any], *, keep: dict[str, str]):
    def prepare(integration: ChatIntegration) -> None:
        try:
            vendor = chat.get(integration.kind)
        except KeyError:
            raise ValidationError({"kind": _("Choose a chat type.")}) from None
        config = dict(integration.config) if isinstance(integration.config, dict) else None
        if config is None:
            raise ValidationError({"config": _("The settings must be a JSON object.")})
        errors: dict[str, list[str]] = {}
        unknown = sorted(set(config) - set(vendor.settings))
        if unknown:
            errors["config"] = [_("Not a setting of this chat type: %(names)s. Its settings are: %(known)s.")
                                % {"names": ", ".join(unknown), "known": ", ".join(sorted(vendor.settings))}]
        wrong = sorted(set(given) - set(vendor.secrets))
        if wrong:
            errors["secrets"] = [_("Not a secret of this chat type: %(names)s.") % {"names": ", ".join(wrong)}]
        values = {name: value for name, value in keep.items() if name in vendor.secrets}
        values.update({name: str(value) for name, value in given.items() if value not in (None, "")})
        missing = [name for name in vendor.required if not values.get(name)]
        for name in missing:
            errors[name] = [_("This field is required.")]
        if not errors:
            merged = {**vendor.settings, **{k: str(v) for k, v in config.items()}, **values}
            for name, hint in vendor.check(merged).items():
                errors[name] = [_("This value is not valid (expected: %(hint)s).") % {"hint": hint}]
        if errors:
            raise ValidationError(errors)
        integration.config = {k: str(v) for k, v in config.items()}
        integration.secrets_encrypted = crypto.encrypt(json.dumps(values)) if values else ""
        if not integration.url_token:
            integration.url_token = random.token_urlsafe(24)
    return prepare


def _split(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    data = dict(data)
    given = dict(data.pop("secrets", None) or {})
    return data, given


def create_integration(data: dict[str, Any], *, actor: User | None) -> ChatIntegration:
    data, given = _split(data)
    return create_object(ChatIntegration, data, actor=actor, prepare=_setter(given, keep={}))


def update_integration(integration: ChatIntegration, data: dict[str, Any], *, actor: User | None) -> ChatIntegration:
    data, given = _split(data)
    keep = stored_secrets(integration) if data.get("kind", integration.kind) == integration.kind else {}
    return update_object(integration, data, actor=actor, prepare=_setter(given, keep=keep))


def new_token(integration: ChatIntegration, *, actor: User | None) -> ChatIntegration:
    """A new callback URL: the old one answers 404 at once (the vendor's console needs the new one)."""
    with domain_action(actor, "new_token", integration) as action:
        integration.url_token = random.token_urlsafe(24)
        integration.save(update_fields=["url_token", "updated_at"])
        # The URL is a secret of sorts: the log says that it changed, not what it is.
        action.audit(integration, {"url_token": ["•••", "•••"]})
    return integration


def assign_customer(group: ChatGroup, *, actor: User | None, customer: Customer) -> ChatGroup:
    """The group is the customer's: its waiting messages become a ticket (the first opens it,
    the others are added), and what it says from now on goes to that customer's tickets. A group
    moved to another customer leaves its ticket behind (it belongs to the former customer)."""
    from opsdesk.servicedesk.chat import intake

    if customer is None:
        raise ValidationError({"customer": _("This field is required.")})
    if actor is not None and not object_in_scope(actor, customer):
        raise ValidationError({"customer": _("Select a valid choice. That choice is not one of the available "
                                             "choices.")})
    with domain_action(actor, "assign_customer", group) as action:
        group = ChatGroup.objects.select_for_update().get(pk=group.pk)
        before = group.customer_id
        if group.customer_id != customer.pk:
            group.customer = customer
            group.open_ticket = None
            group.full_clean()
            group.save(update_fields=["customer", "open_ticket", "updated_at"])
        action.audit(group, {"customer": [before, customer.pk]})
        held = list(ChatMessage.objects.filter(group=group, state=MessageState.HELD).order_by("received_at", "pk"))
        for message in held:
            intake.ticket_message(group, message, last=message is held[-1])
    return group
