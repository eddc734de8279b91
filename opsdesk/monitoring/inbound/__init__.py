"""The senders whose alerts opsdesk takes in, one module each, known by kind through SOURCES
(the InboundIntegration's `kind`). Each module declares one `SOURCE = Source(...)` (base.py) whose
`parse(integration, inbound)` turns a request into the lifecycle's candidates and recoveries;
services.receive writes them. Nothing outside this package imports a concrete source, except
the periodic pass, which asks heartbeat.late for the heartbeats that went quiet."""

from __future__ import annotations

from . import alertmanager, heartbeat, webhook, zabbix
from .base import Inbound, Invalid, Parsed, Source

SOURCES: dict[str, Source] = {module.SOURCE.name: module.SOURCE
                              for module in (alertmanager, zabbix, webhook, heartbeat)}


def get(kind: str) -> Source:
    try:
        return SOURCES[kind]
    except KeyError:
        raise KeyError(f"unknown inbound source {kind!r}; the known ones are {', '.join(sorted(SOURCES))}") from None


__all__ = ["SOURCES", "Inbound", "Invalid", "Parsed", "Source", "get"]
