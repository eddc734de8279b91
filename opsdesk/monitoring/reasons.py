"""What a check's result code means, in the person's language. A check's own message is one line
of technical English; the pages show the sentence of its code, filled from the values the check
passed with it, and the message only where the code has no sentence (or a value is missing)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

REASONS = {
    "timeout": gettext_lazy("No answer within %(timeout)s s"),
    "refused": gettext_lazy("Connection refused"),
    "resolve_error": gettext_lazy("The host name cannot be resolved"),
    "tls_error": gettext_lazy("TLS error"),
    "reset": gettext_lazy("Connection reset by the peer"),
    "unreachable": gettext_lazy("Host unreachable"),
    "threshold": gettext_lazy("%(value)s%(unit)s is past the threshold of %(threshold)s%(unit)s"),
    "body_mismatch": gettext_lazy("The answer does not contain the expected text"),
    "error": gettext_lazy("The check could not run"),
    "http_status": gettext_lazy("HTTP status %(status)s is not one of those expected"),
    "tls_expired": gettext_lazy("The TLS certificate has expired"),
    "tls_expiring": gettext_lazy("The TLS certificate expires in %(days)s days"),
    "auth_failed": gettext_lazy("Authentication failed"),
    "access_denied": gettext_lazy("The agent closed the connection without answering (is this server allowed to "
                                  "ask it?)"),
    "interface_down": gettext_lazy("Interface %(interface)s is not up"),
    "replication_stopped": gettext_lazy("Replication is stopped"),
    "replication_broken": gettext_lazy("The replica's link to its primary is down"),
    "dns_nxdomain": gettext_lazy("%(name)s does not exist (NXDOMAIN)"),
    "dns_error": gettext_lazy("The DNS server answered %(rcode)s"),
    "dns_no_answer": gettext_lazy("No %(record_type)s record"),
    "dns_unexpected_answer": gettext_lazy("%(expect)s is not among the DNS answers"),
    "snmp_error": gettext_lazy("The SNMP agent answered with an error"),
    "snmp_missing_oid": gettext_lazy("OID %(oid)s does not exist on the agent"),
    "snmp_not_numeric": gettext_lazy("The value of OID %(oid)s is not a number"),
    "zabbix_not_supported": gettext_lazy("The Zabbix agent supports none of the items"),
    "ping_not_permitted": gettext_lazy("This machine may not send pings (net.ipv4.ping_group_range)"),
    "bad_params": gettext_lazy("The check's parameters are not valid"),
    "bad_target": gettext_lazy("The check's target is not valid"),
    "samples_cut": gettext_lazy("Not every sample was kept (max_samples)"),
    "unknown_type": gettext_lazy("Unknown check type %(type)s"),
}


def reason_text(code: str, params: dict[str, Any] | None, message: str) -> str:
    """The sentence of `code` filled from `params`; `message` where there is none, or where a
    value the sentence needs is missing (a state change recorded before they were kept)."""
    template = REASONS.get(code)
    if template is None:
        return message
    values: dict[str, Any] = {k: v for k, v in (params or {}).items() if isinstance(v, (str, int, float))}
    unit = str(values.get("unit") or "")
    values["unit"] = f" {unit}" if unit and unit != "%" else unit
    try:
        return str(template) % values
    except (KeyError, TypeError, ValueError):
        if message:
            return message
    try:  # no message either: the sentence, with what is missing marked
        return str(template) % {"timeout": "?", "value": "?", "threshold": "?", **values}
    except (KeyError, TypeError, ValueError):
        return ""
