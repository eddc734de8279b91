"""Monitoring's domain functions: enrolment tokens, enrolling an agent, accepting pushed batches,
recording check results and inventories, and what people do to checks."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opsdesk.cmdb.models import CIKind, ConfigurationItem
from opsdesk.core import services as core_services
from opsdesk.core.actions import domain_action
from opsdesk.core.models import Customer, User
from opsdesk.core.models.tokens import hash_token, new_raw_token
from opsdesk.core.permissions import can
from opsdesk.core.scoping import object_in_scope
from opsdesk.monitoring import forwarding, ingest, queue_insert
from opsdesk.monitoring.models import (
    Agent,
    AgentKind,
    Check,
    CheckState,
    CheckStateChange,
    EnrolmentToken,
    IngestBatch,
    Inventory,
)
from opsdesk.monitoring.routers import queue_database
from opsdesk.monitoring.signals import check_state_changed

ENROLMENT_DAYS = 7


class EnrolmentRefused(PermissionDenied):
    """The enrolment token is unknown, used or expired."""


# --- enrolment -------------------------------------------------------------------------------

def create_enrolment_token(customer: Customer, *, name: str, actor: User | None,
                           days: int = ENROLMENT_DAYS) -> tuple[EnrolmentToken, str]:
    """Make a one-time enrolment token for `customer`; the raw value is returned once, never stored."""
    if not name.strip():
        raise ValidationError({"name": _("This field is required.")})
    if days < 1:
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    raw = new_raw_token()
    token = EnrolmentToken(customer=customer, name=name.strip(), key_hash=hash_token(raw),
                           expires_at=timezone.now() + dt.timedelta(days=days), created_by=actor)
    # Staff who serve the customer (the entry's view roles, within their customers).
    if actor is not None and not (can(actor, "view", token) and object_in_scope(actor, token, write=True)):
        raise PermissionDenied()
    with domain_action(actor, "add_enrolment_token", token, check=False):
        token.save()
    return token, raw


def _host_item(customer: Customer, hostname: str, attributes: dict[str, Any]) -> ConfigurationItem:
    item = ConfigurationItem.objects.filter(customer=customer, name=hostname).first()
    if item is not None:
        return item
    data = {"customer": customer, "kind": CIKind.objects.get(slug="server"), "name": hostname,
            "attributes": {"hostname": hostname, **attributes}}
    return core_services.create(ConfigurationItem, data, actor=None)


def enrol(raw_token: str, *, hostname: str, attributes: dict[str, Any] | None = None,
          kind: str = AgentKind.HOST) -> tuple[Agent, str]:
    """Spend a one-time enrolment token. A host agent gets its host's configuration item (found
    by customer and host name, or created); a collector (which runs checks inside the customer's
    network) gets none. Answers the agent and its raw token (shown once)."""
    with transaction.atomic():
        token = (EnrolmentToken.objects.select_for_update().select_related("customer")
                 .filter(key_hash=hash_token(raw_token)).first())
        if token is None or not token.is_usable:
            raise EnrolmentRefused(_("The enrolment token is not valid, has expired or was already used."))
        item = _host_item(token.customer, hostname, attributes or {}) if kind == AgentKind.HOST else None
        raw = new_raw_token()
        agent = Agent(customer=token.customer, configuration_item=item, name=hostname, kind=kind,
                      key_hash=hash_token(raw))
        with domain_action(None, "enrol", agent, check=False):
            agent.save()
            token.used_at = timezone.now()
            token.save(update_fields=["used_at"])
    return agent, raw


def authenticate_agent(raw: str) -> Agent | None:
    return Agent.objects.filter(key_hash=hash_token(raw)).first()


# --- the push ------------------------------------------------------------------------------------

def _wake_filer() -> None:
    """Ask a worker to file what was pushed; at most once a second per process (a busy agent
    fleet pushes hundreds of batches a second, and one filing pass takes them all)."""
    if cache.add("opsdesk:monitoring:filer-wakeup", 1, timeout=1):
        from opsdesk.monitoring import tasks

        tasks.file_batches.delay()


def checks_run_by(agent: Agent):
    """The checks a collector runs: those named for it, and for the central one those named for none."""
    if agent.central:
        return Check.objects.filter(collector__isnull=True) | Check.objects.filter(collector=agent)
    return Check.objects.filter(collector=agent)


def _check_scope(agent: Agent, body: dict[str, Any]) -> None:
    if agent.kind == AgentKind.COLLECTOR and (body.get("samples") or body.get("series") or body.get("columns")):
        raise ingest.Invalid({"samples": [_("A collector's samples must come with the result of their check.")]})
    results = body.get("checks")
    if not results:
        return
    if agent.kind != AgentKind.COLLECTOR:
        raise ingest.Invalid({"checks": [_("Only a collector sends check results.")]})
    mine = set(checks_run_by(agent).filter(id__in={r["id"] for r in results}).values_list("id", flat=True))
    for index, result in enumerate(results):
        if result["id"] not in mine:
            raise ingest.Invalid({"checks": {str(index): {"id": [_("This collector runs no check with this id.")]}}})


# --- back-pressure ----------------------------------------------------------------------------------
# A push is refused (429, Retry-After) while the filer is working but behind: its oldest unfiled
# batch older than BACKLOG_SECONDS while it filed something within FILER_ALIVE_SECONDS. Without it,
# pushes beyond what filing keeps up with were all accepted and waited in the queue: the time until
# a sample is on a chart grew with the length of the overload (bench/ingest.py: 4.4 s after 8 s,
# on its way up). The agents keep a refused batch in their spool and send it again. A filer that
# filed nothing for FILER_ALIVE_SECONDS (no worker running) refuses nothing: the batches wait for
# it, as before. Looked up at most every BACKLOG_LOOK_SECONDS per process (two index look-ups).
BACKLOG_SECONDS = 2.0
FILER_ALIVE_SECONDS = 5.0
BACKLOG_LOOK_SECONDS = 0.25
_backlog_seen: tuple[float, bool] = (-1e9, False)


def filing_behind() -> bool:
    """Whether a push should wait (see above)."""
    global _backlog_seen
    looked_at, behind = _backlog_seen
    now = time.monotonic()
    if now - looked_at < BACKLOG_LOOK_SECONDS:
        return behind
    wall = timezone.now()
    unfiled = IngestBatch.objects.filter(filed_at=None)
    oldest = unfiled.order_by("received_at").values_list("received_at", flat=True).first()
    behind = False
    if oldest is not None and (wall - oldest).total_seconds() > BACKLOG_SECONDS:
        newest_filed = (IngestBatch.objects.filter(filed_at__isnull=False).order_by("-filed_at")
                        .values_list("filed_at", flat=True).first())
        behind = newest_filed is not None and (wall - newest_filed).total_seconds() < FILER_ALIVE_SECONDS
    _backlog_seen = (now, behind)
    return behind


def accept_batch(agent: Agent, body: dict[str, Any], raw: bytes) -> int:
    """Store one validated batch (`raw`: what `ingest.checked` says to store) as one row, durable once this
    returns; a batch stored before (same agent and sequence number) is not stored again. Filing
    into per-series storage happens after, off the request path. Returns the sequence number.

    One statement, written as SQL (through the ORM a push cost 1.5 ms of CPU, more than checking
    1,000 samples) and shared with the pushes that meet at it (queue_insert), into the queue's
    database: on SQLite a file of its own, which never waits for the filer's writes
    (monitoring/routers.py). The agent's last_seen_at and last_seq are the
    filer's to set, once a pass (filing._agents_seen): an update of the agent's row per push was
    a statement and a row version per push. A batch of an agent deleted meanwhile is set aside
    by the filer."""
    _check_scope(agent, body)
    return _accept(agent, body, raw)


def _accept(agent: Agent, body: dict[str, Any], raw: bytes) -> int:
    return _accept_packed(agent, body["seq"], ingest.count_samples(body), raw)


def _accept_packed(agent: Agent, seq: int, samples: int, payload: bytes) -> int:
    if seq <= agent.forgotten_up_to:
        # Stored and filed long ago, and its row forgotten since (filing.forget_filed): not twice.
        return seq
    _queue(agent, seq, samples, payload)
    return seq


def _queue(agent: Agent, seq: int, samples: int, payload: bytes, *, may_wait: bool = False) -> bool:
    """Queue the batch's row. `may_wait`: its samples are in the metric store already (a forwarded
    batch's digest), so outside a transaction the row may wait a moment (queue_insert.insert_later)."""
    alias = queue_database()
    now = connections[alias].ops.adapt_datetimefield_value(timezone.now())
    row = queue_insert.QueueRow(agent.pk, seq, samples, payload, now)
    if may_wait and _digest_may_wait(alias):
        queue_insert.insert_later(row, _wake_filer)
        return True
    stored = queue_insert.insert(row)
    if stored:
        transaction.on_commit(_wake_filer, using=alias)
    return stored


