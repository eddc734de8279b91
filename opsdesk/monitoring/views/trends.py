"""Trends and bottlenecks: the busiest items by CPU, memory, disk I/O and network over a window.

Per metric, one `averages()` call over every series the person may see (never one per item),
then one `query()` for the sparklines of the few items that made the list. Disk I/O and network
count an item's busiest device (read + written, received + sent): that is where a bottleneck
is, and summing devices would count a partition and its disk, or a bridge and its port, twice.
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for
from opsdesk.monitoring import units
from opsdesk.monitoring.models import Series
from opsdesk.monitoring.store import get_store
from opsdesk.monitoring.views import chosen_customer, scoped

SIZES = (5, 10, 25)
DEFAULT_SIZE = 10
WINDOWS = {"1h": (3600, gettext_lazy("Last hour")), "24h": (86400, gettext_lazy("Last 24 hours")),
           "7d": (7 * 86400, gettext_lazy("Last 7 days"))}
DEFAULT_WINDOW = "24h"
# Points of a sparkline, whatever the window.
SPARK_POINTS = 40


@dataclass(frozen=True)
class Metric:
    key: str
    title: object
    note: object
    names: tuple[str, ...]          # series names (opsdesk/agent/metrics.py) added into one value
    unit: str                       # "percent", "bytes" or "bits" (per second; bits: the bytes' series × 8)
    device_label: str = ""          # for per-device metrics: the label naming the device
    empty: object = ""


METRICS = [
    Metric("cpu", gettext_lazy("CPU usage"), gettext_lazy("average over the window"), ("cpu_usage_percent",),
           "percent", empty=gettext_lazy("No CPU figures in this window.")),
    Metric("memory", gettext_lazy("Memory used"), gettext_lazy("average over the window"),
           ("memory_used_percent",), "percent", empty=gettext_lazy("No memory figures in this window.")),
    Metric("disk", gettext_lazy("Disk throughput"), gettext_lazy("read + written, busiest disk"),
           ("disk_read_bytes_per_second", "disk_written_bytes_per_second"), "bytes", "device",
           empty=gettext_lazy("No disk I/O figures in this window.")),
    Metric("network", gettext_lazy("Network bandwidth"), gettext_lazy("received + sent, busiest interface"),
           ("network_received_bytes_per_second", "network_sent_bytes_per_second"), "bits", "interface",
           empty=gettext_lazy("No network figures in this window.")),
]

SCALE = {"bits": 8.0}
# The trends' units, as opsdesk.monitoring.units names them.
_UNITS = {"percent": units.PERCENT, "bytes": units.BYTES_PER_SECOND, "bits": units.BITS_PER_SECOND}


def format_value(value: float, unit: str) -> str:
    """12.3 %, 4.5 MiB/s or 120.0 Mbit/s (value in the unit's base: percent, bytes or bits per
    second), with the person's decimal separator."""
    return units.format_quantity(value, _UNITS[unit])


def busiest(metric: Metric, series: list[Series], start: float, end: float, size: int) -> list[dict]:
    """The `size` items with the highest value of `metric`: one averages() call for all of them."""
    scale = SCALE.get(metric.unit, 1.0)
    averages = get_store().averages([(s.pk, s.name, s.labels) for s in series], start, end)
    # item -> device -> [value, series ids]; a metric without devices has one device, "".
    per_device: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(lambda: [0.0, []]))
    by_id = {s.pk: s for s in series}
    for series_id, average in averages.items():
        s = by_id.get(series_id)
        if s is None:
            continue
        device = str(s.labels.get(metric.device_label, "")) if metric.device_label else ""
        into = per_device[s.configuration_item_id][device]
        if metric.device_label:
            into[0] += average * scale
        else:
            into[0] = max(into[0], average * scale)  # one series per item; the highest if there are more
        into[1].append(series_id)
    ranked = []
    for item_id, devices in per_device.items():
        device, (value, ids) = max(devices.items(), key=lambda d: d[1][0])
        ranked.append({"item_id": item_id, "device": device, "value": value, "series": ids})
    ranked.sort(key=lambda r: (-r["value"], r["item_id"]))
    top = ranked[:size]
    _add_sparklines(top, by_id, start, end, metric.unit, scale)
    return top


