"""Demo data, alerting's part: alert rules on the metrics and checks the monitoring demo stored,
the alerts they raised over the last days in every state, a silence, a weekly maintenance window
and a heartbeat, so that the alert list, an alert's timeline and the rule editor's preview have
something true to show.

The alerts are not written as rows: the last three days are replayed through the code that makes
them in production. The rules are evaluated on the stored samples and check results
(evaluate.on_filed, as a filing pass does), the heartbeat is pinged through its receiver, people
acknowledge, comment and silence through the lifecycle's actions, and between these steps the
escalation beat moves the pages on (notify's advance_due_pages, as the scheduler does). Those
functions stamp what they do with `timezone.now()`, so the replay sets that clock for each step
(`_clock`): the timelines then read as the days happened, not as the second the demo was loaded.

Nothing here sends anything: notify's demo makes no notification channel (see opsdesk/notify/demo.py),
and the demo's servers never report again, so no rule fires later by itself, except what would in
life: the pages still escalating, the silenced alert when its silence ends, and the heartbeat when
nobody pings it for a day. The "no data" rule is made disabled for that reason: the demo's servers
stopped reporting when the demo was loaded, and it would fire for each of them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import Min
from django.db.models.signals import pre_save
from django.utils import timezone

from opsdesk.cmdb.models import CIKind, ConfigurationItem
from opsdesk.core import services as core_services
from opsdesk.core.models import Customer, User
from opsdesk.monitoring.alerting import evaluate, lifecycle, rules, silences
from opsdesk.monitoring.inbound import services as inbound_services
from opsdesk.monitoring.inbound.base import Inbound
from opsdesk.monitoring.models import (
    OPEN_STATES,
    Alert,
    AlertRule,
    AlertState,
    Check,
    CheckState,
    InboundIntegration,
    IntegrationKind,
    MaintenanceWindow,
    Recurrence,
    Series,
    Silence,
)
from opsdesk.monitoring.store import get_store
from opsdesk.notify import escalation
from opsdesk.notify.models import Page, PageState

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
STEP = 300  # the monitoring demo's sample interval

# Runbooks are shown as typed (in the rule editor's text box): one line per step, no wrapping.
RUNBOOK_DISK = "\n".join([
    "1. 登录主机，`df -h /` 与 `du -xh / --max-depth=2 | sort -h | tail` 找出占用最多的目录。",
    "2. MySQL 主机先看 binlog：`PURGE BINARY LOGS BEFORE NOW() - INTERVAL 3 DAY;`",
    "3. 清理后仍高于 85%：提交扩容变更。",
    "",
    "1. On the host, `df -h /` and `du -xh / --max-depth=2 | sort -h | tail` show what fills it.",
    "2. On a MySQL server, look at the binlogs first: `PURGE BINARY LOGS BEFORE NOW() - INTERVAL 3 DAY;`",
    "3. Still above 85 % after cleaning up: file a change to grow the disk."])
RUNBOOK_UNREACHABLE = "\n".join([
    "1. 从采集器所在网络 ping / traceroute 该主机，确认是主机还是网络的问题。",
    "2. 通过带外管理（iBMC / iDRAC）查看主机是否宕机。",
    "3. 数据库服务器不可达会影响 ERP：通知客户 IT 经理，并在事件工单中更新进展。",
    "",
    "1. Ping and traceroute the host from the collector's network: is it the host or the network?",
    "2. Look at the host through its out-of-band management (iBMC / iDRAC).",
    "3. The database server down takes the ERP with it: tell the customer's IT manager and keep the incident "
    "ticket up to date."])
RUNBOOK_LATENCY = "\n".join([
    "门店专线延迟升高时，先看运营商的专线监控，再联系运营商报障。",
    "",
    "When the stores' leased lines slow down, look at the carrier's line monitoring first, then report it to "
    "the carrier."])
RUNBOOK_MEMORY = "\n".join([
    "`ps aux --sort=-rss | head` 找出占用内存最多的进程，判断是否内存泄漏；需要时安排重启窗口。",
    "",
    "`ps aux --sort=-rss | head` shows the processes using the most memory: find out whether one leaks, and "
    "plan a restart window if needed."])
RUNBOOK_NO_DATA = "\n".join([
    "agent 停止上报：检查 agent 服务（`systemctl status opsdesk-agent`）及到 opsdesk 的网络。",
    "演示中的服务器并不存在，加载后不再上报，所以此规则默认停用；接入真实 agent 后再启用。",
    "",
    "The agent stopped reporting: look at its service (`systemctl status opsdesk-agent`) and its way to opsdesk.",
    "The demo's servers do not exist and report nothing after the demo is loaded, so this rule is disabled: "
    "enable it once real agents report."])
RUNBOOK_CPU = "\n".join([
    "1. `top -c` 找出占用 CPU 的进程。",
    "2. 数据库服务器：`SHOW PROCESSLIST` 查看正在执行的慢查询，需要时联系应用负责人。",
    "3. 连续多日偏高：评估扩容。",
    "",
    "1. `top -c` shows which processes use the CPU.",
    "2. On a database server, `SHOW PROCESSLIST` shows the slow queries running; call the application's owner "
    "if needed.",
    "3. High for days on end: plan more capacity."])

BACKUP_LOG = """[02:00:03] mysqldump --single-transaction --all-databases | zstd > /backup/erp.sql.zst
[02:41:17] mysqldump: Error 3 when writing to '/backup/erp.sql.zst' (Errcode: 28 - No space left on device)
[02:41:17] backup.sh: exit status 3"""


@contextlib.contextmanager
def _clock(at: dt.datetime) -> Iterator[None]:
    """`timezone.now()` answers `at` while a step of the replay runs, and the audit rows written
    meanwhile bear that time too (auditlog stamps them with the function it imported, not through
    the module), so an alert's change history agrees with its timeline. The demo runs alone, in
    one thread and one transaction: nothing else reads the clock meanwhile."""
    from auditlog.models import LogEntry

    def stamp(sender: type, instance: LogEntry, **kwargs: Any) -> None:
        instance.timestamp = at

    real = timezone.now
    timezone.now = lambda: at
    pre_save.connect(stamp, sender=LogEntry, dispatch_uid="opsdesk.demo_alerting.clock")
    try:
        yield
    finally:
        pre_save.disconnect(sender=LogEntry, dispatch_uid="opsdesk.demo_alerting.clock")
        timezone.now = real


class Story:
    """Steps of the last days, run in time order; before each, the escalation beat moves the pages
    whose next step came due, at the time it came due, as the scheduler would have."""

    def __init__(self) -> None:
        self.steps: list[tuple[dt.datetime, int, Callable[[], Any]]] = []

    def at(self, when: dt.datetime, step: Callable[[], Any]) -> None:
        self.steps.append((when, len(self.steps), step))

    def run(self, until: dt.datetime) -> None:
        for when, _n, step in sorted(self.steps, key=lambda s: (s[0], s[1])):
            self.beat(when)
            with _clock(when):
                step()
        self.beat(until)

    @staticmethod
    def beat(until: dt.datetime) -> None:
        for _round in range(500):  # every page ends after a few steps: a bound, not a limit
            due = Page.objects.filter(state=PageState.ACTIVE, next_at__lte=until).aggregate(at=Min("next_at"))["at"]
            if due is None:
                return
            with _clock(due):
                escalation.advance_due_pages(now=due)


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZONE)


def transitions(ts: list[float], values: list[float], threshold: float, recovery: float,
                for_seconds: int) -> list[float]:
    """The samples at which a filing pass changes an "above threshold" rule's state for one series
    (pending, firing, resolved, a pending one dropped), plus the last sample that kept an alert
    firing: the only passes worth replaying, a few a day instead of 288."""
    found: list[float] = []
    state: str | None = None
    since = last = 0.0
    for t, value in zip(ts, values, strict=True):
        if value > threshold:
            if state is None:
                state, since = "pending" if for_seconds else "firing", t
                found.append(t)
            elif state == "pending" and t - since >= for_seconds:
                state = "firing"
                found.append(t)
            last = t
        elif state == "pending":
            state = None
            found.append(t)
        elif state == "firing" and value <= recovery:
            if last not in found:
                found.append(last)
            state = None
            found.append(t)
    if state == "firing" and last not in found:
        found.append(last)
    return sorted(found)


def replay_series(story: Story, rule_spec: dict[str, Any], series: Series, start: dt.datetime,
                  end: dt.datetime) -> list[dt.datetime]:
    """Schedule the filing passes of `series`' stored samples in (start, end] that matter to a
    threshold rule ("above", with its recovery threshold); answers their times."""
    data = get_store().query([(series.pk, series.name, series.labels or {})], start.timestamp(), end.timestamp(),
                             step=STEP).get(series.pk)
    if data is None:
        return []
    points = [(t, v) for t, v in zip(data.ts, data.avg, strict=True) if t > start.timestamp() and v is not None]
    wanted = set(transitions([t for t, _v in points], [v for _t, v in points], rule_spec["threshold"],
                             rule_spec["recovery_threshold"], rule_spec["for_seconds"]))
    key = (series.configuration_item_id, series.name, tuple(sorted((series.labels or {}).items())))
    passes = []
    for t, value in points:
        if t in wanted:
            passes.append(dt.datetime.fromtimestamp(t, tz=dt.UTC))
            story.at(passes[-1], _pass(key, series, t, value))
    return passes


def _pass(key: evaluate.GroupKey, series: Series, t: float, value: float) -> Callable[[], Any]:
    return lambda: evaluate.on_filed({key: ([t], [value])}, {key: series.pk},
                                     {series.configuration_item_id: series.customer_id}, [], {})


def _check_pass(check: Check) -> Callable[[], Any]:
    """A filing pass with the check's latest result again (the monitoring demo filed it before
    these rules existed)."""
    result = {"id": check.pk, "ts": check.last_run_at.timestamp(), "state": check.state, "code": check.last_code,
              "message": check.last_message, "params": check.last_params}
    return lambda: evaluate.on_filed({}, {}, {check.configuration_item_id: check.customer_id},
                                     [(check.pk, result)], {check.pk: check})


def _open_alert(rule: AlertRule, item: ConfigurationItem) -> Alert:
    return Alert.objects.get(rule=rule, configuration_item=item, state__in=OPEN_STATES)


def _heartbeat(integration_id: int, signal: str, body: Any = None) -> Callable[[], Any]:
    def send() -> None:
        integration = InboundIntegration.objects.get(pk=integration_id)
        inbound_services.receive(integration, Inbound(body=body, now=timezone.now(), signal=signal))
    return send


def load_alerting() -> str:
    rules.forget()  # the rule index is cached per process: these rules are new
    now = timezone.now()
    today = now.astimezone(ZONE).date()
    setup_at = local(today - dt.timedelta(days=3), 10)  # when the team set up alerting
    acme, bluesky = Customer.objects.get(code="ACME"), Customer.objects.get(code="BLUESKY")
    engineer, manager = User.objects.get(username="engineer"), User.objects.get(username="manager")
    server = CIKind.objects.get(slug="server")
    db01 = ConfigurationItem.objects.get(customer=acme, name="acme-db01")
    story = Story()
    made: dict[str, Any] = {}

    def rule(key: str, spec: dict[str, Any]) -> Callable[[], Any]:
        def create() -> None:
            made[key] = core_services.create(AlertRule, spec, actor=None)
        return create

    disk = {"name": "磁盘空间不足 Disk space low", "customer": acme, "kind": "threshold",
            "metric": "filesystem_used_percent", "labels": {"mount": "/"}, "operator": ">", "threshold": 85.0,
            "recovery_threshold": 80.0, "for_seconds": 600, "severity": "major", "runbook": RUNBOOK_DISK}
    bluesky_cpu = {"name": "CPU 持续偏高 CPU high for 15 min", "customer": bluesky, "ci_kind": server,
                   "kind": "threshold", "metric": "cpu_usage_percent", "operator": ">", "threshold": 85.0,
                   "recovery_threshold": 75.0, "for_seconds": 900, "severity": "major", "runbook": RUNBOOK_CPU}
    story.at(setup_at, rule("disk", disk))
    story.at(setup_at, rule("unreachable", {
        "name": "主机不可达 Host unreachable", "customer": acme, "kind": "check_state", "check_states": ["critical"],
        "check_type": "ping", "severity": "critical", "runbook": RUNBOOK_UNREACHABLE}))
    story.at(setup_at, rule("latency", {
        "name": "网络延迟偏高 Network latency high", "customer": bluesky, "kind": "check_state",
        "check_states": ["warning"], "check_type": "ping", "severity": "minor", "runbook": RUNBOOK_LATENCY}))
    story.at(setup_at, rule("memory", {
        "name": "内存使用率过高 Memory above 95%", "customer": bluesky, "ci_kind": server, "kind": "threshold",
        "metric": "memory_used_percent", "operator": ">", "threshold": 95.0, "recovery_threshold": 90.0,
        "for_seconds": 600, "severity": "minor", "runbook": RUNBOOK_MEMORY}))
    story.at(setup_at, rule("no_data", {
        "name": "采集中断 No data from agent", "customer": acme, "ci_kind": server, "kind": "absence",
        "metric": "cpu_usage_percent", "absence_seconds": 900, "severity": "major", "runbook": RUNBOOK_NO_DATA,
        "enabled": False}))

    def setup_the_rest() -> None:
        made["heartbeat"] = inbound_services.create_integration({
            "customer": acme, "name": "夜间备份 Nightly backup", "kind": IntegrationKind.HEARTBEAT,
            "configuration_item": db01, "severity": "major", "period_seconds": 24 * 3600,
            "grace_seconds": 1800}, actor=None)
        sunday = setup_at.date() + dt.timedelta(days=(6 - setup_at.weekday()) % 7)
        core_services.create(MaintenanceWindow, {
            "customer": acme, "name": "数据库每周维护 Weekly database maintenance",
            "configuration_items": list(ConfigurationItem.objects.filter(customer=acme, kind__slug="database")),
            "starts_at": local(sunday, 2), "ends_at": local(sunday, 4), "recurrence": Recurrence.WEEKLY,
            "reason": "数据库补丁与索引重建 Database patches and index rebuilds"}, actor=manager)
    story.at(setup_at, setup_the_rest)

    # The disk of ACME's database server has been full since before alerting was set up.
    disk_series = Series.objects.get(configuration_item=db01, name="filesystem_used_percent")
    fired = replay_series(story, disk, disk_series, setup_at, now)[1]  # pending at the first pass, then firing
    story.at(fired + dt.timedelta(minutes=6), lambda: lifecycle.acknowledge(
        _open_alert(made["disk"], db01), actor=engineer))
    story.at(fired + dt.timedelta(minutes=25), lambda: lifecycle.comment(
        _open_alert(made["disk"], db01), actor=engineer,
        text="根分区 96%，主要是 MySQL binlog；已提交扩容申请（+200 GB），扩容前每天清理。"
             "Root filesystem at 96 %, mostly MySQL binlogs: 200 GB more is requested; cleaned daily until then."))

    # The nightly backup: fine two nights ago, failed last night (the disk again), re-run by hand.
    for days_ago, finished in ((2, (2, 44)), (0, (2, 47))):
        day = today - dt.timedelta(days=days_ago)
        if local(day, *finished) < now:
            story.at(local(day, 2), lambda: _heartbeat(made["heartbeat"].pk, "start")())
            story.at(local(day, *finished), lambda: _heartbeat(made["heartbeat"].pk, "ping")())
    yesterday = today - dt.timedelta(days=1)
    story.at(local(yesterday, 2), lambda: _heartbeat(made["heartbeat"].pk, "start")())
    story.at(local(yesterday, 2, 41), lambda: _heartbeat(made["heartbeat"].pk, "fail", BACKUP_LOG)())

    def backup_alert() -> Alert:
        return Alert.objects.get(integration=made["heartbeat"], state__in=OPEN_STATES)

    story.at(local(yesterday, 8, 52), lambda: lifecycle.acknowledge(backup_alert(), actor=engineer))
    story.at(local(yesterday, 9, 5), lambda: lifecycle.comment(
        backup_alert(), actor=engineer,
        text="备份因根分区空间不足失败；已清理过期 binlog，09:40 手工重跑。"
             "The backup failed for lack of space on /: expired binlogs purged, re-run by hand at 09:40."))
    story.at(local(yesterday, 9, 40), lambda: _heartbeat(made["heartbeat"].pk, "start")())
    story.at(local(yesterday, 10, 26), lambda: _heartbeat(made["heartbeat"].pk, "ping")())

    # BLUESKY's CPU rule came yesterday at noon: its servers' afternoons are replayed since.
    rule_at = local(yesterday, 12)
    story.at(rule_at, rule("bluesky_cpu", bluesky_cpu))
    for series in Series.objects.filter(customer=bluesky, name="cpu_usage_percent",
                                        configuration_item__kind=server).order_by("pk"):
        replay_series(story, bluesky_cpu, series, rule_at, now)

    # Now: a store network cutover at BLUESKY, its latency alerts held for two hours.
    story.at(now - dt.timedelta(minutes=20), lambda: silences.create_silence({
        "customer": bluesky, "matchers": [{"name": "severity", "op": "=", "value": "minor"}],
        "starts_at": timezone.now(), "ends_at": timezone.now() + dt.timedelta(hours=2),
        "reason": "门店网络割接，延迟告警暂不通知 Store network cutover: latency alerts held"}, actor=engineer))
    # The checks' latest results (db01 unreachable, a BLUESKY line slow) meet the check rules.
    for check in Check.objects.filter(customer__in=[acme, bluesky], type="ping",
                                      state__in=[CheckState.WARNING, CheckState.CRITICAL]).order_by("pk"):
        if check.last_run_at is not None and check.last_run_at <= now:
            story.at(check.last_run_at, _check_pass(check))
    story.run(now)

    # A rule made just now in the editor, whose preview shows how often it would have fired.
    core_services.create(AlertRule, {
        "name": "CPU 使用率过高 CPU above 90%", "customer": acme, "ci_kind": server, "kind": "threshold",
        "metric": "cpu_usage_percent", "operator": ">", "threshold": 90.0, "recovery_threshold": 80.0,
        "for_seconds": 300, "severity": "critical", "runbook": RUNBOOK_CPU}, actor=None)

    alerts = Alert.objects.filter(customer__in=[acme, bluesky])
    counts = {state: alerts.filter(state=state).count() for state in AlertState.values}
    held = alerts.filter(state__in=OPEN_STATES, silenced_by__isnull=False).count()
    pending = f"{counts['pending']} pending, " if counts["pending"] else ""
    return (f"{AlertRule.objects.filter(customer__in=[acme, bluesky]).count()} alert rules, "
            f"{alerts.count()} alerts ({counts['firing']} firing, {held} of them silenced; {pending}"
            f"{counts['acknowledged']} acknowledged, {counts['resolved']} resolved), "
            f"{Silence.objects.count()} silence, 1 weekly maintenance window, 1 heartbeat")
