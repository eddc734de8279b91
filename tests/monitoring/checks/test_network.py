"""ping, tcp, http and dns against real peers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from opsdesk.monitoring.checks import ping
from opsdesk.monitoring.checks.base import CheckSpec
from opsdesk.monitoring.collector import Collector

from .peers import CERT_DAYS, PAGE, SILENT_NAME, run_check, samples, value

pytestmark = pytest.mark.xdist_group("monitoring-checks")


def test_ping_answers_from_the_loopback():
    if ping.privileged_mode() is None:
        result = run_check("ping", "127.0.0.1")
        assert (result.state, result.code) == ("unknown", "ping_not_permitted")
        assert "net.ipv4.ping_group_range" in result.message
        return
    result = run_check("ping", "127.0.0.1", count=3, packet_interval=0.05)
    assert (result.state, result.code) == ("ok", "ok"), result.message
    assert value(result, "ping_packet_loss_percent") == 0
    assert 0 < value(result, "ping_rtt_min_seconds") <= value(result, "ping_rtt_avg_seconds") \
        <= value(result, "ping_rtt_max_seconds") < 0.1
    # A threshold below any real round trip makes it a warning that names value and threshold.
    slow = run_check("ping", "127.0.0.1", count=2, packet_interval=0.05, warning=0.0001)
    assert (slow.state, slow.code) == ("warning", "threshold")
    assert "0.0001 ms" in slow.message and slow.params["threshold"] == 0.0001


def test_ping_of_an_unknown_name_is_critical():
    if ping.privileged_mode() is None:
        pytest.skip("neither an unprivileged ICMP socket (net.ipv4.ping_group_range) nor root here; "
                    "the test above checks the message")
    result = run_check("ping", "no-such-host.invalid", count=1)
    assert (result.state, result.code) == ("critical", "resolve_error")


def test_tcp_connects_and_a_closed_port_is_refused(web, closed_port):
    port = int(web.http_url.rsplit(":", 1)[1])
    result = run_check("tcp", "127.0.0.1", port=port, send="GET / HTTP/1.0\\r\\n\\r\\n", expect="nominal")
    assert (result.state, result.code) == ("ok", "ok"), result.message
    assert 0 < value(result, "tcp_connect_seconds") <= value(result, "tcp_response_seconds") < 1
    wrong = run_check("tcp", "127.0.0.1", port=port, send="GET / HTTP/1.0\\r\\n\\r\\n", expect="absent words")
    assert (wrong.state, wrong.code) == ("critical", "body_mismatch")
    refused = run_check("tcp", "127.0.0.1", port=closed_port)
    assert (refused.state, refused.code) == ("critical", "refused")
    assert refused.samples == []


def test_a_silent_peer_times_out_without_delaying_other_checks(web, silent_port):
    """Through the engine: checks that hang on a peer that never answers take one slot each for
    their timeout; the fast checks beside them keep their schedule."""
    port = int(web.http_url.rsplit(":", 1)[1])
    specs = [CheckSpec(id=1, type="tcp", target="127.0.0.1", params={"port": silent_port, "expect": "hello"},
                       interval=1.0, timeout=1.0),
             CheckSpec(id=2, type="http", target=web.http_url + "/slow", params={}, interval=1.0, timeout=1.0)]
    specs += [CheckSpec(id=10 + i, type="tcp", target="127.0.0.1", params={"port": port}, interval=0.25,
                        timeout=1.0) for i in range(20)]
    records = []

    async def source():
        return specs

    async def sink(batch):
        records.extend(batch)

    async def main():
        collector = Collector(source, sink, max_concurrency=8, flush_interval=0.1)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(2.5, stop.set)
        started = time.monotonic()
        await collector.run(stop)
        return collector, time.monotonic() - started

    collector, elapsed = asyncio.run(main())
    slow = {r.spec_id: r for r in records if r.spec_id in (1, 2)}
    assert slow[1].result.code == "timeout" and slow[1].result.state == "critical"
    assert slow[2].result.code == "timeout", slow[2].result.message
    assert 0.9 < slow[1].finished_at - slow[1].started_at < 1.5
    fast = [r for r in records if r.spec_id >= 10]
    assert len(fast) >= 20 * 8  # about 10 runs each in 2.5 s at 0.25 s
    assert all(r.result.state == "ok" for r in fast)
    assert max(r.started_at - r.scheduled_at for r in fast) < 0.2
    assert elapsed < 4.5


def test_http_status_body_size_and_latency(web):
    result = run_check("http", web.http_url + "/", body_match="all systems nominal", body_regex=r"opsdesk \w+ page")
    assert (result.state, result.code) == ("ok", "ok"), result.message
    assert value(result, "http_status_code") == 200
    assert value(result, "http_response_size_bytes") == len(PAGE)
    assert 0 < value(result, "http_response_seconds") < 1
    assert not samples(result, "http_tls_cert_days_left")  # plain HTTP has no certificate

    failing = run_check("http", web.http_url + "/status/503")
    assert (failing.state, failing.code, failing.params["status"]) == ("critical", "http_status", 503)
    expected = run_check("http", web.http_url + "/status/503", expect_status=[503])
    assert expected.state == "ok"
    mismatch = run_check("http", web.http_url + "/", body_match="kernel panic")
    assert (mismatch.state, mismatch.code) == ("critical", "body_mismatch")
    big = run_check("http", web.http_url + "/big", max_body_bytes=1000)
    assert value(big, "http_response_size_bytes") == 200_000  # Content-Length, though only 1000 were read


def test_https_reads_the_self_signed_certificate_expiry(web):
    result = run_check("http", web.https_url + "/", verify=False)
    days = value(result, "http_tls_cert_days_left")
    assert CERT_DAYS - 1 <= days <= CERT_DAYS
    # 10 days left: below the default warning (14), above the default critical (7).
    assert (result.state, result.code) == ("warning", "tls_expiring"), result.message
    assert result.params["days"] == pytest.approx(days, abs=0.1)
    critical = run_check("http", web.https_url + "/", verify=False, tls_critical_days=12)
    assert (critical.state, critical.code) == ("critical", "tls_expiring")
    fine = run_check("http", web.https_url + "/", verify=False, tls_warning_days=5, tls_critical_days=2)
    assert fine.state == "ok"
    verified = run_check("http", web.https_url + "/")  # verify on: the self-signed certificate is refused
    assert (verified.state, verified.code) == ("critical", "tls_error"), verified.message


def test_http_refused_and_timeout(web, closed_port):
    refused = run_check("http", f"http://127.0.0.1:{closed_port}/")
    assert (refused.state, refused.code) == ("critical", "refused"), refused.message
    slow = run_check("http", web.http_url + "/slow", timeout=0.5)
    assert (slow.state, slow.code) == ("critical", "timeout"), slow.message


def test_dns_answers_nxdomain_and_timeout(dns_port):
    result = run_check("dns", "www.opsdesk.test", server="127.0.0.1", port=dns_port, expect=["192.0.2.11"])
    assert (result.state, result.code) == ("ok", "ok"), result.message
    assert value(result, "dns_answers") == 2
    assert 0 < value(result, "dns_response_seconds") < 1
    wrong = run_check("dns", "www.opsdesk.test", server="127.0.0.1", port=dns_port, expect=["192.0.2.99"])
    assert (wrong.state, wrong.code) == ("critical", "dns_unexpected_answer")
    missing = run_check("dns", "nothing.opsdesk.test", server="127.0.0.1", port=dns_port)
    assert (missing.state, missing.code) == ("critical", "dns_nxdomain")
    no_aaaa = run_check("dns", "www.opsdesk.test", server="127.0.0.1", port=dns_port, record_type="AAAA")
    assert (no_aaaa.state, no_aaaa.code) == ("critical", "dns_no_answer")
    silent = run_check("dns", SILENT_NAME, server="127.0.0.1", port=dns_port, timeout=0.5)
    assert (silent.state, silent.code) == ("critical", "timeout")


_PING_AS_NOBODY = """
import asyncio, json
from opsdesk.monitoring import checks
from opsdesk.monitoring.checks import ping
from opsdesk.monitoring.checks.base import CheckSpec, execute
spec = CheckSpec(id=1, type="ping", target="127.0.0.1", params={"count": 3, "packet_interval": 0.05}, timeout=5.0,
                 secrets={})