def resample(ts: list[float], values: list[float], start: float, end: float,
             points: int = SPARK_POINTS) -> list[float | None]:
    """One series as `points` values over [start, end]: the average of the samples in each slot.
    A slot without a sample is drawn from its neighbours when the series merely reports less often
    than the slots are wide, and left empty (a gap in the line) when the series has a hole there:
    more than 1.5 times its usual interval without a sample."""
    width = (end - start) / points
    sums, counts = [0.0] * points, [0] * points
    for t, v in zip(ts, values, strict=True):
        index = min(points - 1, max(0, int((t - start) // width)))
        sums[index] += v
        counts[index] += 1
    gaps = sorted(b - a for a, b in zip(ts, ts[1:], strict=False))
    usual = gaps[len(gaps) // 2] if gaps else 0.0
    out: list[float | None] = []
    for index in range(points):
        if counts[index]:
            out.append(sums[index] / counts[index])
            continue
        centre = start + (index + 0.5) * width
        after = bisect.bisect_left(ts, centre)
        if 0 < after < len(ts) and ts[after] - ts[after - 1] <= 1.5 * usual:
            t0, t1, v0, v1 = ts[after - 1], ts[after], values[after - 1], values[after]
            out.append(v0 + (v1 - v0) * (centre - t0) / (t1 - t0))
        else:
            out.append(None)
    return out


def _add_sparklines(rows: list[dict], by_id: dict[int, Series], start: float, end: float, unit: str,
                    scale: float) -> None:
    """Each row's line (its devices' series added): one query() for all rows."""
    wanted = [by_id[i] for row in rows for i in row["series"]]
    if not wanted:
        return
    data = get_store().query([(s.pk, s.name, s.labels) for s in wanted], start, end)
    for row in rows:
        total: list[float | None] = [None] * SPARK_POINTS
        for series_id in row["series"]:
            found = data.get(series_id)
            if found is None:
                continue
            for index, value in enumerate(resample(found.ts, found.avg, start, end)):
                if value is not None:
                    total[index] = (total[index] or 0.0) + scale * value
        row["spark"] = {"unit": unit, "values": [None if v is None else round(v, 3) for v in total]}


def spark_labels(start: float, end: float) -> list[str]:
    """The time of each sparkline point, in the person's time zone (the same for every row)."""
    width = (end - start) / SPARK_POINTS
    return [_bucket_label(start + (i + 0.5) * width, end - start) for i in range(SPARK_POINTS)]


def _bucket_label(ts: float, span: float) -> str:
    moment = timezone.localtime(dt.datetime.fromtimestamp(ts, tz=dt.UTC))
    return moment.strftime("%H:%M" if span <= 86400 else "%m-%d %H:%M")


def _choice(raw: str, allowed, default):
    return raw if raw in allowed else default


@login_required
def trends(request):
    user = request.user
    if not can(user, "view", ConfigurationItem):
        raise PermissionDenied
    customers, selected = chosen_customer(request)
    window = _choice(str(request.GET.get("window", "")), WINDOWS, DEFAULT_WINDOW)
    raw_size = str(request.GET.get("top", ""))
    size = int(raw_size) if raw_size.isdigit() and int(raw_size) in SIZES else DEFAULT_SIZE
    end = time.time()
    start = end - WINDOWS[window][0]

    items = scope_for(user, ConfigurationItem.objects.all())
    series = scoped(user, Series.objects.filter(name__in=[n for m in METRICS for n in m.names], last_ts__gte=start,
                                                configuration_item__in=items))
    if selected is not None:
        series = series.filter(customer=selected)
    by_name: dict[str, list[Series]] = defaultdict(list)
    for s in series.only("pk", "name", "labels", "configuration_item_id", "customer_id"):
        by_name[s.name].append(s)

    panels = []
    for metric in METRICS:
        found = [s for name in metric.names for s in by_name.get(name, [])]
        panels.append({"metric": metric, "rows": busiest(metric, found, start, end, size) if found else []})
    wanted = {row["item_id"] for panel in panels for row in panel["rows"]}
    named = ConfigurationItem.objects.filter(pk__in=wanted).select_related("customer").in_bulk()
    for panel in panels:
        for row in panel["rows"]:
            row["item"] = named[row["item_id"]]
            row["url"] = reverse("cmdb:configurationitem_detail", args=[row["item_id"]])
            row["display"] = format_value(row["value"], panel["metric"].unit)

    here = {"customer": selected.pk} if selected is not None and user.is_staff_role else {}
    window_links = [{"label": label, "active": key == window,
                     "url": "?" + urlencode({**here, "window": key, "top": size})}
                    for key, (_seconds, label) in WINDOWS.items()]
    size_links = [{"label": n, "active": n == size, "url": "?" + urlencode({**here, "window": window, "top": n})}
                  for n in SIZES]
    enrol_url = ""
    if user.is_staff_role:
        try:
            enrol_url = reverse("monitoring:enrol")
        except NoReverseMatch:
            enrol_url = ""
    return render(request, "monitoring/trends.html", {
        "title": _("Trends and bottlenecks"), "customers": customers, "selected": selected,
        "show_customer": selected is None, "window": window, "window_label": WINDOWS[window][1], "size": size,
        "window_links": window_links, "size_links": size_links, "panels": panels, "enrol_url": enrol_url,
        "any_data": any(p["rows"] for p in panels), "spark_labels": spark_labels(start, end),
    })
