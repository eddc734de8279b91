"""The notification texts of an alert, in every language notify may need, from sandboxed Jinja2
templates (message_templates/<language>/<name>.j2: the title, a line "---", then Markdown), and the
signed link that acknowledges an alert without logging in."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import translation
from django.utils.translation import pgettext
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from opsdesk.monitoring.models import Alert, Operator, Severity

LANGUAGES = ("zh-hans", "en")
TEMPLATES = Path(__file__).resolve().parent.parent / "message_templates"
LINK_SALT = "opsdesk.monitoring.alert-link"
LINK_MAX_AGE = 24 * 3600  # seconds a link in a notification works without logging in


@functools.cache
def environment() -> SandboxedEnvironment:
    # Sandboxed: the templates are the kind of thing an administrator edits, and must not reach
    # Python's internals. StrictUndefined: a misspelt variable is an error, not an empty string.
    return SandboxedEnvironment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                                autoescape=False, keep_trailing_newline=False, trim_blocks=True)


def render(language: str, name: str, context: dict[str, Any]) -> tuple[str, str]:
    """(title, Markdown text) of message_templates/<language>/<name>.j2."""
    text = environment().get_template(f"{language}/{name}.j2").render(**context)
    title, _sep, body = text.partition("\n---\n")
    return title.strip(), body.strip()


def duration(seconds: float, language: str) -> str:
    seconds = int(seconds)
    zh = language == "zh-hans"
    if seconds < 60:
        return f"{seconds} 秒" if zh else f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} 分钟" if zh else f"{seconds // 60} min"
    hours, minutes = divmod(seconds // 60, 60)
    if hours < 48:
        return (f"{hours} 小时 {minutes} 分钟" if zh else f"{hours} h {minutes} min") if minutes else \
            (f"{hours} 小时" if zh else f"{hours} h")
    return f"{hours // 24} 天" if zh else f"{hours // 24} d"


def _local(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(zoneinfo.ZoneInfo(settings.OPSDESK_TIME_ZONE)).strftime("%Y-%m-%d %H:%M:%S")


def alert_url(alert: Alert) -> str:
    return settings.BASE_URL + reverse("monitoring:alert_detail", args=[alert.pk])


def signed_link(alert: Alert) -> str:
    """A link that acknowledges or resolves the alert without logging in, for LINK_MAX_AGE."""
    token = signing.dumps({"a": alert.pk}, salt=LINK_SALT, compress=True)
    return settings.BASE_URL + reverse("monitoring:alert_link", args=[token])


def read_link(token: str) -> int:
    """The alert id of a signed link; raises signing.BadSignature (or SignatureExpired)."""
    return int(signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)["a"])


def _context(alert: Alert, language: str) -> dict[str, Any]:
    rule = alert.rule if alert.rule_id else None
    with translation.override(language):
        severity = str(Severity(alert.severity).label)
        # As the alert's page writes them: in the rule metric's unit, in this language.
        value, threshold = alert.get_value_display(), alert.get_threshold_display()
    operator = Operator(rule.operator).label if rule is not None and rule.threshold is not None else ""
    return {
        "customer": alert.customer.name, "item": alert.configuration_item.name if alert.configuration_item_id else "",
        "title": alert.title, "description": alert.description, "severity": severity,
        "started": _local(alert.started_at), "resolved": _local(alert.resolved_at),
        "resolved_by": str(alert.resolved_by) if alert.resolved_by_id else "",
        "lasted": duration(((alert.resolved_at or alert.last_seen_at) - alert.started_at).total_seconds(), language),
        "value": value, "threshold": threshold, "operator": operator,
        "duration": duration(rule.for_seconds, language) if rule is not None and rule.for_seconds else "",
        "runbook_url": alert.runbook_url, "runbook": rule.runbook if rule is not None else "",
        "alert_url": alert_url(alert), "labels": dict(alert.labels or {}),
    }


def _message(alert: Alert, name: str, url: str) -> dict[str, dict[str, Any]]:
    messages = {}
    for language in LANGUAGES:
        title, text = render(language, name, _context(alert, language))
        with translation.override(language):
            # Named fields for channels that fill a vendor template (SMS, voice) rather than show text.
            fields = {pgettext("notification field", "Customer"): alert.customer.name}
            if alert.configuration_item_id:
                fields[pgettext("notification field", "CI")] = alert.configuration_item.name
        messages[language] = {"title": title, "text": text, "severity": alert.severity, "url": url,
                              "fields": fields}
    return messages


def firing(alert: Alert) -> dict[str, dict[str, Any]]:
    """{language: {title, text, severity, url}}: the url acknowledges (signed, no login)."""
    return _message(alert, "firing", signed_link(alert))


def resolved(alert: Alert) -> dict[str, dict[str, Any]]:
    return _message(alert, "resolved", alert_url(alert))
