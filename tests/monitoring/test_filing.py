"""Filing pushed batches into series and chunks, check results into state, and the SQL store's
rollups, compaction and retention."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from opsdesk.core.models.tokens import hash_token, new_raw_token
from opsdesk.monitoring import filing, ingest
from opsdesk.monitoring.models import (
    Agent,
    AgentKind,
    Check,
    CheckStateChange,
    Chunk,
    IngestBatch,
    Rollup,
    Series,
    StoreCursor,
)
from opsdesk.monitoring.store import get_store
from opsdesk.monitoring.store.base import FIVE_MINUTES, ONE_HOUR, RAW, Points
from opsdesk.monitoring.store.sql import SQLStore
from tests.factories import ConfigurationItemFactory, make_agent

pytestmark = pytest.mark.django_db

T0 = 1_764_000_000.0  # a whole hour: 2025-11-24 16:00 UTC


def client_for(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def push(client: APIClient, body: dict):
    return client.post("/api/monitoring/push/", data=json.dumps(body), content_type="application/json")


@pytest.fixture
def host(customer_a):
    raw = new_raw_token()
    return make_agent(customer_a, raw=raw), client_for(raw)


@pytest.fixture(autouse=True)
def _fresh_series_cache():
    # The filer remembers series ids across passes; each test has its own database rows.
    filing._series_ids.clear()
    yield
    filing._series_ids.clear()


def test_a_pass_takes_batches_up_to_its_byte_bound_and_always_one(host):
    _agent, client = host
    for seq, count in ((1, 3), (2, 3), (3, 3), (4, 10)):
        column = ["load1", {}, [T0 + seq * 100 + i for i in range(count)], [float(i) for i in range(count)]]
        assert push(client, {"seq": seq, "columns": [column]}).status_code == 200
    sizes = [len(bytes(p)) for p in IngestBatch.objects.order_by("id").values_list("payload", flat=True)]
    assert filing.file_pass(size=sum(sizes[:3]) - 1) == (2, 6, True)  # a third batch would go over
    assert filing.file_pass(size=1) == (1, 3, True)  # over the bound alone: still filed
    assert filing.file_pass(size=sizes[3]) == (1, 10, False)
    assert filing.file_pass() == (0, 0, False)
    assert sorted(Chunk.objects.values_list("count", flat=True)) == [3, 6, 10]


def test_samples_of_both_formats_are_filed_per_series_with_the_last_value(host):
    agent, client = host
    cpu = {"name": "host_cpu_utilisation", "labels": {}, "value": 10.0, "ts": T0}
    assert push(client, {"seq": 1, "samples": [cpu, {**cpu, "value": 30.0, "ts": T0 + 30}]}).status_code == 200
    assert push(client, {"seq": 2, "series": [
        {"name": "host_cpu_utilisation", "labels": {}, "points": [[T0 + 60, 20.0]]},
        {"name": "host_network_bits_per_second", "labels": {"interface": "eth0", "direction": "in"},
         "points": [[T0 + 60, 8e6], [T0 + 90, 9e6]]}]}).status_code == 200

    batches, samples, _full = filing.file_pass()

    assert (batches, samples) == (2, 5)
    assert not IngestBatch.objects.filter(filed_at=None).exists()
    by_name = {s.name: s for s in Series.objects.filter(configuration_item=agent.configuration_item)}
    assert set(by_name) == {"host_cpu_utilisation", "host_network_bits_per_second"}
    cpu_series = by_name["host_cpu_utilisation"]
    assert (cpu_series.last_ts, cpu_series.last_value, cpu_series.customer_id) == (T0 + 60, 20.0, agent.customer_id)
    assert by_name["host_network_bits_per_second"].labels == {"interface": "eth0", "direction": "in"}
    data = get_store().query([(cpu_series.id, cpu_series.name, {})], T0 - 1, T0 + 120)[cpu_series.id]
    assert data.step == RAW
    assert (data.ts, data.avg) == ([T0, T0 + 30, T0 + 60], [10.0, 30.0, 20.0])


def test_a_filer_whose_time_is_up_with_batches_pending_hands_on_to_a_new_task(host, settings, monkeypatch):
    from opsdesk.monitoring import tasks

    _agent, client = host
    woken: list[tuple] = []
    monkeypatch.setattr(tasks.file_batches, "delay", lambda *args: woken.append(args))
    settings.CELERY_TASK_ALWAYS_EAGER = False  # as in a worker: tasks go to the queue

    assert filing.file_pending(budget_seconds=0) == 0  # nothing pending: nothing to hand on
    assert woken == []
    cpu = {"name": "host_cpu_utilisation", "labels": {}, "value": 10.0, "ts": T0}
    assert push(client, {"seq": 1, "samples": [cpu]}).status_code == 200
    woken.clear()  # (the push's own wake-up, had its commit run)
    assert filing.file_pending(budget_seconds=0) == 0  # the time is up before the first pass
    assert woken == [()]
    settings.CELERY_TASK_ALWAYS_EAGER = True  # (no lingering for more pushes)
    assert filing.file_pending() == 1  # the new task files it
    assert woken == [()]


def test_a_series_is_made_once_whatever_the_label_order_and_the_pass(host):
    agent, client = host
    first = {"name": "disk_used_ratio", "labels": {"mount": "/", "device": "sda1"}, "value": 0.5, "ts": T0}
    second = {**first, "labels": {"device": "sda1", "mount": "/"}, "ts": T0 + 30}
    push(client, {"seq": 1, "samples": [first]})
    filing.file_pass()
    filing._series_ids.clear()  # as another worker process would see it
    push(client, {"seq": 2, "samples": [second]})
    filing.file_pass()
    assert Series.objects.filter(name="disk_used_ratio").count() == 1


def test_a_late_replayed_batch_does_not_move_the_last_value_back(host):
    agent, client = host
    sample = {"name": "load1", "labels": {}, "value": 2.0, "ts": T0 + 60}
    push(client, {"seq": 2, "samples": [sample]})
    filing.file_pass()
    push(client, {"seq": 1, "samples": [{**sample, "value": 1.0, "ts": T0}]})  # replayed after an outage
    filing.file_pass()
    series = Series.objects.get(name="load1")
    assert (series.last_ts, series.last_value) == (T0 + 60, 2.0)
    data = get_store().query([(series.id, "load1", {})], T0 - 1, T0 + 61)[series.id]
    assert data.ts == [T0, T0 + 60]  # in time order, whatever order they were filed in


def test_a_failing_store_leaves_the_batches_unfiled_and_no_series(host, monkeypatch):
    agent, client = host
    push(client, {"seq": 1, "samples": [{"name": "up", "labels": {}, "value": 1, "ts": T0}]})

    def broken(self, points):
        raise ConnectionError("store unreachable")

    monkeypatch.setattr(SQLStore, "write", broken)
    with pytest.raises(ConnectionError):
        filing.file_pass()
    assert IngestBatch.objects.filter(filed_at=None).count() == 1
    assert not Series.objects.exists()
    filing._series_ids.clear()
    monkeypatch.undo()
    assert filing.file_pass() == (1, 1, False)


@pytest.fixture
def collector(customer_a):
    raw = new_raw_token()
    agent = Agent.objects.create(customer=customer_a, name="central", kind=AgentKind.COLLECTOR, central=True,
                                 key_hash=hash_token(raw))
    return agent, client_for(raw)


def make_check(item, **over) -> Check:
    return Check.objects.create(customer=item.customer, configuration_item=item, name=over.pop("name", "web"),
                                type=over.pop("type", "http"), target="https://example.test/", **over)


def result(check, state, ts, value=0.2, **over):
    return {"id": check.id, "state": state, "ts": ts, "code": over.pop("code", "ok"), "message": "",
            "samples": [{"name": "check_latency_seconds", "labels": {}, "value": value}], **over}


def test_check_results_set_state_history_and_series_of_the_checks_item(collector, customer_a):
    agent, client = collector
    item = ConfigurationItemFactory(customer=customer_a)
    check = make_check(item)
    push(client, {"seq": 1, "checks": [result(check, "ok", T0)]})
    push(client, {"seq": 2, "checks": [result(check, "critical", T0 + 60, code="refused",
                                              message="connection refused", value=0.0)]})
    push(client, {"seq": 3, "checks": [result(check, "critical", T0 + 120, code="refused")]})
    filing.file_pass()
    check.refresh_from_db()
    assert check.state == "critical" and check.last_code == "refused"
    assert check.state_since.timestamp() == T0 + 60 and check.last_run_at.timestamp() == T0 + 120
    history = list(CheckStateChange.objects.filter(monitor_check=check).order_by("at")
                   .values_list("previous", "state"))
    assert history == [("pending", "ok"), ("ok", "critical")]
    series = Series.objects.get(name="check_latency_seconds")
    assert (series.configuration_item_id, series.monitor_check_id) == (item.id, check.id)


def test_a_state_change_keeps_the_values_its_reason_is_written_with(collector, customer_a, engineer_client):
    from django.urls import reverse
    from django.utils import translation

    agent, client = collector
    check = make_check(ConfigurationItemFactory(customer=customer_a), type="snmp")
    push(client, {"seq": 1, "checks": [result(check, "critical", T0, code="interface_down",
                                              message="interface ge-0/0/1 is not up (ifOperStatus 2)",
                                              params={"interface": "ge-0/0/1"})]})
    filing.file_pass()
    change = CheckStateChange.objects.get(monitor_check=check)
    assert change.params == {"interface": "ge-0/0/1"}
    engineer_client.cookies["django_language"] = "zh-hans"
    with translation.override("zh-hans"):
        page = engineer_client.get(reverse("monitoring:checkstatechange_list")).content.decode()
        detail = engineer_client.get(reverse("monitoring:check_detail", args=[check.pk])).content.decode()
    assert "接口 ge-0/0/1 未处于 up 状态" in page and "ifOperStatus" not in page
    assert "接口 ge-0/0/1 未处于 up 状态" in detail  # the check's history, as the list says it


def test_state_changes_are_announced_after_commit(collector, customer_a, django_capture_on_commit_callbacks):
    agent, client = collector
    check = make_check(ConfigurationItemFactory(customer=customer_a))
    heard = []
    from opsdesk.monitoring.signals import check_state_changed

    def listener(sender, changes, **kwargs):
        heard.extend((c.monitor_check_id, c.previous, c.state) for c in changes)

    check_state_changed.connect(listener)
    try:
        push(client, {"seq": 1, "checks": [result(check, "warning", T0)]})
        with django_capture_on_commit_callbacks(execute=True):
            filing.file_pass()
    finally:
        check_state_changed.disconnect(listener)
    assert heard == [(check.id, "pending", "warning")]


def test_a_collector_may_report_only_the_checks_it_runs(collector, customer_a, customer_b):
    agent, client = collector
    other_raw = new_raw_token()
    remote = Agent.objects.create(customer=customer_b, name="remote", kind=AgentKind.COLLECTOR,
                                  key_hash=hash_token(other_raw))
    mine = make_check(ConfigurationItemFactory(customer=customer_a), name="mine")
    theirs = make_check(ConfigurationItemFactory(customer=customer_b), name="theirs", collector=remote)

    refused = push(client, {"seq": 1, "checks": [result(mine, "ok", T0), result(theirs, "ok", T0)]})
    assert refused.status_code == 400
    assert "id" in refused.json()["checks"]["1"]
    assert push(client_for(other_raw), {"seq": 1, "checks": [result(mine, "ok", T0)]}).status_code == 400
    assert push(client_for(other_raw), {"seq": 1, "checks": [result(theirs, "ok", T0)]}).status_code == 200
    assert IngestBatch.objects.count() == 1


def test_a_host_agent_sends_no_check_results_and_a_collector_no_loose_samples(host, collector, customer_a):
    _agent, host_client = host
    _collector, collector_client = collector
    check = make_check(ConfigurationItemFactory(customer=customer_a))
    assert "checks" in push(host_client, {"seq": 1, "checks": [result(check, "ok", T0)]}).json()
    loose = {"seq": 1, "samples": [{"name": "up", "labels": {}, "value": 1, "ts": T0}]}
    assert "samples" in push(collector_client, loose).json()
    assert not IngestBatch.objects.exists()


# --- the SQL store ---------------------------------------------------------------------------------

@pytest.fixture
def series(customer_a):
    item = ConfigurationItemFactory(customer=customer_a)
    return Series.objects.create(customer=customer_a, configuration_item=item, name="cpu", labels={}, key="k")


def write(series, ts, values):
    SQLStore().write([Points(series_id=series.id, item_id=series.configuration_item_id,
                             customer_id=series.customer_id, name=series.name, labels={}, ts=ts, values=values)])


def test_rollups_hold_min_avg_max_per_bucket_and_merge_later_samples(series):
    store = SQLStore()
    write(series, [T0, T0 + 60, T0 + 120], [1.0, 5.0, 3.0])
    assert store.roll_up() == 1
    write(series, [T0 + 180, T0 + 300], [7.0, 2.0])  # the first bucket again, and the next one
    assert store.roll_up() == 1
    assert store.roll_up() == 0  # nothing new: nothing counted twice
    five = {r.ts: (r.min, r.max, r.sum, r.count) for r in Rollup.objects.filter(series=series, step=FIVE_MINUTES)}
    assert five == {T0: (1.0, 7.0, 16.0, 4), T0 + 300: (2.0, 2.0, 2.0, 1)}
    hour = Rollup.objects.get(series=series, step=ONE_HOUR)
    assert (hour.ts, hour.min, hour.max, hour.sum, hour.count) == (T0, 1.0, 7.0, 18.0, 5)

    data = store.query([(series.id, "cpu", {})], T0, T0 + 7 * 86400)[series.id]
    assert data.step == FIVE_MINUTES
    assert (data.ts, data.min, data.avg, data.max) == ([T0, T0 + 300], [1.0, 2.0], [4.0, 2.0], [7.0, 2.0])
    month = store.query([(series.id, "cpu", {})], T0, T0 + 30 * 86400)[series.id]
    assert month.step == ONE_HOUR and month.avg == [18.0 / 5]


def test_rollups_of_chunks_across_bucket_edges_match_a_sample_by_sample_sum(series):
    import random

    rng = random.Random(7)
    reference: dict[tuple[int, int], list[float]] = {}
    moment = T0 - 0.5
    for _chunk in range(40):
        ts, values = [], []
        for _sample in range(rng.randint(1, 30)):
            moment += rng.choice([0.25, 1.0, 15.0, 299.75, 300.0, 3600.0])
            ts.append(moment)
            values.append(round(rng.uniform(-50, 50), 2))
        write(series, ts, values)
        for t, v in zip(ts, values, strict=True):
            for step in (FIVE_MINUTES, ONE_HOUR):
                bucket = reference.setdefault((step, int(t) - int(t) % step), [v, v, 0.0, 0])
                bucket[0], bucket[1] = min(bucket[0], v), max(bucket[1], v)
                bucket[2] += v
                bucket[3] += 1
    SQLStore().roll_up()
    stored = {(r.step, r.ts): (r.min, r.max, r.sum, r.count) for r in Rollup.objects.filter(series=series)}
    assert stored.keys() == reference.keys()
    for key, (low, high, total, count) in reference.items():
        assert stored[key][0:2] == (low, high) and stored[key][3] == count, key
        assert stored[key][2] == pytest.approx(total, abs=1e-6), key


def test_housekeeping_rolls_up_pass_after_pass_until_caught_up(series, monkeypatch):
    from opsdesk.monitoring.store import sql

    monkeypatch.setattr(sql, "ROLLUP_CHUNKS_PER_PASS", 2)
    for minute in range(5):
        write(series, [T0 + minute * 60], [1.0])
    assert SQLStore().housekeeping(T0 + 600)["rolled_up"] == 5
    assert Rollup.objects.get(series=series, step=ONE_HOUR).count == 5
    for minute in range(5, 10):
        write(series, [T0 + minute * 60], [1.0])
    assert SQLStore().housekeeping(T0 + 600, budget_seconds=0)["rolled_up"] == 2  # the next run goes on
    assert SQLStore().roll_up_all() == 3


def test_compaction_merges_a_finished_block_and_keeps_samples_and_rollups_right(series):
    store = SQLStore()
    for minute in range(10):
        write(series, [T0 + minute * 60], [float(minute)])
    store.roll_up()
    now = T0 + 5 * ONE_HOUR
    assert store.compact(now) == 9
    assert Chunk.objects.filter(series=series).count() == 1
    data = store.query([(series.id, "cpu", {})], T0, T0 + ONE_HOUR)[series.id]
    assert data.avg == [float(m) for m in range(10)]
    # The merged chunk kept the first one's id, which the roll-up already passed: not counted again.
    assert store.roll_up() == 0
    assert Rollup.objects.get(series=series, step=ONE_HOUR).count == 10


def test_compaction_merges_a_blocks_second_hour_and_many_series_in_one_pass(series):
    # PostgreSQL's CAST rounds: a block's second hour was taken for the next block and never merged.
    other = Series.objects.create(customer=series.customer, configuration_item=series.configuration_item,
                                  name="mem", labels={}, key="other")
    store = SQLStore()
    for which in (series, other):
        for minute in (70, 80, 90, 119):  # T0 is a block's start: all in its second hour
            write(which, [T0 + minute * 60, T0 + minute * 60 + 30], [float(minute), float(minute) + 0.5])
    write(series, [T0 + 2 * ONE_HOUR + 60], [9.0])  # the next block: stays as it is
    store.roll_up()
    assert store.compact(T0 + 5 * ONE_HOUR) == 6
    assert store.compact(T0 + 5 * ONE_HOUR) == 0
    assert Chunk.objects.filter(series=other).count() == 1
    merged = Chunk.objects.filter(series=series).order_by("start")
    assert [(c.start, c.end, c.count) for c in merged] == [
        (T0 + 70 * 60, T0 + 119 * 60 + 30, 8), (T0 + 2 * ONE_HOUR + 60, T0 + 2 * ONE_HOUR + 60, 1)]
    data = store.query([(other.id, "mem", {})], T0, T0 + 2 * ONE_HOUR)[other.id]
    assert data.avg == [70.0, 70.5, 80.0, 80.5, 90.0, 90.5, 119.0, 119.5]


def test_compaction_looks_back_a_day_of_blocks_only(series):
    from opsdesk.monitoring.store import sql

    store = SQLStore()
    for minute in (1, 2):
        write(series, [T0 + minute * 60], [1.0])
    store.roll_up()
    # As if the roll-up had seen them while they were recent (T0 is long past: it took them as late).
    StoreCursor.objects.filter(name__in=(sql.OLD_FROM, sql.OLD_TO)).delete()
    a_day_later = T0 + (sql.COMPACT_LOOKBACK_BLOCKS + 1) * sql.BLOCK_SECONDS
    assert store.compact(a_day_later + sql.BLOCK_SECONDS) == 0  # its block is past the look-back
    assert store.compact(a_day_later) == 1  # the block is the earliest looked at


def test_late_chunks_of_blocks_past_the_look_back_are_merged_too(series):
    """An agent's replay of a long outage files chunks into blocks days old: the roll-up notes
    the range, and compaction merges it once the recent blocks are done, then forgets it."""
    import math
    import time

    from opsdesk.monitoring.store import sql

    store = SQLStore()
    now = time.time()
    three_days_ago = now - now % sql.BLOCK_SECONDS - 3 * 86400
    for minute in (1, 2, 3):
        write(series, [three_days_ago + minute * 60], [float(minute)])
    write(series, [now - 7200 * 20 + 60], [9.0])  # another block, also late: one chunk, nothing to merge
    assert store.roll_up() == 4
    noted = dict(StoreCursor.objects.filter(name__in=(sql.OLD_FROM, sql.OLD_TO)).values_list("name", "value"))
    assert noted == {sql.OLD_FROM: math.floor(three_days_ago + 60), sql.OLD_TO: math.ceil(now - 7200 * 20 + 60)}
    assert store.compact(now) == 2
    merged = Chunk.objects.get(series=series, start__lt=three_days_ago + 7200)
    assert merged.count == 3 and store.query([(series.id, "cpu", {})], three_days_ago, three_days_ago + 600,
                                              step=0)[series.id].avg == [1.0, 2.0, 3.0]
    assert store.compact(now) == 0  # nothing left: the range is forgotten
    assert not StoreCursor.objects.filter(name__in=(sql.OLD_FROM, sql.OLD_TO)).exists()


def test_compaction_leaves_chunks_not_yet_rolled_up(series):
    store = SQLStore()
    write(series, [T0], [1.0])
    write(series, [T0 + 60], [2.0])
    assert store.compact(T0 + 5 * ONE_HOUR) == 0
    assert Chunk.objects.filter(series=series).count() == 2


def test_retention_deletes_raw_samples_and_rollups_past_their_time(series, settings):
    settings.OPSDESK_METRICS_RAW_DAYS = 7
    settings.OPSDESK_METRICS_ROLLUP_DAYS = 365
    store = SQLStore()
    write(series, [T0], [1.0])
    write(series, [T0 + 8 * 86400], [2.0])
    store.roll_up()
    for step in (FIVE_MINUTES, ONE_HOUR):  # each step's are expired (they are looked up by step)
        Rollup.objects.create(series=series, step=step, ts=int(T0 - 400 * 86400), min=0, max=0, sum=0, count=1)
    done = store.expire(T0 + 8 * 86400 + 60)
    assert done == {"expired_chunks": 1, "expired_rollups": 2}
    assert list(Chunk.objects.values_list("start", flat=True)) == [T0 + 8 * 86400]
    assert Rollup.objects.filter(ts__lt=T0 - 300 * 86400).count() == 0


def test_a_short_range_past_the_raw_retention_is_drawn_from_the_rollups(series, settings, monkeypatch):
    # A custom range of a few hours a month ago: its raw samples are gone, its rollups are not.
    settings.OPSDESK_METRICS_RAW_DAYS = 7
    store = SQLStore()
    write(series, [T0 + 60, T0 + 120, T0 + 360], [1.0, 3.0, 5.0])
    store.roll_up()
    now = T0 + 30 * 86400
    monkeypatch.setattr("opsdesk.monitoring.store.sql.time.time", lambda: now)
    assert store.expire(now)["expired_chunks"] == 1
    data = store.query([(series.id, "cpu", {})], T0, T0 + 6 * ONE_HOUR)[series.id]
    assert (data.step, data.ts, data.avg, data.max) == (FIVE_MINUTES, [T0, T0 + 300], [2.0, 5.0], [3.0, 5.0])
    recent = store.query([(series.id, "cpu", {})], now - 6 * ONE_HOUR, now)[series.id]
    assert recent.step == RAW  # within the retention: raw samples, as before


def test_five_minute_rollups_may_be_kept_shorter_and_charts_then_use_the_hourly_ones(series, settings, monkeypatch):
    settings.OPSDESK_METRICS_RAW_DAYS = 7
    settings.OPSDESK_METRICS_ROLLUP_5M_DAYS = 30
    settings.OPSDESK_METRICS_ROLLUP_DAYS = 365
    store = SQLStore()
    write(series, [T0 + 60, T0 + 360], [2.0, 4.0])
    store.roll_up()
    now = T0 + 60 * 86400
    monkeypatch.setattr("opsdesk.monitoring.store.sql.time.time", lambda: now)
    assert store.expire(now) == {"expired_chunks": 1, "expired_rollups": 2}  # both 5-minute buckets
    assert list(Rollup.objects.values_list("step", flat=True)) == [ONE_HOUR]
    data = store.query([(series.id, "cpu", {})], T0, T0 + 6 * ONE_HOUR)[series.id]
    assert (data.step, data.ts, data.avg) == (ONE_HOUR, [T0], [3.0])
    assert store.averages([(series.id, "cpu", {})], T0, T0 + 6 * ONE_HOUR) == {series.id: 3.0}  # trends


def test_old_chunks_wait_for_the_roll_up_before_they_expire(series, settings):
    settings.OPSDESK_METRICS_RAW_DAYS = 7
    store = SQLStore()
    write(series, [T0], [4.0])  # replayed late: already past the raw retention, not rolled up
    assert store.expire(T0 + 30 * 86400) == {"expired_chunks": 0, "expired_rollups": 0}
    store.roll_up()
    assert store.expire(T0 + 30 * 86400)["expired_chunks"] == 1
    assert Rollup.objects.get(series=series, step=ONE_HOUR).sum == 4.0


def test_housekeeping_runs_all_three_and_keeps_its_cursor(series):
    write(series, [T0], [1.0])
    done = SQLStore().housekeeping(T0 + 60)
    assert done["rolled_up"] == 1
    assert StoreCursor.objects.get(name="rollup").value == Chunk.objects.get().id


def test_the_rollup_upsert_works_on_this_database(series):
    # min()/max() of two values are LEAST()/GREATEST() on PostgreSQL: both must merge the same.
    write(series, [T0], [5.0])
    SQLStore().roll_up()
    write(series, [T0 + 1], [-1.0])
    SQLStore().roll_up()
    row = Rollup.objects.get(series=series, step=FIVE_MINUTES)
    assert (row.min, row.max, row.count) == (-1.0, 5.0, 2)


def test_deleting_a_series_deletes_its_chunks_and_rollups(series):
    # The database holds no constraint for them (migration monitoring 0010): Django's delete must.
    other = Series.objects.create(customer=series.customer, configuration_item=series.configuration_item,
                                  name="mem", labels={}, key="other")
    write(series, [T0], [1.0])
    write(other, [T0], [2.0])
    SQLStore().roll_up()
    series.delete()
    assert set(Chunk.objects.values_list("series_id", flat=True)) == {other.id}
    assert set(Rollup.objects.values_list("series_id", flat=True)) == {other.id}


def test_a_pass_for_a_series_deleted_meanwhile_files_and_its_chunk_expires(series, settings):
    # A filer that found the series' id before it was deleted still writes; nothing reads the
    # chunk (queries go by the series of an item), and retention removes it as any other.
    settings.OPSDESK_METRICS_RAW_DAYS = 7
    gone = Series.objects.get(pk=series.pk)
    series.delete()
    write(gone, [T0], [3.0])
    store = SQLStore()
    assert store.roll_up() == 1
    assert store.query([(gone.id, "cpu", {})], T0 - 60, T0 + 60)[gone.id].avg == [3.0]
    assert store.expire(T0 + 8 * 86400)["expired_chunks"] == 1
    assert not Chunk.objects.filter(series_id=gone.id).exists()


def test_a_filed_batch_lets_its_body_go_and_its_row_is_forgotten_after_a_day(host):
    import datetime as dt

    from django.utils import timezone

    agent, client = host
    push(client, {"seq": 1, "samples": [{"name": "up", "labels": {}, "value": 1, "ts": T0}]})
    filing.file_pass()
    row = IngestBatch.objects.get()
    assert row.filed_at is not None and bytes(row.payload) == b""
    assert filing.forget_filed(timezone.now() + dt.timedelta(hours=1)) == 0
    assert filing.forget_filed(timezone.now() + dt.timedelta(hours=25)) == 1
    assert not IngestBatch.objects.exists()


def test_a_late_resend_of_a_forgotten_batch_is_not_stored_again(host):
    import datetime as dt

    from django.utils import timezone

    agent, client = host
    body = {"seq": 1, "samples": [{"name": "up", "labels": {}, "value": 1, "ts": T0}]}
    push(client, body)
    push(client, {**body, "seq": 2})
    filing.file_pass()
    assert filing.forget_filed(timezone.now() + dt.timedelta(hours=25)) == 2
    agent.refresh_from_db()
    assert agent.forgotten_up_to == 2
    again = push(client, body)  # the answer to batch 1 was lost, and the agent tries again
    assert again.status_code == 200 and again.json() == {"stored_up_to": 1}
    assert not IngestBatch.objects.exists()
    assert push(client, {**body, "seq": 3}).status_code == 200
    assert list(IngestBatch.objects.values_list("seq", flat=True)) == [3]


@pytest.mark.parametrize(("batches", "samples", "full", "took", "recent", "pause"), [
    (200, 200_000, False, 0.1, 0, filing.HEAVY_PASS_SECONDS - 0.1),  # heavy ingest, all pending taken: the next waits
    (200, 200_000, False, filing.HEAVY_PASS_SECONDS + 0.2, 0, 0.0),  # a pass slower than the pace: at once
    (5, 5_000, False, 0.01, 0, 0.0),         # light (an alert's samples): at once, as ever
    (5, 5_000, False, 0.01, 50_000, 0.0),    # light, and so were the passes of the last second
    (20, 20_000, False, 0.01, 90_000, filing.HEAVY_PASS_SECONDS - 0.01),  # small passes back to back, heavy ingest
    (400, 400_000, True, 0.1, 0, 0.0),       # full (by batches or bytes): more is waiting
])
def test_a_heavy_pass_paces_the_next_and_a_light_or_full_one_does_not(batches, samples, full, took, recent, pause):
    assert filing._pause_after(filing.Filed(batches, samples, full), took, recent) == pytest.approx(pause)


@pytest.mark.django_db
def test_the_pause_before_a_pass_ends_at_a_lull_and_lasts_while_batches_come(host, monkeypatch):
    """A heavy pass's pause waits for batches to gather (bigger chunks), but not after pushes
    stop: once none came for LULL_SECONDS, the next pass starts."""
    _agent, client = host
    clock, slept = [0.0], []
    arriving = [False]

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds
        if arriving[0]:
            answer = push(client, {"seq": len(slept), "samples": [{"name": "x", "labels": {}, "ts": 1764000000.0,
                                                                   "value": 1}]})
            assert answer.status_code == 200, answer.content

    monkeypatch.setattr(filing.time, "sleep", sleep)
    monkeypatch.setattr(filing.time, "monotonic", lambda: clock[0])
    filing._gather(1.0)
    assert slept == [filing.LULL_SECONDS]  # nothing came: the pass starts after one look
    slept.clear()
    arriving[0] = True
    filing._gather(1.0)
    assert sum(slept) == pytest.approx(1.0) and len(slept) >= 9  # batches kept coming: the whole pause


def test_a_batch_that_cannot_be_read_is_set_aside_and_the_others_filed(host, caplog):
    agent, client = host
    assert push(client, {"seq": 1, "columns": [["load1", {}, [T0], [1.0]]]}).status_code == 200
    # A row no version of opsdesk can read (a disk's damage, a format gone): packed, then garbage.
    broken = IngestBatch.objects.create(agent=agent, seq=2, samples=1, payload=ingest.PACKED + b"\xff\x00\x00\x00{")
    assert push(client, {"seq": 3, "columns": [["load1", {}, [T0 + 30], [3.0]]]}).status_code == 200
    assert filing.file_pending() == 2
    broken.refresh_from_db()
    assert broken.filed_at is not None
    assert bytes(broken.payload).startswith(ingest.PACKED)  # kept to be looked at
    assert f"batch {broken.id} (agent {agent.id}) cannot be read" in caplog.text
    assert not IngestBatch.objects.filter(filed_at=None).exists()
    assert Series.objects.get(name="load1").last_value == 3.0


def test_a_pass_failing_for_another_reason_sets_nothing_aside(host, monkeypatch):
    from opsdesk.monitoring.alerting import evaluate

    _agent, client = host
    assert push(client, {"seq": 1, "columns": [["load1", {}, [T0], [1.0]]]}).status_code == 200

    def broken_rule_evaluation(*args, **kwargs):
        raise RuntimeError("a bug in a rule's evaluation")

    monkeypatch.setattr(evaluate, "on_filed", broken_rule_evaluation)
    with pytest.raises(RuntimeError, match="a bug"):
        filing.file_pass()
    assert IngestBatch.objects.get().filed_at is None  # waits for the fix, whole
    monkeypatch.undo()
    assert filing.file_pass() == (1, 1, False)
