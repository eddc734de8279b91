"""A generic JSON webhook: the integration's `mapping` says where in the sender's body each of
our fields is, as a JSON pointer (`/alert/title`) or a dotted path (`alert.title`, `items.0.id`).

    {"title": "/alert/title",              required
     "fingerprint": "/alert/id",           the de-duplication key: the same key is the same alert
     "status": "/state", "resolved_values": ["ok", "resolved"],
     "severity": "/level", "severity_map": {"P1": "critical"},
     "item": "/host", "description": "/alert/text", "labels": "/tags", "started_at": "/time",
     "alerts": "/events"}                  a list of alerts in one body (the paths are then per alert)

Without a fingerprint path, the key is the title and the item: one open alert per title and item."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from opsdesk.monitoring.alerting.lifecycle import Candidate, Recovery, fingerprint
from opsdesk.monitoring.inbound.base import (
    Inbound,
    ItemMatcher,
    Parsed,
    Source,
    invalid,
    labels_of,
    moment,
    severity_of,
    text,
)
from opsdesk.monitoring.models import AlertSource, InboundIntegration, Severity

PATH_KEYS = ("title", "fingerprint", "status", "severity", "item", "description", "labels", "started_at", "alerts")
DEFAULT_RESOLVED = ["resolved", "ok", "recovered", "closed"]
MAX_ALERTS = 5000
MAX_PATH = 300
_MISSING = object()


def split_path(path: str) -> list[str]:
    """A JSON pointer (RFC 6901: `~1` is `/`, `~0` is `~`) or a dotted path, as its parts."""
    if path.startswith("/"):
        return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]
    return path.split(".")


def lookup(document: Any, path: str) -> Any:
    """The value at `path`, or _MISSING."""
    value = document
    for part in split_path(path):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def check_mapping(mapping: Any) -> dict[str, str]:
    """The mapping's errors, by its field (empty when it is good)."""
    if not isinstance(mapping, dict):
        return {"mapping": _("The mapping must be a JSON object.")}
    errors: dict[str, str] = {}
    known = {*PATH_KEYS, "resolved_values", "severity_map"}
    for key in mapping:
        if key not in known:
            errors[str(key)] = _("Unknown field; the known ones are: %(known)s.") % {"known": ", ".join(sorted(known))}
    if not mapping.get("title"):
        errors["title"] = _("A path to the alert's title is required, e.g. /alert/title.")
    for key in PATH_KEYS:
        path = mapping.get(key)
        if path is None or key in errors:
            continue
        if not isinstance(path, str) or not path.strip("/.") or len(path) > MAX_PATH:
            errors[key] = _("A JSON pointer (/alert/title) or a dotted path (alert.title) is required.")
        elif not path.startswith("/") and any(not part for part in path.split(".")):
            errors[key] = _("A dotted path has no empty parts (alert..title).")
    resolved = mapping.get("resolved_values")
    if resolved is not None and (not isinstance(resolved, list) or not resolved
                                 or not all(isinstance(v, str | int | float | bool) for v in resolved)):
        errors["resolved_values"] = _("A list of the status values that mean resolved is required, e.g. "
                                      "[\"ok\", \"resolved\"].")
    if resolved is not None and "status" not in mapping and "resolved_values" not in errors:
        errors["resolved_values"] = _("Give the status path too: the values are those of the status.")
    words = mapping.get("severity_map")
    if words is not None:
        if not isinstance(words, dict) or not all(v in Severity.values for v in words.values()):
            errors["severity_map"] = _("An object mapping the sender's words to %(ours)s is required.") % {
                "ours": ", ".join(Severity.values)}
        elif "severity" not in mapping:
            errors["severity_map"] = _("Give the severity path too: the words are those of the severity.")
    return errors


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _one(integration: InboundIntegration, mapping: dict[str, Any], alert: Any, prefix: str, inbound: Inbound,
         matcher: ItemMatcher, parsed: Parsed) -> None:
    def get(key: str) -> Any:
        path = mapping.get(key)
        if not path:
            return None
        value = lookup(alert, path)
        return None if value is _MISSING else value

    def where(key: str) -> str:
        return f"{prefix}{mapping[key]}" if prefix else mapping[key]

    item_name = text(get("item"), where("item"), limit=200) if mapping.get("item") else ""
    item_id = matcher.item_for(item_name) if item_name else integration.configuration_item_id
    key = text(get("fingerprint"), where("fingerprint"), required=True, limit=500) if mapping.get("fingerprint") \
        else None
    # A resolution with its own key needs no title; without one, the title is the key.
    title = text(get("title"), where("title"), required=key is None, limit=300)
    fp = fingerprint(AlertSource.WEBHOOK, integration.id, key) if key is not None else \
        fingerprint(AlertSource.WEBHOOK, integration.id, title, item_id)
    if mapping.get("status"):
        status = get("status")
        resolved_values = {_scalar(v).lower() for v in mapping.get("resolved_values") or DEFAULT_RESOLVED}
        if status is not None and _scalar(status).lower() in resolved_values:
            parsed.recoveries.append(Recovery(fingerprint=fp, at=inbound.now, text=_("Resolved by the sender")))
            return
    if not title:
        raise invalid(where("title"), _("This field is required."))
    severity = integration.severity
    if mapping.get("severity"):
        word = get("severity")
        words = {str(k).lower(): v for k, v in (mapping.get("severity_map") or {}).items()}
        severity = words.get(_scalar(word).lower()) if word is not None else None
        severity = severity or severity_of(word, integration.severity)
    labels = labels_of(get("labels"), where("labels")) if mapping.get("labels") else {}
    parsed.candidates.append(Candidate(
        fingerprint=fp, customer_id=integration.customer_id, source=AlertSource.WEBHOOK, title=title,
        severity=severity, at=inbound.now, labels=labels, integration_id=integration.id, item_id=item_id,
        description=text(get("description"), where("description")) if mapping.get("description") else "",
        started_at=moment(get("started_at"), where("started_at"), inbound.now) if mapping.get("started_at") else None))


def parse(integration: InboundIntegration, inbound: Inbound) -> Parsed:
    mapping = integration.mapping if isinstance(integration.mapping, dict) else {}
    if check_mapping(mapping):
        # Saved before validation existed, or changed behind its back: the sender cannot fix it.
        raise invalid("mapping", _("The integration's field mapping is not valid; correct it in opsdesk."))
    body = inbound.body
    alerts: list[tuple[str, Any]] = [("", body)]
    if mapping.get("alerts"):
        listed = lookup(body, mapping["alerts"])
        if not isinstance(listed, list):
            raise invalid(mapping["alerts"], _("A list of alerts is required."))
        if len(listed) > MAX_ALERTS:
            raise invalid(mapping["alerts"], _("At most %(max)d alerts are allowed in one message.") % {
                "max": MAX_ALERTS})
        alerts = [(f"{mapping['alerts']}.{i}:", alert) for i, alert in enumerate(listed)]
    elif not isinstance(body, dict):
        raise invalid("body", _("A JSON object is required."))
    matcher = ItemMatcher(integration)
    if mapping.get("item"):
        matcher.load(str(v) for _p, a in alerts if isinstance(v := lookup(a, mapping["item"]), str | int))
    parsed = Parsed()
    for prefix, alert in alerts:
        _one(integration, mapping, alert, prefix, inbound, matcher, parsed)
    return parsed


SOURCE = Source(name="webhook", parse=parse, check_mapping=check_mapping)
