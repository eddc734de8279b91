"""A Zabbix media type of type Webhook: the script in docs/alerting.md posts the event's macros
as JSON. One Zabbix problem is one alert: it is fingerprinted by the problem's event id, which
Zabbix also puts in {EVENT.ID} of the recovery message, so the recovery resolves it.

A macro Zabbix could not resolve stays in the text as written (`{EVENT.RECOVERY.DATE}` in a
problem message): such values are taken as empty."""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from opsdesk.monitoring.alerting.lifecycle import Candidate, Recovery, fingerprint
from opsdesk.monitoring.inbound.base import Inbound, ItemMatcher, Parsed, Source, invalid, labels_of, text
from opsdesk.monitoring.models import AlertSource, InboundIntegration, Severity

# Zabbix's six levels, by name ({EVENT.SEVERITY}, English UI) or number ({EVENT.NSEVERITY}).
ZABBIX_SEVERITY: dict[str, str | None] = {
    "disaster": Severity.CRITICAL, "5": Severity.CRITICAL,
    "high": Severity.MAJOR, "4": Severity.MAJOR,
    "average": Severity.MINOR, "3": Severity.MINOR,
    "warning": Severity.MINOR, "2": Severity.MINOR,
    "information": Severity.INFO, "1": Severity.INFO,
    "not classified": None, "0": None,  # the integration's default
}
UNRESOLVED = re.compile(r"^\{[A-Z0-9_.:$#]+\}$")


def _value(body: dict[str, Any], key: str, *, required: bool = False, limit: int = 10_000) -> str:
    raw = body.get(key)
    value = text(raw, key, required=required, limit=limit).strip()
    if UNRESOLVED.match(value):
        if required:
            raise invalid(key, _("This field is required (the macro was not resolved)."))
        return ""
    return value


def _tags(raw: Any) -> dict[str, str]:
    """{EVENT.TAGSJSON} (a list of {"tag", "value"}, as a JSON string or decoded), an object, or
    {EVENT.TAGS} ("scope:perf, env:prod")."""
    if isinstance(raw, str):
        raw = raw.strip()
        if UNRESOLVED.match(raw) or not raw:
            return {}
        if raw.startswith("["):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise invalid("event_tags", _("Tags must be Zabbix's {EVENT.TAGSJSON} or {EVENT.TAGS}.")) from None
        else:
            pairs = (part.split(":", 1) for part in raw.split(",") if part.strip())
            return labels_of({p[0].strip(): (p[1].strip() if len(p) > 1 else "") for p in pairs}, "event_tags")
    if isinstance(raw, list):
        tags: dict[str, Any] = {}
        for index, tag in enumerate(raw):
            if not isinstance(tag, dict) or not isinstance(tag.get("tag"), str):
                raise invalid(f"event_tags.{index}", _("A tag must be an object with \"tag\" and \"value\"."))
            tags[tag["tag"]] = tag.get("value", "")
        return labels_of(tags, "event_tags")
    return labels_of(raw, "event_tags")


def _when(body: dict[str, Any], prefix: str, now: dt.datetime) -> dt.datetime | None:
    """Zabbix writes dates as 2026.03.01 and times as 14:05:09, in the Zabbix server's time zone:
    `event_timezone` if the script sends it, else OPSDESK_TIME_ZONE."""
    day, time = _value(body, f"{prefix}_date", limit=20), _value(body, f"{prefix}_time", limit=20)
    if not day or not time:
        return None
    try:
        zone = zoneinfo.ZoneInfo(_value(body, "event_timezone", limit=60) or settings.OPSDESK_TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise invalid("event_timezone", _("An IANA time zone such as Asia/Shanghai is required.")) from None
    try:
        at = dt.datetime.strptime(f"{day} {time}", "%Y.%m.%d %H:%M:%S").replace(tzinfo=zone)
    except ValueError:
        raise invalid(f"{prefix}_date", _("Zabbix's date and time (2026.03.01 and 14:05:09) are required.")) from None
    return min(at.astimezone(dt.UTC), now)


def parse(integration: InboundIntegration, inbound: Inbound) -> Parsed:
    body = inbound.body
    if not isinstance(body, dict):
        raise invalid("body", _("A JSON object is required."))
    event_id = _value(body, "event_id", required=True, limit=40)
    value = _value(body, "event_value", required=True, limit=5)
    if value not in ("0", "1"):
        raise invalid("event_value", _("Must be 1 (problem) or 0 (recovery)."))
    fp = fingerprint(AlertSource.ZABBIX, integration.id, event_id)
    parsed = Parsed()
    if _value(body, "event_update_status", limit=5) == "1":
        # An update of the problem in Zabbix (acknowledged, commented): not a new fault.
        parsed.ignored = 1
        return parsed
    if value == "0":
        ended = _when(body, "recovery", inbound.now) or _when(body, "event", inbound.now)
        parsed.recoveries.append(Recovery(fingerprint=fp, at=ended or inbound.now, text=_("Resolved in Zabbix")))
        return parsed
    host, host_name, host_ip = (_value(body, key, limit=200) for key in ("host", "host_name", "host_ip"))
    title = _value(body, "trigger_name", limit=300) or _value(body, "event_name", limit=300)
    if not title:
        raise invalid("trigger_name", _("This field is required."))
    word = _value(body, "event_severity", limit=40).lower() or _value(body, "event_nseverity", limit=2)
    severity = ZABBIX_SEVERITY.get(word) or integration.severity
    labels = _tags(body.get("event_tags"))
    labels.update({k: v for k, v in (("host", host), ("trigger_id", _value(body, "trigger_id", limit=40)),
                                     ("event_id", event_id)) if v})
    description = "\n\n".join(part for part in (_value(body, "trigger_description"), _value(body, "event_opdata"),
                                                 _value(body, "event_url", limit=500)) if part)
    parsed.candidates.append(Candidate(
        fingerprint=fp, customer_id=integration.customer_id, source=AlertSource.ZABBIX,
        title=f"{host_name or host}: {title}" if (host_name or host) and (host_name or host) not in title else title,
        severity=severity, at=inbound.now, started_at=_when(body, "event", inbound.now), labels=labels,
        description=description, integration_id=integration.id,
        item_id=ItemMatcher(integration).item_for(host, host_name, host_ip)))
    return parsed


SOURCE = Source(name="zabbix", parse=parse)
