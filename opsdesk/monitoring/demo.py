"""Demo data, monitoring's part: a week of an agent's metrics on some servers of each demo customer,
and the built-in templates' checks on them in every state, so that the charts, the status
overview and the busiest items have something to show.

The demo's items are not real hosts, so their checks are named for a "demo collector" that runs
nowhere: their states and samples are made up here, not measured (the machine opsdesk runs on is
monitored for real, from the first start).
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.demo import CUSTOMERS
from opsdesk.core.models import Customer
from opsdesk.core.models.tokens import hash_token, new_raw_token
from opsdesk.monitoring import services, template_services
from opsdesk.monitoring.models import Agent, AgentKind, Check, Series, Template
from opsdesk.monitoring.series_ids import series_key
from opsdesk.monitoring.store import Points, get_store

DAYS = 7
STEP = 300  # one sample every five minutes: a week is 2,016 points a series
HOSTS = ("app01", "app02", "app03", "db01")
# (state, code, message, params) of a host's first check (ping), as the ping module reports them.
STATES = {
    "app01": ("ok", "ok", "", {}),
    "app02": ("warning", "threshold", "round trip 240ms is above the warning threshold 200ms",
              {"value": 240, "threshold": 200, "what": "round trip", "unit": "ms"}),
    "app03": ("ok", "ok", "", {}),
    "db01": ("critical", "timeout", "no answer within 10 s", {"timeout": 10}),
}


def _wave(rng: random.Random, ts: float, base: float, swing: float, noise: float) -> float:
    """A working-day shape: busy around 14:00 Beijing time, quiet at night, with noise."""
    hour = ((ts + 8 * 3600) % 86400) / 3600
    return max(0.0, base + swing * math.sin((hour - 8) / 24 * 2 * math.pi) + rng.gauss(0, noise))


def _host_series(item: ConfigurationItem, busy: float, rng: random.Random, now: float) -> list[Points]:
    start = now - now % STEP - DAYS * 86400
    stamps = [start + i * STEP for i in range(DAYS * 86400 // STEP + 1)]
    shapes = {
        ("cpu_usage_percent", ()): (25 * busy, 20 * busy, 4, 100),
        ("cpu_iowait_percent", ()): (2, 1.5, 0.5, 100),
        ("memory_used_percent", ()): (55 + 10 * busy, 5, 1, 100),
        ("swap_used_percent", ()): (1, 0.5, 0.2, 100),
        ("load1", ()): (2 * busy, 1.5 * busy, 0.3, None),
        ("load5", ()): (2 * busy, 1.2 * busy, 0.2, None),
        ("load15", ()): (2 * busy, 1.0 * busy, 0.1, None),
        ("filesystem_used_percent", (("fstype", "ext4"), ("mount", "/"))): (40 + 20 * busy, 0.5, 0.1, 100),
        ("disk_read_bytes_per_second", (("device", "vda"),)): (2e6 * busy, 1.5e6 * busy, 3e5, None),
        ("disk_written_bytes_per_second", (("device", "vda"),)): (4e6 * busy, 3e6 * busy, 5e5, None),
        ("network_received_bytes_per_second", (("interface", "eth0"),)): (3e6 * busy, 2.5e6 * busy, 4e5, None),
        ("network_sent_bytes_per_second", (("interface", "eth0"),)): (1e6 * busy, 0.8e6 * busy, 2e5, None),
    }
    points = []
    for (name, labels), (base, swing, noise, cap) in shapes.items():
        values = [_wave(rng, ts, base, swing, noise) for ts in stamps]
        if cap is not None:
            values = [min(cap, v) for v in values]
        series = Series.objects.create(customer=item.customer, configuration_item=item, name=name,
                                       labels=dict(labels), key=series_key(name, labels),
                                       last_ts=stamps[-1], last_value=values[-1])
        points.append(Points(series_id=series.pk, item_id=item.pk, customer_id=item.customer_id, name=name,
                             labels=dict(labels), ts=stamps, values=values))
    # They were first seen when their week of samples begins (the charts open on a range by it).
    Series.objects.filter(pk__in=[p.series_id for p in points]).update(
        created_at=datetime.fromtimestamp(stamps[0], tz=UTC))
    return points


def load_monitoring() -> str:
    rng = random.Random(7)  # the same demo every time
    now = time.time()
    linux = Template.objects.get(slug="linux-server")
    store = get_store()
    hosts = checks = 0
    for spec in CUSTOMERS:
        customer = Customer.objects.get(code=spec["code"])
        collector = Agent.objects.create(customer=customer, name="demo collector", kind=AgentKind.COLLECTOR,
                                         key_hash=hash_token(new_raw_token()))
        prefix = spec["code"].lower()
        for number, host in enumerate(HOSTS):
            item = ConfigurationItem.objects.filter(customer=customer, name=f"{prefix}-{host}").first()
            if item is None:
                continue
            store.write(_host_series(item, busy=1.0 + number * 0.6, rng=rng, now=now))
            template_services.apply_template(linux, item, actor=None)
            made = list(Check.objects.filter(configuration_item=item))
            Check.objects.filter(pk__in=[c.pk for c in made]).update(collector=collector)
            state, code, message, params = STATES[host]
            fine = {"state": "ok", "code": "ok", "message": "", "params": {}}
            results = []
            for check in made:
                # Fine five hours ago; now the first check (ping) has the host's state, the rest are fine.
                now_result = {"state": state, "code": code, "message": message, "params": params}
                for age, result in ((3600 * 5, fine), (60, now_result if check is made[0] else fine)):
                    results.append((check.pk, {"id": check.pk, "ts": now - age, **result}))
            services.record_check_results(results, {c.pk: c for c in made})
            hosts += 1
            checks += len(made)
    while store.housekeeping(now).get("rolled_up"):
        pass
    # Alerting's demo needs these metrics and checks (its rules are evaluated on them), and
    # notify's on-call schedule and escalation policy (its demo runs before this one).
    from opsdesk.monitoring.demo_alerting import load_alerting

    return f"a week of metrics on {hosts} servers, {checks} checks; {load_alerting()}"
