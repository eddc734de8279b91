"""The busiest items: top N by CPU, memory, disk I/O and network over a window, with samples written
through the metric store, scoped to what the person may see."""

from __future__ import annotations

import time

import pytest

from opsdesk.monitoring.store import get_store
from opsdesk.monitoring.views.trends import METRICS, SPARK_POINTS, format_value, resample
from tests.factories import ConfigurationItemFactory, make_series_with_points

pytestmark = pytest.mark.django_db

URL = "/monitoring/trends/"
MiB = 1024 * 1024


def points(now: float, value: float, *, span: float = 3000, every: float = 60) -> list[tuple[float, float]]:
    """Samples every `every` seconds over the last `span` seconds, all of `value`."""
    count = int(span // every)
    return [(now - span + i * every, value) for i in range(count)]


def host(customer, name: str, now: float, *, cpu: float, memory: float, disks=None, nics=None, span=3000.0):
    """An item with host agent series (opsdesk/agent/metrics.py names): disks and nics map a device
    to its (read, written) or (received, sent) bytes per second."""
    item = ConfigurationItemFactory(customer=customer, name=name)
    make_series_with_points(item, "cpu_usage_percent", points(now, cpu, span=span))
    make_series_with_points(item, "memory_used_percent", points(now, memory, span=span))
    for device, (read, written) in (disks or {}).items():
        make_series_with_points(item, "disk_read_bytes_per_second", points(now, read, span=span), {"device": device})
        make_series_with_points(item, "disk_written_bytes_per_second", points(now, written, span=span),
                                {"device": device})
    for nic, (received, sent) in (nics or {}).items():
        make_series_with_points(item, "network_received_bytes_per_second", points(now, received, span=span),
                                {"interface": nic})
        make_series_with_points(item, "network_sent_bytes_per_second", points(now, sent, span=span),
                                {"interface": nic})
    return item


def panel(response, key: str) -> list[dict]:
    return next(p["rows"] for p in response.context["panels"] if p["metric"].key == key)


def ranking(response, key: str) -> list[tuple[str, str]]:
    return [(row["item"].name, row["display"]) for row in panel(response, key)]


@pytest.fixture
def hosts(customer_a, customer_b):
    now = time.time()
    return {
        "web": host(customer_a, "web-01", now, cpu=35.0, memory=80.0,
                    disks={"sda": (MiB, MiB), "sda1": (MiB, 0.5 * MiB)},
                    nics={"eth0": (10 * MiB, 5 * MiB), "docker0": (MiB, MiB)}),
        "db": host(customer_a, "db-01", now, cpu=90.0, memory=60.0, disks={"nvme0n1": (40 * MiB, 24 * MiB)},
                   nics={"eth0": (2048.0, 512.0)}),
        "idle": host(customer_a, "idle-01", now, cpu=2.5, memory=20.0, disks={"vda": (100.0, 0.0)}),
        "secret": host(customer_b, "b-hot-01", now, cpu=99.0, memory=99.0, disks={"sdb": (900 * MiB, 0.0)},
                       nics={"ens3": (900 * MiB, 0.0)}),
    }


def test_it_ranks_items_by_each_metric_with_units(admin_client, customer_a, hosts):
    response = admin_client.get(URL, {"customer": customer_a.pk, "window": "1h"})
    assert response.status_code == 200
    assert ranking(response, "cpu") == [("db-01", "90.0 %"), ("web-01", "35.0 %"), ("idle-01", "2.5 %")]
    assert ranking(response, "memory") == [("web-01", "80.0 %"), ("db-01", "60.0 %"), ("idle-01", "20.0 %")]
    # Disk: read + written of the busiest device (sda, not sda + its partition sda1).
    assert ranking(response, "disk") == [("db-01", "64.0 MiB/s"), ("web-01", "2.0 MiB/s"), ("idle-01", "100 B/s")]
    assert [row["device"] for row in panel(response, "disk")] == ["nvme0n1", "sda", "vda"]
    # Network in bits per second: eth0's 15 MiB/s, not eth0 + docker0.
    assert ranking(response, "network") == [("web-01", "125.8 Mbit/s"), ("db-01", "20.5 kbit/s")]
    page = response.content.decode()
    assert "b-hot-01" not in page
    assert f'href="/cmdb/configurationitems/{hosts["db"].pk}/"' in page


def test_every_row_has_a_sparkline_and_echarts_is_loaded_on_this_page(admin_client, customer_a, hosts):
    response = admin_client.get(URL, {"customer": customer_a.pk, "window": "1h"})
    spark = panel(response, "cpu")[0]["spark"]
    assert spark["unit"] == "percent" and len(spark["values"]) == SPARK_POINTS
    assert [v for v in spark["values"] if v is not None] and all(v in (None, 90.0) for v in spark["values"])
    disk = panel(response, "disk")[0]["spark"]
    assert {v for v in disk["values"] if v is not None} == {64.0 * MiB}  # the device's read + written
    assert len(response.context["spark_labels"]) == SPARK_POINTS
    page = response.content.decode()
    assert "vendor/echarts/echarts.min.js" in page and "data-spark=" in page
    assert "vendor/echarts/echarts.min.js" not in admin_client.get("/monitoring/overview/").content.decode()


def test_one_averages_call_per_metric_over_all_scoped_series(admin_client, hosts, monkeypatch):
    store = get_store()
    calls: list[list[str]] = []
    real = store.averages

    def counting(series, start, end):
        calls.append(sorted({name for _id, name, _labels in series}))
        return real(series, start, end)

    monkeypatch.setattr(store, "averages", counting)
    response = admin_client.get(URL, {"window": "1h"})
    assert len(calls) == len(METRICS)
    assert calls[2] == ["disk_read_bytes_per_second", "disk_written_bytes_per_second"]
    # All customers the administrator may see: B's host leads.
    assert ranking(response, "cpu")[0] == ("b-hot-01", "99.0 %")
    assert response.context["show_customer"] is True


def test_top_n_and_a_bad_size_falls_back_to_ten(admin_client, customer_a):
    now = time.time()
    for n in range(12):
        item = ConfigurationItemFactory(customer=customer_a, name=f"h-{n:02d}")
        make_series_with_points(item, "cpu_usage_percent", points(now, float(n)))
    rows = ranking(admin_client.get(URL, {"window": "1h", "top": "5"}), "cpu")
    assert [name for name, _v in rows] == ["h-11", "h-10", "h-09", "h-08", "h-07"]
    assert len(panel(admin_client.get(URL, {"window": "1h", "top": "7"}), "cpu")) == 10
    assert len(panel(admin_client.get(URL, {"window": "1h", "top": "25"}), "cpu")) == 12


@pytest.mark.parametrize(("window", "span"), [("24h", 20 * 3600.0), ("7d", 6 * 86400.0)])
def test_long_windows_read_the_rollups(admin_client, customer_a, window, span):
    now = time.time()
    busy = ConfigurationItemFactory(customer=customer_a, name="busy")
    calm = ConfigurationItemFactory(customer=customer_a, name="calm")
    make_series_with_points(busy, "cpu_usage_percent", points(now, 70.0, span=span, every=600))
    make_series_with_points(calm, "cpu_usage_percent", points(now, 10.0, span=span, every=600))
    get_store().housekeeping(now)
    response = admin_client.get(URL, {"window": window})
    assert ranking(response, "cpu") == [("busy", "70.0 %"), ("calm", "10.0 %")]
    assert [v for v in panel(response, "cpu")[0]["spark"]["values"] if v is not None]
    # Over the last hour these hosts have hardly a sample: the short window is not the long one.
    assert response.context["window"] == window


def test_a_customer_user_sees_only_their_own_items(customer_client, customer_a, customer_b, hosts):
    response = customer_client.get(URL, {"window": "1h"})
    assert ranking(response, "cpu")[0] == ("db-01", "90.0 %")
    assert "b-hot-01" not in response.content.decode()
    assert response.context["show_customer"] is False
    assert customer_client.get(URL, {"customer": customer_a.pk}).status_code == 200
    assert customer_client.get(URL, {"customer": customer_b.pk}).status_code == 404


def test_an_engineer_of_another_team_sees_nothing_of_the_customer(client, engineer_of_b, customer_a, hosts):
    client.force_login(engineer_of_b)
    assert client.get(URL, {"customer": customer_a.pk}).status_code == 404
    response = client.get(URL, {"window": "1h"})
    assert [name for name, _v in ranking(response, "cpu")] == ["b-hot-01"]
    assert "web-01" not in response.content.decode()


def test_without_data_the_page_says_where_figures_come_from(admin_client, customer_a):
    response = admin_client.get(URL, {"customer": customer_a.pk})
    page = response.content.decode()
    assert response.context["window"] == "24h"
    assert 'id="trends-no-data"' in page and "No CPU figures in this window." in page


def test_units():
    assert format_value(12.345, "percent") == "12.3 %"
    assert format_value(99.96, "percent") == "100.0 %"
    assert format_value(512.0, "bytes") == "512 B/s"
    assert format_value(1536.0, "bytes") == "1.5 KiB/s"
    assert format_value(3 * 1024 ** 3, "bytes") == "3.0 GiB/s"
    assert format_value(999.0, "bits") == "999 bit/s"
    assert format_value(1.25e9, "bits") == "1.2 Gbit/s"


def test_a_sparkline_bridges_slots_narrower_than_the_interval_but_shows_a_hole():
    start, end = 0.0, 4000.0  # 40 slots of 100 s
    every_150 = [float(t) for t in range(0, 4000, 150)]
    line = resample(every_150, [1.0] * len(every_150), start, end)
    assert None not in line and len(line) == SPARK_POINTS
    # Nothing between 1000 s and 3000 s: a hole, not a straight line across it.
    holed = [t for t in every_150 if not 1000 < t < 3000]
    line = resample(holed, [1.0] * len(holed), start, end)
    assert line[15] is None and line[5] == 1.0 and line[35] == 1.0