def accept_push(agent: Agent, raw: bytes) -> int:
    """Check a pushed body (raising ingest.Invalid) and take its batch: into the queue as one row
    (accept_batch), or, where the metric store takes them directly, its samples straight to the
    store and a digest into the queue (`_forward`). A host agent's body is read in C first where
    the accelerator was built (forwarding.scan: `_forward_scanned`, or the queued row written
    there); whatever it is unsure of goes the Python way below. Returns the sequence number.
    Raises MetricStoreError when the store did not take the samples, forwarding.Busy while another
    request answers the same batch: nothing is queued then, and the agent sends it again."""
    scanned = None
    store = forwarding.direct_store() if agent.configuration_item_id is not None else None
    if agent.kind == AgentKind.HOST:
        scanned = forwarding.scan(raw)
    if scanned is not None and store is not None:
        seq = _forward_scanned(agent, store, raw, scanned)
        if seq is not None:
            return seq
    if scanned is not None and store is None:
        payload = forwarding.scanned_packed(raw, scanned)
        if payload is not None:
            return _accept_packed(agent, scanned.seq, scanned.samples, payload)
    body, head, columns = ingest.checked_columns(raw)
    _check_scope(agent, body)
    if columns is not None and store is not None:
        return _forward(agent, store, head, columns, scanned)
    return _accept(agent, body, raw if columns is None else ingest.packed(head, columns))


