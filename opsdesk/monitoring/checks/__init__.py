"""The check types the collector runs, one module each, known by name through CHECK_TYPES.

Each module declares one `CHECK = CheckType(...)` (see base.py). Importing this package is cheap:
a module imports its protocol library (pysnmp, psycopg, ...) only when a check runs, so the web
process can read labels and parameter schemas without loading them. The collector calls
`prepare(names)` in a thread before the first runs, so those imports do not stall its event loop.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import dns, http, mysql, ping, postgresql, prometheus, redis, snmp, tcp, zabbix
from .base import CheckResult, CheckSpec, CheckType, Sample

_MODULES = {module.CHECK.name: module
            for module in (ping, tcp, http, dns, snmp, postgresql, mysql, redis, prometheus, zabbix)}
CHECK_TYPES: dict[str, CheckType] = {name: module.CHECK for name, module in _MODULES.items()}


def get(name: str) -> CheckType:
    try:
        return CHECK_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown check type {name!r}; the known types are {', '.join(sorted(CHECK_TYPES))}") from None


def prepare(names: Iterable[str]) -> None:
    """Loads what these check types need before their first run (their libraries, TLS contexts).
    Blocking, and safe in a thread; unknown names are ignored."""
    for name in names:
        hook = getattr(_MODULES.get(name), "prepare", None)
        if hook is not None:
            hook()


__all__ = ["CHECK_TYPES", "CheckResult", "CheckSpec", "CheckType", "Sample", "get", "prepare"]
