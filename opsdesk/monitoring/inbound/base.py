"""What every inbound source shares: the parsed result, the error that names the field, and the
helpers that turn a sender's words into ours (severity, the configuration item, times).

A source's `parse(integration, inbound)` reads only: it may look up the customer's items, but
writes nothing, so a malformed body is refused before anything is stored."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils.translation import gettext as _

from opsdesk.monitoring.alerting.lifecycle import Candidate, Recovery
from opsdesk.monitoring.models import Severity

if TYPE_CHECKING:
    from opsdesk.monitoring.models import InboundIntegration

MAX_LABELS = 64
MAX_LABEL_NAME = 200
MAX_LABEL_VALUE = 1000
MAX_TEXT = 10_000


class Invalid(Exception):
    """The body is malformed: `errors` maps a field's path (`alerts.0.labels`) to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def invalid(path: str, message: str) -> Invalid:
    return Invalid({path: [message]})


@dataclass
class Inbound:
    """One request to an inbound endpoint: its decoded JSON body, when it came, and for a
    heartbeat what the ping says (`ping`, `start` or `fail`)."""

    body: Any
    now: dt.datetime
    signal: str = "ping"


@dataclass
class Parsed:
    candidates: list[Candidate] = field(default_factory=list)
    recoveries: list[Recovery] = field(default_factory=list)
    ignored: int = 0  # messages understood but carrying no fault (a Zabbix acknowledgement)
    pinged_at: dt.datetime | None = None  # a heartbeat's good ping: the clock starts again
    started_at: dt.datetime | None = None  # a heartbeat's "/start": the run must ping within the grace


@dataclass(frozen=True)
class Source:
    """One kind of sender: `parse` turns a request into candidates and recoveries;
    `check_mapping(mapping)` (the generic webhook's) answers the mapping's errors by field."""

    name: str
    parse: Callable[[InboundIntegration, Inbound], Parsed]
    check_mapping: Callable[[dict[str, Any]], dict[str, str]] | None = None


# --- severity ---------------------------------------------------------------------------------

# The words senders use for how bad a fault is (Prometheus conventions, Zabbix's levels, syslog's,
# PagerDuty's P1-P5), lower-cased. Anything else takes the integration's default.
SEVERITY_WORDS: dict[str, str] = {
    **dict.fromkeys(("critical", "crit", "disaster", "fatal", "emergency", "emerg", "alert", "p1", "sev1", "5",
                     "严重"), Severity.CRITICAL),
    **dict.fromkeys(("major", "error", "err", "high", "page", "p2", "sev2", "4", "一般"), Severity.MAJOR),
    **dict.fromkeys(("minor", "warning", "warn", "average", "medium", "p3", "sev3", "3", "2", "轻微"),
                    Severity.MINOR),
    **dict.fromkeys(("info", "information", "informational", "notice", "low", "none", "ok", "p4", "p5", "sev4",
                     "1", "debug", "提示"), Severity.INFO),
}


def severity_of(word: Any, default: str) -> str:
    if word is None or isinstance(word, bool):
        return default
    return SEVERITY_WORDS.get(str(word).strip().lower(), default)


# --- values ----------------------------------------------------------------------------------

def text(value: Any, path: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    """A string of the body (numbers are taken as their text, as senders are loose about it)."""
    if value is None or value == "":
        if required:
            raise invalid(path, _("This field is required."))
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid(path, _("A string is required."))
    return str(value)[:limit]


def labels_of(value: Any, path: str) -> dict[str, str]:
    """An object of string values (labels, tags)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(path, _("An object of string values is required."))
    if len(value) > MAX_LABELS:
        raise invalid(path, _("At most %(max)d labels are allowed.") % {"max": MAX_LABELS})
    labels: dict[str, str] = {}
    for key, item in value.items():
        if not key or len(key) > MAX_LABEL_NAME:
            raise invalid(path, _("Label names must have 1 to %(max)d characters.") % {"max": MAX_LABEL_NAME})
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise invalid(f"{path}.{key}", _("A string is required."))
        if len(str(item)) > MAX_LABEL_VALUE:
            raise invalid(f"{path}.{key}", _("At most %(max)d characters are allowed.") % {"max": MAX_LABEL_VALUE})
        labels[str(key)] = str(item)
    return labels


def moment(value: Any, path: str, now: dt.datetime) -> dt.datetime | None:
    """An RFC 3339 time (Go writes nanoseconds; Python keeps microseconds), or a Unix time; never
    later than now (a sender's clock ahead of ours must not start an alert in the future)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise invalid(path, _("A time (RFC 3339 or Unix seconds) is required."))
    try:
        if isinstance(value, int | float):
            at = dt.datetime.fromtimestamp(value, tz=dt.UTC)
        elif isinstance(value, str):
            at = dt.datetime.fromisoformat(value)
        else:
            raise ValueError(value)
    except (ValueError, OverflowError, OSError):
        raise invalid(path, _("A time (RFC 3339 or Unix seconds) is required.")) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return min(at, now)


# --- the configuration item ----------------------------------------------------------------------

def host_names(value: str) -> list[str]:
    """What a label may name a host by: as given, and without a port (`db1:9100` → `db1`)."""
    value = value.strip()
    if not value:
        return []
    names = [value]
    if value.startswith("[") and "]" in value:  # [::1]:9100
        names.append(value[1:value.index("]")])
    elif value.count(":") == 1:
        names.append(value.split(":", 1)[0])
    return names


class ItemMatcher:
    """Finds the customer's item a host name names: by the item's name, or its hostname or
    ip_address attribute; one query per request for all the names it carries. Items of other
    customers are never considered (tenancy)."""

    def __init__(self, integration: InboundIntegration) -> None:
        self.integration = integration
        self._found: dict[str, int] = {}
        self._asked: set[str] = set()

    def load(self, names: Iterable[str]) -> None:
        wanted = sorted({n for raw in names if raw for n in host_names(raw)} - self._asked)
        if not wanted:
            return
        self._asked.update(wanted)
        from opsdesk.cmdb.models import ConfigurationItem

        rows = (ConfigurationItem.objects.filter(customer_id=self.integration.customer_id)
                .filter(Q(name__in=wanted) | Q(attributes__hostname__in=wanted)
                        | Q(attributes__ip_address__in=wanted))
                .order_by("pk").values_list("pk", "name", "attributes"))
        # By name first, then hostname, then address: the item's own name is the surest.
        for key in ("name", "hostname", "ip_address"):
            for pk, name, attributes in rows:
                value = name if key == "name" else (attributes or {}).get(key) if isinstance(attributes, dict) else None
                if isinstance(value, str) and value in wanted:
                    self._found.setdefault(value, pk)

    def item_for(self, *names: str) -> int | None:
        """The first of `names` (in the order given) that names an item, else the integration's item."""
        self.load(names)
        for raw in names:
            for name in host_names(raw or ""):
                if name in self._found:
                    return self._found[name]
        return self.integration.configuration_item_id
