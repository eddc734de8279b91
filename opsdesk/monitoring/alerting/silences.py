"""Silences as people make and end them, and the notices of their end."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from opsdesk.core import services as core_services
from opsdesk.core.actions import domain_action
from opsdesk.core.models import User
from opsdesk.monitoring.models import Silence

OPERATORS = ("=", "!=", "=~", "!~")
REMIND_BEFORE = dt.timedelta(minutes=15)


def validate_matchers(matchers: Any) -> list[dict[str, str]]:
    if not isinstance(matchers, list) or not matchers:
        raise ValidationError({"matchers": [_("Give at least one matcher: a name, an operator and a value.")]})
    clean = []
    for index, matcher in enumerate(matchers):
        if not isinstance(matcher, dict) or not str(matcher.get("name", "")).strip():
            raise ValidationError({"matchers": [_("Matcher %(n)d needs a name.") % {"n": index + 1}]})
        op = matcher.get("op", "=")
        if op not in OPERATORS:
            raise ValidationError({"matchers": [_("Matcher %(n)d: the operator must be one of %(ops)s.")
                                                % {"n": index + 1, "ops": " ".join(OPERATORS)}]})
        value = str(matcher.get("value", ""))
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValidationError({"matchers": [_("Matcher %(n)d: not a regular expression (%(error)s).")
                                                    % {"n": index + 1, "error": exc}]}) from None
        clean.append({"name": str(matcher["name"]).strip(), "op": op, "value": value})
    return clean


def _prepare(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if "matchers" in data:
        data["matchers"] = validate_matchers(data["matchers"])
    starts, ends = data.get("starts_at"), data.get("ends_at")
    if starts and ends and ends <= starts:
        raise ValidationError({"ends_at": [_("The end must come after the start.")]})
    return data


def create_silence(data: dict[str, Any], *, actor: User | None) -> Silence:
    def author(silence: Silence) -> None:
        silence.created_by = actor if actor is not None and actor.pk else None

    return core_services.create_object(Silence, _prepare(data), actor=actor, prepare=author)


def update_silence(silence: Silence, data: dict[str, Any], *, actor: User | None) -> Silence:
    return core_services.update_object(silence, _prepare(data), actor=actor)


def expire_silence(silence: Silence, *, actor: User | None) -> Silence:
    """End it now (the held alerts that still fire are notified by the next alerting pass)."""
    with domain_action(actor, "expire", silence):
        silence.ends_at = timezone.now()
        silence.save(update_fields=["ends_at"])
    return silence


def send_notices(now: dt.datetime) -> int:
    """A reminder to its author REMIND_BEFORE a silence ends, and a notice when it has ended."""
    from opsdesk.notify import escalation

    sent = 0
    soon = Silence.objects.filter(reminded_at=None, ends_at__gt=now, ends_at__lte=now + REMIND_BEFORE,
                                  starts_at__lte=now).exclude(created_by=None).select_related("created_by")
    for silence in soon:
        escalation.tell_users([silence.created_by], message=_notice(silence, ending=True),
                              key=f"silence:{silence.pk}:reminder", source=f"monitoring.silence:{silence.pk}",
                              customer=silence.customer)
        Silence.objects.filter(pk=silence.pk).update(reminded_at=now)
        sent += 1
    ended = Silence.objects.filter(expiry_notified_at=None, ends_at__lte=now,
                                   ends_at__gt=now - dt.timedelta(days=1)).exclude(created_by=None) \
        .select_related("created_by")
    for silence in ended:
        escalation.tell_users([silence.created_by], message=_notice(silence, ending=False),
                              key=f"silence:{silence.pk}:ended", source=f"monitoring.silence:{silence.pk}",
                              customer=silence.customer)
        Silence.objects.filter(pk=silence.pk).update(expiry_notified_at=now)
        sent += 1
    return sent


def _notice(silence: Silence, *, ending: bool) -> dict[str, dict[str, str]]:
    from django.utils import translation

    from opsdesk.monitoring.alerting.messages import LANGUAGES, _local

    messages = {}
    for language in LANGUAGES:
        with translation.override(language):
            if ending:
                title = _("Silence ends soon: %(reason)s") % {"reason": silence.reason}
                text = _("The silence ends at %(end)s; alerts it holds will be notified again.") % {
                    "end": _local(silence.ends_at)}
            else:
                title = _("Silence ended: %(reason)s") % {"reason": silence.reason}
                text = _("The silence ended at %(end)s.") % {"end": _local(silence.ends_at)}
        messages[language] = {"title": title, "text": text, "severity": "info"}
    return messages
