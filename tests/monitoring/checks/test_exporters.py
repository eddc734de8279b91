"""prometheus (node_exporter, redis_exporter) and zabbix (zabbix_agentd) against the real programs."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from opsdesk.monitoring.checks.prometheus import parse

from .peers import run_check, samples, value

pytestmark = pytest.mark.xdist_group("monitoring-checks")


def test_node_exporter_is_scraped_whole_with_counters_as_they_come(node_exporter):
    result = run_check("prometheus", node_exporter, counters="raw")
    assert (result.state, result.code) == ("ok", "ok"), result.message
    cpu = samples(result, "node_cpu_seconds_total")
    assert cpu and {"cpu", "mode"} <= set(cpu[0].labels) and all(s.value >= 0 for s in cpu)
    assert value(result, "node_memory_MemTotal_bytes") > 0
    scraped = value(result, "scrape_samples_scraped")
    assert scraped > 200 and value(result, "scrape_samples_kept") == scraped
    assert len(result.samples) == scraped + 3


def test_node_exporters_counters_become_per_second_rates_from_the_second_scrape(node_exporter):
    memo: dict = {}
    first = run_check("prometheus", node_exporter, memo=memo, include=["^node_cpu_seconds_total$", "^node_load1$"])
    assert not samples(first, "node_cpu_seconds_total") and not samples(first, "node_cpu_seconds_per_second")
    assert value(first, "node_load1") >= 0  # a gauge is kept as it comes, from the first scrape
    time.sleep(1.1)
    second = run_check("prometheus", node_exporter, memo=memo, include=["^node_cpu_seconds_total$", "^node_load1$"])
    rates = samples(second, "node_cpu_seconds_per_second")
    cpus = {s.labels["cpu"] for s in rates}
    # Each CPU spends about one second a second across its modes.
    idle_and_busy = {cpu: sum(s.value for s in rates if s.labels["cpu"] == cpu) for cpu in cpus}
    assert cpus and all(0.5 < total < 1.5 for total in idle_and_busy.values()), idle_and_busy
    assert not samples(second, "node_cpu_seconds_total")
    both = run_check("prometheus", node_exporter, memo=memo, include=["^node_cpu_seconds_total$"], counters="both")
    assert samples(both, "node_cpu_seconds_total") and samples(both, "node_cpu_seconds_per_second")


def test_which_samples_count_up():
    from opsdesk.monitoring.checks.prometheus import is_counter, rate_name

    text = ("# TYPE http_requests_total counter\nhttp_requests_total 3\n"
            "# TYPE process_open_fds gauge\nprocess_open_fds 7\n"
            "# TYPE rpc_duration_seconds summary\nrpc_duration_seconds{quantile=\"0.5\"} 0.2\n"
            "rpc_duration_seconds_sum 10\nrpc_duration_seconds_count 4\n"
            "# TYPE latency histogram\nlatency_bucket{le=\"1\"} 2\nlatency_sum 1.5\n"
            "# TYPE jobs counter\njobs_total 9\n"
            "untyped_total 1\nuntyped_level 2\n"
            "# TYPE weird_total gauge\nweird_total 5\n")
    types: dict[str, str] = {}
    names = [name for name, _labels, _value in parse(text, types)]
    verdicts = {name: is_counter(name, types) for name in names}
    assert verdicts == {"http_requests_total": True, "process_open_fds": False, "rpc_duration_seconds": False,
                        "rpc_duration_seconds_sum": True, "rpc_duration_seconds_count": True,
                        "latency_bucket": True, "latency_sum": True, "jobs_total": True,
                        "untyped_total": True, "untyped_level": False, "weird_total": False}
    assert rate_name("http_requests_total") == "http_requests_per_second"
    assert rate_name("latency_bucket") == "latency_bucket_per_second"


def test_a_counter_that_went_down_gives_no_rate():
    from opsdesk.monitoring.checks.base import counter_rate

    memo: dict = {}
    assert counter_rate(memo, "k", 100.0, 1000.0) is None
    assert counter_rate(memo, "k", 160.0, 1030.0) == 2.0
    assert counter_rate(memo, "k", 5.0, 1060.0) is None  # the exporter restarted
    assert counter_rate(memo, "k", 35.0, 1090.0) == 1.0


def test_include_exclude_and_the_cap(node_exporter):
    kept = run_check("prometheus", node_exporter, include=["^node_cpu_", "^node_load1$"], exclude=["_guest_"])
    names = {s.name for s in kept.samples} - {"scrape_duration_seconds", "scrape_samples_scraped",
                                              "scrape_samples_kept"}
    assert names == {"node_load1"}  # the counter gives its first rate at the next scrape
    cut = run_check("prometheus", node_exporter, max_samples=10, counters="raw")
    assert (cut.state, cut.code) == ("warning", "samples_cut"), cut.message
    assert cut.params["kept"] == 10 and cut.params["total"] > 10
    assert value(cut, "scrape_samples_kept") == 10 and len(cut.samples) == 13


def test_redis_exporter_reports_the_local_redis(redis_exporter):
    result = run_check("prometheus", redis_exporter, include=["redis_up", "redis_connected_clients"])
    assert value(result, "redis_up") == 1
    assert value(result, "redis_connected_clients") >= 1


def test_a_scrape_of_a_missing_page_or_a_closed_port(web, closed_port):
    missing = run_check("prometheus", web.http_url + "/status/404")
    assert (missing.state, missing.code) == ("critical", "http_status")
    refused = run_check("prometheus", f"http://127.0.0.1:{closed_port}/metrics")
    assert (refused.state, refused.code) == ("critical", "refused")


def test_the_parser_agrees_with_prometheus_client(node_exporter):
    import httpx

    text = httpx.get(node_exporter, timeout=5).text
    reference = [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text)
                 for s in family.samples if abs(s.value) != float("inf") and s.value == s.value]
    ours = list(parse(text))
    assert ours == reference
    odd = 'a{path="C:\\\\dir",msg="say \\"hi\\"\\n"} 1.5 1700000000000\nb NaN\nbad line here\n'
    assert list(parse(odd)) == [("a", {"path": "C:\\dir", "msg": 'say "hi"\n'}, 1.5), None]


def test_zabbix_agent_items(zabbix_agent):
    result = run_check("zabbix", "127.0.0.1", port=zabbix_agent,
                       items=["agent.ping", "system.cpu.load[all,avg1]", "vfs.fs.size[/,pused]", "no.such.key",
                              "agent.hostname"])
    assert (result.state, result.code) == ("ok", "ok"), result.message
    assert value(result, "zabbix_item", key="agent.ping") == 1
    assert value(result, "zabbix_item", key="system.cpu.load[all,avg1]") >= 0
    assert 0 < value(result, "zabbix_item", key="vfs.fs.size[/,pused]") <= 100
    assert "no.such.key" in result.message and "not supported" in result.message
    assert "agent.hostname = 'opsdesk-test'" in result.message
    high = run_check("zabbix", "127.0.0.1", port=zabbix_agent, items=["agent.ping"], critical=0.5)
    assert (high.state, high.code) == ("critical", "threshold")
    none = run_check("zabbix", "127.0.0.1", port=zabbix_agent, items=["no.such.key"])
    assert (none.state, none.code) == ("unknown", "zabbix_not_supported")


def test_zabbix_refused(closed_port):
    result = run_check("zabbix", "127.0.0.1", port=closed_port)
    assert (result.state, result.code) == ("critical", "refused"), result.message
