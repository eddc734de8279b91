"""The CI page's monitoring in a real browser: its checks worst first, and charts of its host
metrics drawn from the query API for the last 24 hours, then 7 days (rollups with their band) and
a custom range; the same page in zh-Hans, with the times of the person's time zone."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from opsdesk.core.models import Role
from opsdesk.monitoring.models import Check
from opsdesk.monitoring.store import get_store
from tests.browser.test_flow import translation_of
from tests.factories import (
    ConfigurationItemFactory,
    CustomerFactory,
    UserFactory,
    make_check_in_state,
    make_series_with_points,
)

pytestmark = [
    pytest.mark.browser,
    # live_server needs committed data; serialized_rollback puts back what the migrations wrote.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DAYS = 8
STEP = 300  # a sample every 5 minutes: 8 days in about 2,300 samples per series

# The option ECharts draws from: every series' number of points, and the x axis' range.
OPTION = """(id) => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const option = chart.getOption();
  return {points: option.series.map(s => s.data.filter(p => p[1] !== null).length),
          bands: option.series.filter(s => s.areaStyle && s.areaStyle.opacity).length,
          min: option.xAxis[0].min, max: option.xAxis[0].max,
          yMax: chart.getModel().getComponent("yAxis", 0).axis.scale.getExtent()[1],
          canvas: document.querySelectorAll('#' + id + ' canvas').length};
}"""


def samples(now: float, value) -> list[tuple[float, float]]:
    start = now - DAYS * 86400
    return [(start + i * STEP, value(i)) for i in range(DAYS * 86400 // STEP + 1)]


@pytest.fixture
def host():
    UserFactory(username="ada", role=Role.ADMIN)
    customer = CustomerFactory(code="ACME", name="Acme 阿克米")
    item = ConfigurationItemFactory(customer=customer, name="web-01")
    now = time.time()
    wave = [10, 12, 15, 30, 55, 70, 65, 40, 25, 18, 14, 11]
    make_series_with_points(item, "cpu_usage_percent", samples(now, lambda i: wave[i % 12] + i % 7))
    make_series_with_points(item, "cpu_iowait_percent", samples(now, lambda i: 1 + i % 5))
    make_series_with_points(item, "memory_used_percent", samples(now, lambda i: 60 + (i // 12) % 10))
    make_series_with_points(item, "swap_used_percent", samples(now, lambda i: 3.0))
    for name, base in (("load1", 0.8), ("load5", 0.6), ("load15", 0.5)):
        make_series_with_points(item, name, samples(now, lambda i, base=base: base + (i % 24) / 20))
    for mount, used in (("/", 41.0), ("/var/lib/mysql", 78.0)):
        make_series_with_points(item, "filesystem_used_percent", samples(now, lambda i, used=used: used + i / 2000),
                                {"mount": mount, "fstype": "ext4"})
    make_series_with_points(item, "disk_read_bytes_per_second", samples(now, lambda i: 2e6 + (i % 30) * 1e5),
                            {"device": "sda"})
    make_series_with_points(item, "disk_written_bytes_per_second", samples(now, lambda i: 5e6 + (i % 20) * 3e5),
                            {"device": "sda"})
    make_series_with_points(item, "network_received_bytes_per_second", samples(now, lambda i: 1.2e6 + (i % 40) * 4e4),
                            {"interface": "eth0"})
    make_series_with_points(item, "network_sent_bytes_per_second", samples(now, lambda i: 4e5 + (i % 25) * 2e4),
                            {"interface": "eth0"})
    get_store().housekeeping(now)
    make_check_in_state(item, "ok", name="Ping")
    http = make_check_in_state(item, "critical", name="HTTP https://web-01/",
                               message="web-01:443: connection refused")
    disk = make_check_in_state(item, "warning", name="Disk /var/lib/mysql",
                               message="used 78% is above the warning threshold 75%")
    Check.objects.filter(pk=http.pk).update(type="http", last_code="refused")
    Check.objects.filter(pk=disk.pk).update(type="snmp", last_code="threshold",
                                            last_params={"value": 78, "threshold": 75, "unit": "%"})
    return item


def open_item(page, log_in, item) -> None:
    page.set_viewport_size({"width": 1366, "height": 768})  # a laptop's screen
    log_in(page, "ada")
    page.goto(f"/cmdb/configurationitems/{item.pk}/")
    expect(page.locator("[data-monitoring-charts]")).to_have_attribute("data-loaded-range", "24h")


def test_the_ci_page_charts_its_host_and_switches_to_seven_days(page, log_in, shot, host):
    open_item(page, log_in, host)
    expect(page.locator("#monitoring-checks tbody tr")).to_have_count(3)
    expect(page.locator("#monitoring-checks tbody tr").first).to_contain_text("HTTP https://web-01/")
    charts = page.locator("[data-chart]")
    expect(charts).to_have_count(6)  # CPU, memory, load, disk usage, disk I/O, network eth0
    for i in range(6):
        expect(charts.nth(i)).to_have_attribute("data-state", "ready")

    cpu = page.evaluate(OPTION, f"item{host.pk}-cpu")
    assert cpu["canvas"] >= 1
    assert cpu["points"][0] > 200, cpu  # 24 hours of 5-minute averages
    assert cpu["max"] - cpu["min"] == pytest.approx(86400 * 1000, abs=120_000)
    assert cpu["yMax"] == 100, "a busy CPU's axis ends at 100 %, not at ECharts' 120 %"
    assert page.evaluate(OPTION, f"item{host.pk}-load")["yMax"] < 100  # other units scale freely
    shot(page, "ci-24h")

    page.click('[data-range-button="7d"]')
    expect(page.locator("[data-monitoring-charts]")).to_have_attribute("data-loaded-range", "7d")
    expect(page.locator('[data-range-button="7d"]')).to_have_class(re.compile(r"\bactive\b"))
    expect(page.locator('[data-range-button="24h"]')).not_to_have_class(re.compile(r"\bactive\b"))
    week = page.evaluate(OPTION, f"item{host.pk}-cpu")
    assert week["max"] - week["min"] == pytest.approx(7 * 86400 * 1000, abs=120_000)
    assert week["points"][0] > 150, week
    assert week["bands"] == 2, "a rollup is drawn with its min-max band (CPU: two lines)"
    expect(page.locator("[data-resolution]")).to_contain_text("minimum")  # "Averages per …, with the band"
    network = page.evaluate(OPTION, f"item{host.pk}-net0")
    assert all(n > 0 for n in network["points"])
    shot(page, "ci-7d")


def test_a_custom_range(page, log_in, host):
    open_item(page, log_in, host)
    page.click('[data-range-button="custom"]')
    form = page.locator("[data-custom-range]")
    expect(form).to_be_visible()
    start = form.locator('input[name="start"]')
    assert start.input_value()  # filled with the range on screen
    # The two days before yesterday, typed on the person's clock (Asia/Shanghai).
    now = time.time() + 8 * 3600
    start.fill(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now - 3 * 86400)))
    form.locator('input[name="end"]').fill(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now - 86400)))
    form.locator('button[type="submit"]').click()
    expect(page.locator("[data-monitoring-charts]")).to_have_attribute("data-loaded-range", "custom")
    cpu = page.evaluate(OPTION, f"item{host.pk}-cpu")
    assert cpu["max"] - cpu["min"] == pytest.approx(2 * 86400 * 1000, abs=120_000)
    assert cpu["points"][0] > 100

    # An end before the start is refused in the page, with nothing asked of the server.
    form.locator('input[name="end"]').fill(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now - 4 * 86400)))
    form.locator('button[type="submit"]').click()
    expect(form.locator("[data-range-error]")).to_have_text("The end must be after the start.")


def test_the_charts_in_chinese(page, log_in, shot, host):
    open_item(page, log_in, host)
    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("[data-monitoring-charts]")).to_have_attribute("data-loaded-range", "24h")
    expect(page.locator('[data-range-button="7d"]')).to_have_text(translation_of("7 d"))
    expect(page.locator("#panel-monitoring_charts")).to_contain_text(translation_of("Disk usage"))
    expect(page.locator("#monitoring-checks")).to_contain_text(translation_of("Last run"))
    page.click('[data-range-button="7d"]')
    expect(page.locator("[data-monitoring-charts]")).to_have_attribute("data-loaded-range", "7d")
    shot(page, "ci-7d-zh")
