"""ping: ICMP echo to a host with icmplib.

Unprivileged ICMP sockets (SOCK_DGRAM) are used where the kernel allows them to this process's
group (sysctl net.ipv4.ping_group_range); otherwise a process running as root falls back to raw
sockets, and any other process gets "unknown" naming the sysctl.

Samples: ping_rtt_avg_seconds, ping_rtt_min_seconds, ping_rtt_max_seconds (of the answered
packets), ping_packet_loss_percent.
Thresholds: `warning` / `critical` on the average round trip in milliseconds (above);
`loss_warning` / `loss_critical` on packet loss in percent (above). All lost: critical, "unreachable".
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import (
    CheckResult,
    CheckSpec,
    CheckType,
    Outcome,
    failure,
    gettext_noop,
    integer,
    number,
    param,
    preload,
    result,
    schema,
)

PING_GROUP_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")

SCHEMA = schema({
    "count": integer(gettext_noop("Packets"), 3, 1, 20),
    "packet_interval": number(gettext_noop("Seconds between packets"), 0.2, 0.01, 5),
    "payload_size": integer(gettext_noop("Payload size (bytes)"), 56, 0, 65000),
    "warning": number(gettext_noop("Warning above (ms, average round trip)"), None, 0),
    "critical": number(gettext_noop("Critical above (ms, average round trip)"), None, 0),
    "loss_warning": number(gettext_noop("Warning above (% packets lost)"), 20, 0, 100),
    "loss_critical": number(gettext_noop("Critical above (% packets lost)"), 60, 0, 100),
})


def unprivileged_allowed(range_file: Path = PING_GROUP_RANGE) -> bool:
    """Whether the kernel lets this process open an unprivileged ICMP socket."""
    try:
        low, high = (int(part) for part in range_file.read_text().split())
    except (OSError, ValueError):
        return False
    return any(low <= gid <= high for gid in {os.getegid(), *os.getgroups()})


def privileged_mode() -> bool | None:
    """False for unprivileged sockets, True for raw sockets (as root), None when neither is possible."""
    if unprivileged_allowed():
        return False
    if os.geteuid() == 0:
        return True
    return None


async def run(spec: CheckSpec, memo: dict) -> CheckResult:
    from icmplib import async_ping  # imported where checks run, not where the registry is read
    from icmplib.exceptions import NameLookupError, SocketPermissionError

    privileged = privileged_mode()
    if privileged is None:
        return result("unknown", "ping_not_permitted",
                      "unprivileged ICMP is not allowed for this process: widen the sysctl "
                      "net.ipv4.ping_group_range to include its group, or run the collector as root")
    count = param(spec, "count", SCHEMA)
    gap = param(spec, "packet_interval", SCHEMA)
    # The packets go one after the other: share the time left after the gaps among them.
    per_packet = max(0.2, (spec.timeout - gap * (count - 1)) / count * 0.9)
    try:
        host = await async_ping(spec.target, count=count, interval=gap, timeout=per_packet,
                                privileged=privileged, payload_size=param(spec, "payload_size", SCHEMA))
    except NameLookupError:
        return result("critical", "resolve_error", f"cannot resolve the host name {spec.target!r}")
    except SocketPermissionError as exc:
        return result("unknown", "ping_not_permitted", f"cannot open an ICMP socket: {exc}")
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what="ping")

    outcome = Outcome()
    loss = host.packet_loss * 100
    outcome.sample("ping_packet_loss_percent", loss)
    if not host.is_alive:
        outcome.problem("critical", "unreachable", f"no answer to {host.packets_sent} ICMP echo requests",
                        sent=host.packets_sent)
        return outcome.result("")
    for stat, value in (("avg", host.avg_rtt), ("min", host.min_rtt), ("max", host.max_rtt)):
        outcome.sample(f"ping_rtt_{stat}_seconds", value / 1000)
    outcome.threshold(host.avg_rtt, param(spec, "warning", SCHEMA), param(spec, "critical", SCHEMA),
                      what="average round trip", unit=" ms")
    outcome.threshold(loss, param(spec, "loss_warning", SCHEMA), param(spec, "loss_critical", SCHEMA),
                      what="packet loss", unit=" %")
    return outcome.result(f"{host.packets_received}/{host.packets_sent} answered, round trip avg "
                          f"{host.avg_rtt:.2f} ms (min {host.min_rtt:.2f}, max {host.max_rtt:.2f})",
                          rtt_ms=round(host.avg_rtt, 3), loss_percent=round(loss, 1))


def prepare() -> None:
    preload("icmplib")


CHECK = CheckType(name="ping", label=gettext_noop("Ping (ICMP echo)"), run=run, params_schema=SCHEMA,
                  default_interval=60.0, needs_secrets=())
