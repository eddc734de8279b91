"""Channels' domain functions: create and change a channel (its settings checked against the
channel type's JSON Schema, its secrets split off and encrypted), send a test message, and a
person's own contact methods.

Secrets (ChannelType.secrets: robot tokens, signing secrets, passwords) are never stored in
`Channel.config`: they go, as one JSON object, into `secrets_encrypted` and are never shown again.
On a change, an empty secret keeps the stored one.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from opsdesk.core import crypto
from opsdesk.core.actions import domain_action, permission_denied
from opsdesk.core.models import User
from opsdesk.core.permissions import ADMINS
from opsdesk.core.services import create_object, delete_object, update_object
from opsdesk.notify import channels, services
from opsdesk.notify.models import Channel, ContactMethod, Notification


def channel_type(kind: str) -> channels.ChannelType:
    try:
        return channels.get(kind)
    except KeyError:
        raise ValidationError({"kind": _("Unknown channel type “%(kind)s”.") % {"kind": kind}}) from None


def stored_secrets(channel: Channel) -> dict[str, str]:
    """For the sender and for keeping secrets on a change; never for a page or an API answer."""
    if not channel.secrets_encrypted:
        return {}
    return json.loads(crypto.decrypt(channel.secrets_encrypted))


def config_errors(kind: str, config: Any) -> list[str]:
    """What is wrong with a channel's full settings (secrets included), one line per field, in
    the person's language."""
    from django.utils.translation import gettext
    from jsonschema import Draft202012Validator

    if not isinstance(config, dict):
        return [_("The settings must be a JSON object.")]
    schema = channel_type(kind).config_schema
    properties = schema.get("properties", {})

    def label(name: str) -> str:
        title = properties.get(name, {}).get("title")
        return f"{gettext(title)} ({name})" if title else name

    errors = []
    for error in sorted(Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
                        .iter_errors(config), key=lambda e: list(e.path)):
        if error.validator == "required":
            missing = [n for n in error.validator_value if n not in error.instance]
            errors.extend(_("%(field)s: this field is required.") % {"field": label(n)} for n in missing)
        elif error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(properties))
            errors.extend(_("%(field)s: not a setting of this channel type.") % {"field": n} for n in unknown)
        elif error.validator == "format":
            errors.append(_("%(field)s: not a valid %(format)s.") % {
                "field": label(str(error.path[0]) if error.path else "?"), "format": error.validator_value})
        elif error.validator == "type":
            errors.append(_("%(field)s: must be of type %(type)s.") % {
                "field": label(str(error.path[0]) if error.path else "?"), "type": error.validator_value})
        else:
            errors.append(_("%(field)s: %(problem)s") % {
                "field": label(str(error.path[0]) if error.path else "?"), "problem": error.message})
    return errors


def _setter(kind_secrets: dict[str, Any], *, keep: dict[str, str]):
    """Validate the channel's settings with its secrets and store the secrets encrypted."""
    def prepare(channel: Channel) -> None:
        kind = channel_type(channel.kind)
        config = dict(channel.config or {}) if isinstance(channel.config, dict) else channel.config
        if isinstance(config, dict):
            # A secret typed into the settings goes where secrets go.
            given = {name: config.pop(name) for name in list(config) if name in kind.secrets}
        else:
            given = {}
        given.update({name: value for name, value in kind_secrets.items() if value not in (None, "")})
        unknown = sorted(set(given) - set(kind.secrets))
        if unknown:
            raise ValidationError({"secrets": _("Not a secret of this channel type: %(names)s.")
                                   % {"names": ", ".join(unknown)}})
        secrets = {name: value for name, value in keep.items() if name in kind.secrets}
        secrets.update({name: str(value) for name, value in given.items()})
        errors = config_errors(channel.kind, {**config, **secrets} if isinstance(config, dict) else config)
        if errors:
            raise ValidationError({"config": errors})
        channel.config = config
        channel.secrets_encrypted = crypto.encrypt(json.dumps(secrets)) if secrets else ""
        channel.limit_key = kind.destination({**config, **secrets})[:64] if kind.limits else ""
    return prepare


def create_channel(data: dict[str, Any], *, actor: User | None) -> Channel:
    data = dict(data)
    secrets = data.pop("secrets", None) or {}
    if data.get("kind"):
        channel_type(data["kind"])
    return create_object(Channel, data, actor=actor, prepare=_setter(secrets, keep={}))


def update_channel(channel: Channel, data: dict[str, Any], *, actor: User | None) -> Channel:
    data = dict(data)
    secrets = data.pop("secrets", None) or {}
    # A changed type keeps only the secrets the new type has (the setter filters them).
    keep = stored_secrets(channel)
    return update_object(channel, data, actor=actor, prepare=_setter(secrets, keep=keep))


def send_test(channel: Channel, *, actor: User | None, address: str = "") -> Notification:
    """Queue a test message to the channel (to `address` for email, SMS and voice: default the
    actor's own email or phone); the delivery log shows how it went."""
    if not channel.enabled:
        raise ValidationError({"enabled": _("The channel is disabled: enable it to send a test message.")})
    if not address and actor is not None and channel_type(channel.kind).name in ("email",):
        address = actor.email
    with domain_action(actor, "send_test", channel) as action:
        language = getattr(actor, "language", "") or settings.LANGUAGE_CODE
        from django.utils import translation

        with translation.override(language):
            message = {"title": _("Test message from opsdesk"),
                       "text": _("If you read this, the channel “%(name)s” works.") % {"name": channel.name},
                       "severity": "info"}
        notification = services.queue(channel, message, key=f"test:{channel.pk}:{uuid.uuid4().hex}",
                                      source="notify.test", customer=channel.customer, address=address,
                                      recipient=actor if actor is not None and actor.pk else None,
                                      language=language)
        action.audit(channel, {"test_message": ["", address or channel.name]})
    assert notification is not None  # a fresh key
    return notification


# --- contact methods: a person manages their own, administrators everyone's ------------------------

def _own(method: ContactMethod, actor: User | None) -> None:
    if actor is not None and actor.role not in ADMINS and method.user_id != actor.pk:
        raise permission_denied()


def create_contact_method(data: dict[str, Any], *, actor: User | None) -> ContactMethod:
    data = dict(data)
    if actor is not None and actor.role not in ADMINS:
        data["user"] = actor
    return create_object(ContactMethod, data, actor=actor, prepare=lambda m: _own(m, actor))


def update_contact_method(method: ContactMethod, data: dict[str, Any], *, actor: User | None) -> ContactMethod:
    _own(method, actor)
    data = dict(data)
    if actor is not None and actor.role not in ADMINS:
        data.pop("user", None)
    return update_object(method, data, actor=actor, prepare=lambda m: _own(m, actor))


def delete_contact_method(method: ContactMethod, *, actor: User | None) -> None:
    _own(method, actor)
    delete_object(method, actor=actor)