def _forward_scanned(agent: Agent, store: forwarding.DirectStore, raw: bytes,
                     scanned: forwarding.Scanned) -> int | None:
    """A host agent's batch read in C (forwarding.scan) into the store, and its digest into the
    queue, as `_forward` does; None when it must go the Python way: its series' layout is not
    known yet, it holds a metric alert rules watch (the digest keeps all of those samples), or
    the C code cannot write its times."""
    seq = scanned.seq
    if seq <= agent.forgotten_up_to:
        return seq
    kept = forwarding.scanned_layout(agent, scanned)
    if kept is None or not forwarding.watched_names().isdisjoint(kept.names):
        return None
    with forwarding.claim(agent.pk, seq) as new:
        if not new:
            return seq
        made = forwarding.scanned_request(raw, scanned, kept)
        if made is None:
            return None
        block, times, values = made
        store.write_block(block, scanned.samples)
        _queue_newest(agent, seq, scanned.samples, (kept.ids, times, values))
        forwarding.queued(agent.pk, seq)
    return seq


def _queue_newest(agent: Agent, seq: int, samples: int, newest: tuple[list[int], list[float], list[float]]) -> None:
    """Queue the digest of a forwarded batch that is only its series' newest samples: outside a
    transaction it waits, and merges with the agent's next batches (queue_insert.insert_newest_later)."""
    if _digest_may_wait(queue_database()):
        queue_insert.insert_newest_later(agent.pk, seq, samples, newest, _wake_filer)
        return
    head = {"seq": seq, ingest.IN_STORE: True, ingest.FORWARDED: samples}
    _queue(agent, seq, samples, ingest.packed(head, (), newest))


def _forward(agent: Agent, store: forwarding.DirectStore, head: dict[str, Any], columns: list[ingest.Column],
             scanned: forwarding.Scanned | None = None) -> int:
    """A host agent's samples into the store, then their digest into the queue (forwarding.py).
    `scanned`: the body as read in C, whose layout is kept for the next batches."""
    seq = head["seq"]
    if seq <= agent.forgotten_up_to:
        return seq
    with forwarding.claim(agent.pk, seq) as new:
        if not new:
            return seq
        # The row counts the samples it stands for: filing paces its passes by them.
        samples = sum(len(column[2]) for column in columns)
        common = forwarding.common_times(columns)
        found = forwarding.send(store, agent, columns, samples)
        if scanned is not None:
            forwarding.keep_layout(agent, scanned.layout, found, columns)
        watched, latest = forwarding.digest(found, columns, forwarding.watched_names(), common)
        head = {**head, ingest.IN_STORE: True, ingest.FORWARDED: samples}
        _queue(agent, seq, samples, ingest.packed(head, watched, latest), may_wait=True)
        forwarding.queued(agent.pk, seq)
    return seq


def _digest_may_wait(alias: str) -> bool:
    """Whether a forwarded batch's digest may wait to be queued: not inside a transaction (the
    caller's, a test's), which the row must commit or roll back with."""
    return not connections[alias].in_atomic_block


