"""dns: one query (the target is the name) of a record type to a given server, with dnspython.

The query goes to `server`:`port` (an IP address or a host name; empty: the first name server of
/etc/resolv.conf), over UDP with a retry over TCP when the answer is truncated, or over TCP only.

Samples: dns_response_seconds, dns_answers (records of the asked type in the answer).
Thresholds: `warning` / `critical` on the response time in milliseconds (above).
States: NXDOMAIN, SERVFAIL, REFUSED or an empty answer are critical; `expect` (answers that must
all be present, e.g. an address) missing is critical too.
"""

from __future__ import annotations

import ipaddress
import socket
import time

from .base import (
    CheckResult,
    CheckSpec,
    CheckType,
    Outcome,
    array,
    boolean,
    failure,
    gettext_noop,
    integer,
    number,
    param,
    preload,
    result,
    schema,
    string,
)

RECORD_TYPES = ["A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "CAA"]

SCHEMA = schema({
    "server": string(gettext_noop("DNS server (empty: the system's)"), ""),
    "port": integer(gettext_noop("Port"), 53, 1, 65535),
    "record_type": string(gettext_noop("Record type"), "A", enum=RECORD_TYPES),
    "tcp": boolean(gettext_noop("Query over TCP"), False),
    "expect": array(gettext_noop("Expected answers (all must be present)"), {"type": "string"}, []),
    "warning": number(gettext_noop("Warning above (ms, response time)"), None, 0),
    "critical": number(gettext_noop("Critical above (ms, response time)"), None, 0),
})


async def _server_address(server: str) -> str:
    if not server:
        import dns.resolver

        return dns.resolver.Resolver().nameservers[0]
    try:
        ipaddress.ip_address(server)
        return server
    except ValueError:
        import asyncio

        infos = await asyncio.get_running_loop().getaddrinfo(server, None, type=socket.SOCK_DGRAM)
        return infos[0][4][0]


def _normalise(text: str) -> str:
    return text.strip().rstrip(".").lower().strip('"')


async def run(spec: CheckSpec, memo: dict) -> CheckResult:
    import dns.asyncquery
    import dns.exception
    import dns.message
    import dns.rcode
    import dns.rdatatype

    record_type = param(spec, "record_type", SCHEMA)
    try:
        server = await _server_address(param(spec, "server", SCHEMA))
        query = dns.message.make_query(spec.target, dns.rdatatype.from_text(record_type))
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what="dns")
    port = param(spec, "port", SCHEMA)
    started = time.perf_counter()
    try:
        if param(spec, "tcp", SCHEMA):
            answer = await dns.asyncquery.tcp(query, server, timeout=spec.timeout, port=port)
        else:
            answer, _ = await dns.asyncquery.udp_with_fallback(query, server, timeout=spec.timeout, port=port)
    except dns.exception.Timeout:
        return result("critical", "timeout", f"no answer from {server}:{port} within {spec.timeout:g} s",
                      timeout=spec.timeout)
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what=f"dns server {server}:{port}")
    elapsed = time.perf_counter() - started

    outcome = Outcome()
    outcome.sample("dns_response_seconds", elapsed)
    rcode = answer.rcode()
    wanted = dns.rdatatype.from_text(record_type)
    records = [rdata.to_text() for rrset in answer.answer if rrset.rdtype == wanted for rdata in rrset]
    outcome.sample("dns_answers", len(records))
    if rcode == dns.rcode.NXDOMAIN:
        outcome.problem("critical", "dns_nxdomain", f"{spec.target} does not exist (NXDOMAIN)", name=spec.target)
    elif rcode != dns.rcode.NOERROR:
        outcome.problem("critical", "dns_error", f"the server answered {dns.rcode.to_text(rcode)}",
                        rcode=dns.rcode.to_text(rcode))
    elif not records:
        outcome.problem("critical", "dns_no_answer", f"no {record_type} record for {spec.target}",
                        record_type=record_type)
    found = {_normalise(r) for r in records}
    missing = [e for e in param(spec, "expect", SCHEMA) if _normalise(e) not in found]
    if records and missing:
        outcome.problem("critical", "dns_unexpected_answer", f"expected {', '.join(missing)} among the answers "
                        f"({', '.join(records[:5])})", expect=", ".join(missing))
    outcome.threshold(elapsed * 1000, param(spec, "warning", SCHEMA), param(spec, "critical", SCHEMA),
                      what="response time", unit=" ms")
    shown = ", ".join(records[:5]) + (" …" if len(records) > 5 else "")
    return outcome.result(f"{len(records)} {record_type} record(s) from {server} in {elapsed * 1000:.1f} ms: {shown}",
                          answers=len(records), ms=round(elapsed * 1000, 1))


def prepare() -> None:
    preload("dns.asyncquery", "dns.message", "dns.rcode", "dns.rdatatype", "dns.resolver")


CHECK = CheckType(name="dns", label=gettext_noop("DNS query"), run=run, params_schema=SCHEMA,
                  default_interval=60.0, needs_secrets=())
