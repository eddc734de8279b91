"""The central collector's Django side: which checks it runs (as CheckSpecs, secrets decrypted),
where its results go (straight into accept_batch: the same path and validation as a push, without
the HTTP hop), and the machine opsdesk runs on, monitored from the first start as an item of the
"internal" customer.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from opsdesk.cmdb.models import CIKind, ConfigurationItem
from opsdesk.core import crypto
from opsdesk.core import services as core_services
from opsdesk.core.models import Customer
from opsdesk.core.models.tokens import hash_token, new_raw_token
from opsdesk.monitoring import ingest, services
from opsdesk.monitoring.models import Agent, AgentKind, Check, IngestBatch

INTERNAL_CODE = "internal"
# Where a check with no target of its own points: the first of these attributes the item has.
ADDRESS_ATTRIBUTES = ("ip_address", "hostname", "url", "address")


def ensure_local_monitoring() -> tuple[Agent, Agent]:
    """The internal customer, this machine as its item with a host agent, and the central
    collector (made once; `opsdesk setup` calls it). Answers (host agent, central collector)."""
    with transaction.atomic():
        customer = Customer.objects.filter(code=INTERNAL_CODE).first()
        if customer is None:
            # Stored once, read by everyone: in both languages, as people name their customers here.
            customer = core_services.create(Customer, {"code": INTERNAL_CODE, "name": "Internal 内部"}, actor=None)
        central = Agent.objects.filter(kind=AgentKind.COLLECTOR, central=True).first()
        if central is None:
            central = Agent.objects.create(customer=customer, name="Central collector 中心采集器",
                                           kind=AgentKind.COLLECTOR, central=True,
                                           key_hash=hash_token(new_raw_token()))
        host = Agent.objects.filter(customer=customer, kind=AgentKind.HOST, name=socket.gethostname()).first()
        if host is None:
            hostname = socket.gethostname()
            item = ConfigurationItem.objects.filter(customer=customer, name=hostname).first()
            if item is None:
                item = core_services.create(ConfigurationItem, {
                    "customer": customer, "kind": CIKind.objects.get(slug="server"), "name": hostname,
                    "attributes": {"hostname": hostname, "ip_address": "127.0.0.1"}}, actor=None)
            host = Agent.objects.create(customer=customer, configuration_item=item, name=hostname,
                                        key_hash=hash_token(new_raw_token()))
            _watch_own_health(host.configuration_item)
    return host, central


def _watch_own_health(item: ConfigurationItem) -> None:
    """opsdesk's own /healthz as a check of its machine: a component in trouble (the worker, the
    disk) turns it critical, which is what an alert rule on it will want."""
    listen = "127.0.0.1" if settings.LISTEN_HOST in ("0.0.0.0", "::", "") else settings.LISTEN_HOST
    host = f"[{listen}]" if ":" in listen else listen
    Check.objects.get_or_create(configuration_item=item, name="opsdesk /healthz", defaults={
        "customer": item.customer, "type": "http", "target": f"http://{host}:{settings.LISTEN_PORT}/healthz",
        "params": {"expect_status": [200], "warning": 2000, "critical": 5000}, "interval": 60, "timeout": 10})


def target_of(check: Check) -> str:
    if check.target:
        return check.target
    attributes = check.configuration_item.attributes or {}
    for name in ADDRESS_ATTRIBUTES:
        if attributes.get(name):
            return str(attributes[name])
    return check.configuration_item.name


def secrets_of(check: Check) -> dict[str, str]:
    credential = check.credential
    if credential is None or not credential.secret_encrypted:
        return {"username": credential.username} if credential else {}
    secret = crypto.decrypt(credential.secret_encrypted)
    try:
        # SNMPv3 and other structured credentials keep a JSON object; a password is a plain string.
        parsed = orjson.loads(secret)
    except orjson.JSONDecodeError:
        parsed = None
    values = parsed if isinstance(parsed, dict) else {"password": secret, "community": secret}
    return {"username": credential.username, **{k: str(v) for k, v in values.items()}}


def load_specs(collector: Agent) -> list[Any]:
    """The enabled checks this collector runs, as the engine takes them."""
    from opsdesk.monitoring.checks.base import CheckSpec

    checks = (services.checks_run_by(collector).filter(enabled=True)
              .select_related("configuration_item", "credential"))
    specs = []
    for check in checks:
        try:
            secrets = secrets_of(check)
        except crypto.CredentialKeyError:
            secrets = {}  # the check runs and fails with an authentication error the engineer can see
        specs.append(CheckSpec(id=check.id, type=check.type, target=target_of(check), params=check.params or {},
                               interval=float(check.interval), timeout=float(check.timeout), secrets=secrets))
    return specs


class DirectSink:
    """Hands batches to accept_batch as if pushed: validated the same way, stored as one row each,
    filed by the worker. Sequence numbers continue from the agent's last one."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        # The queue's too: where it is a database of its own, last_seq is set only when filed.
        queued = IngestBatch.objects.filter(agent_id=agent.pk).aggregate(seq=Max("seq"))["seq"] or 0
        self.seq = max(queued, Agent.objects.filter(pk=agent.pk).values_list("last_seq", flat=True).get())

    def send(self, body: dict[str, Any]) -> None:
        self.seq += 1
        body = {"seq": self.seq, "sent_at": time.time(), **body}
        raw = orjson.dumps(body)
        try:
            services.accept_batch(self.agent, ingest.validate(ingest.parse(raw)), raw)
        except ingest.Invalid:
            # A check deleted between loading and reporting: drop that result, keep the rest.
            body["checks"] = [r for r in body.get("checks", ())
                              if services.checks_run_by(self.agent).filter(id=r["id"]).exists()]
            if body.get("checks") or body.get("samples"):
                raw = orjson.dumps(body)
                services.accept_batch(self.agent, ingest.validate(ingest.parse(raw)), raw)