# --- results and inventories ---------------------------------------------------------------------

def record_check_results(results: list[tuple[int, dict[str, Any]]], checks: dict[int, Check]) -> None:
    """Write the newest result of each check and a history row per change of state; called by
    filing inside its transaction. Listeners (alerting) hear of the changes after commit."""
    changes: list[CheckStateChange] = []
    touched: dict[int, Check] = {}
    # Every result in time order, not just the newest: a pass may hold ok → critical → critical,
    # and the history must say when the state changed, not when it was last seen.
    for check_id, result in sorted(results, key=lambda pair: pair[1]["ts"]):
        check = checks[check_id]
        at = dt.datetime.fromtimestamp(result["ts"], tz=dt.UTC)
        if check.last_run_at is not None and at < check.last_run_at:
            continue  # an older result replayed late changes nothing
        message = result.get("message", "")[:500]
        if result["state"] != check.state:
            changes.append(CheckStateChange(monitor_check=check, previous=check.state, state=result["state"], at=at,
                                            code=result.get("code", ""), message=message,
                                            params=result.get("params", {})))
            check.state, check.state_since = result["state"], at
        check.last_run_at, check.last_code = at, result.get("code", "")
        check.last_message, check.last_params = message, result.get("params", {})
        touched[check_id] = check
    Check.objects.bulk_update(list(touched.values()), ["state", "state_since", "last_run_at", "last_code",
                                                       "last_message", "last_params"], batch_size=500)
    if changes:
        CheckStateChange.objects.bulk_create(changes)
        transaction.on_commit(lambda: check_state_changed.send(sender=Check, changes=changes))


INVENTORY_ATTRIBUTES = {"os": lambda inv: " ".join(filter(None, [inv.get("os", {}).get("name"),
                                                                 inv.get("os", {}).get("version")]))[:100],
                        "cpu_cores": lambda inv: inv.get("cpu", {}).get("count"),
                        "memory_gb": lambda inv: round(inv["memory_bytes"] / 2**30, 1) if inv.get("memory_bytes")
                        else None}


def store_inventory(agent: Agent, collected_at: float, inventory: dict[str, Any]) -> bool:
    """Keep a host agent's inventory and bring its item's attributes (OS, CPUs, memory) up to date.
    Answers whether anything changed."""
    if agent.configuration_item_id is None:
        raise ValidationError({"inventory": _("Only a host agent sends an inventory.")})
    import orjson

    digest = hashlib.sha256(orjson.dumps(inventory, option=orjson.OPT_SORT_KEYS)).hexdigest()
    current = Inventory.objects.filter(agent=agent).first()
    if current is not None and current.digest == digest:
        return False
    with transaction.atomic():
        Inventory.objects.update_or_create(agent=agent, defaults={
            "collected_at": dt.datetime.fromtimestamp(collected_at, tz=dt.UTC), "digest": digest, "data": inventory})
        item = agent.configuration_item
        schema = item.kind.attribute_schema.get("properties", {})
        found = {name: read(inventory) for name, read in INVENTORY_ATTRIBUTES.items() if name in schema}
        changed = {k: v for k, v in found.items() if v not in (None, "") and item.attributes.get(k) != v}
        if changed:
            core_services.update(item, {"attributes": {**item.attributes, **changed}}, actor=None)
    return True


# --- what people do to checks --------------------------------------------------------------------

def set_check_enabled(check: Check, *, actor: User | None, enabled: bool) -> Check:
    """Enable or disable a check. Disabling writes a row in its state history (to "pending", code
    "disabled"), so that availability counts the time it was off as no data, also once it runs
    again; the first result after enabling writes the next row as any result does. No listener is
    told: nothing about the watched item changed."""
    with domain_action(actor, "enable" if enabled else "disable", check):
        was_enabled = check.enabled
        check.enabled = enabled
        if not enabled:
            previous = check.state
            check.state, check.state_since = CheckState.PENDING, timezone.now()
            if was_enabled:
                CheckStateChange.objects.create(monitor_check=check, previous=previous, state=CheckState.PENDING,
                                                at=check.state_since, code="disabled")
        check.save(update_fields=["enabled", "state", "state_since", "changed_at"])
    return check


def enable_check(check: Check, *, actor: User | None) -> Check:
    return set_check_enabled(check, actor=actor, enabled=True)


def disable_check(check: Check, *, actor: User | None) -> Check:
    return set_check_enabled(check, actor=actor, enabled=False)