result = asyncio.run(execute(checks.get("ping"), spec, {}))
print(json.dumps({"mode": ping.privileged_mode(), "state": result.state, "code": result.code,
                  "message": result.message,
                  "loss": [s.value for s in result.samples if s.name == "ping_packet_loss_percent"]}))
"""


def _ping_in_a_namespace_as_nobody(group_range: str | None) -> dict:
    """The ping check run by `nobody` (no raw sockets) in a network namespace of its own, whose
    net.ipv4.ping_group_range is ours to set (it is per namespace), with its loopback up."""
    import json
    import shutil
    import subprocess
    import sys

    allow = f'echo "{group_range}" > /proc/sys/net/ipv4/ping_group_range && ' if group_range else ""
    script = (f"ip link set lo up && {allow}exec {shutil.which('setpriv')} --reuid=nobody --regid=nogroup "
              f'--clear-groups "$0" -c "$1"')
    done = subprocess.run([shutil.which("unshare"), "-n", "sh", "-c", script, sys.executable, _PING_AS_NOBODY],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: making a network namespace and becoming `nobody`")
def test_ping_with_unprivileged_icmp_sockets_and_without_them():
    allowed = _ping_in_a_namespace_as_nobody("0 2147483647")
    assert allowed["mode"] is False  # an unprivileged (SOCK_DGRAM) socket: nobody has no raw ones
    assert (allowed["state"], allowed["code"], allowed["loss"]) == ("ok", "ok", [0.0]), allowed["message"]
    refused = _ping_in_a_namespace_as_nobody(None)  # the kernel's default: "1 0", nobody's group not in it
    assert (refused["state"], refused["code"]) == ("unknown", "ping_not_permitted")
    assert "net.ipv4.ping_group_range" in refused["message"]
