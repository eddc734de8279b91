"""Metric values written for a person, in the unit the metric's name says."""

from __future__ import annotations

import pytest
from django.utils import translation

from opsdesk.monitoring.units import format_metric, format_quantity, unit_of


@pytest.mark.parametrize(("name", "unit"), [
    ("cpu_usage_percent", "percent"), ("memory_total_bytes", "bytes"),
    ("disk_read_bytes_per_second", "bytes_per_second"), ("if_in_bits_per_second", "bits_per_second"),
    ("http_response_seconds", "seconds"), ("load1", "number"), ("mysql_connections", "number"),
])
def test_a_metrics_unit_comes_from_its_name(name, unit):
    assert unit_of(name) == unit


@pytest.mark.parametrize(("value", "unit", "text"), [
    (61.234, "percent", "61.2 %"),
    (100.0, "percent", "100.0 %"),
    (512.0, "bytes", "512 B"),
    (8 * 1024 ** 3, "bytes", "8.0 GiB"),
    (3_145_728.25, "bytes_per_second", "3.0 MiB/s"),
    (48e6, "bits_per_second", "48.0 Mbit/s"),
    (0.0123, "seconds", "12.3 ms"),
    (0.5, "seconds", "500 ms"),
    (4.25, "seconds", "4.2 s"),
    (35 * 60 + 10, "seconds", "35 min"),
    (5 * 3600 + 10 * 60, "seconds", "5 h 10 min"),
    (3 * 86400 + 4 * 3600 + 59, "seconds", "3 d 4 h"),
    (0.42, "number", "0.42"),
    (17.0, "number", "17"),
    (2.096186970694176, "number", "2.1"),
    (1_250_000.0, "number", "1.2 M"),
    (-3.5, "number", "-3.5"),
    (None, "percent", "—"),
])
def test_values_are_written_in_their_unit(value, unit, text):
    with translation.override("en"):
        assert format_quantity(value, unit) == text


def test_values_read_in_chinese():
    with translation.override("zh-hans"):
        assert format_metric(3 * 86400 + 4 * 3600, "system_uptime_seconds") == "3 天 4 小时"
        assert format_metric(2 * 3600 + 5 * 60, "system_uptime_seconds") == "2 小时 5 分钟"
        assert format_metric(61.25, "cpu_usage_percent") == "61.2 %"
