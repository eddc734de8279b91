"""Discovery as domain actions: start a scan, run it in a worker, accept or ignore what it found.

A run is a row first, written in the person's transaction; the task (sent on commit) carries its
id. A worker claims the row (queued → running with an atomic UPDATE), so two workers never scan
the same run. If the worker dies, the periodic sweep sends the run again once it has been running
longer than any scan takes (the run's `started_at` is its lease), and gives up on a run still
unfinished an hour after it was made. Storing what a scan found is an upsert per address, so a
scan run again finishes what a lost one began, and keeps what people did to the devices.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from opsdesk.cmdb.attributes import display_value
from opsdesk.cmdb.models import CIKind, ConfigurationItem, Relation, RelationType
from opsdesk.core import services as core_services
from opsdesk.core.actions import domain_action, permission_denied
from opsdesk.core.models import Credential, User
from opsdesk.core.permissions import can
from opsdesk.core.services import check_references, reveal_credential_secret, writable_data
from opsdesk.monitoring.builtin_templates import DEFAULT_TEMPLATES
from opsdesk.monitoring.discovery import scan
from opsdesk.monitoring.models import DiscoveredDevice, DiscoveryRun, DiscoveryStatus, Template

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=15)  # far longer than a scan of MAX_ADDRESSES takes
GIVE_UP_AFTER = dt.timedelta(hours=1)
QUEUED_GRACE = dt.timedelta(minutes=1)
SNMP_KINDS = ("snmp_community", "snmp_v3")


# --- starting a scan -----------------------------------------------------------------------------

def scan_error_message(exc: scan.ScanError) -> str:
    params = exc.params
    if exc.code == "network_too_large":
        return _("%(network)s has %(count)d addresses; a scan covers at most %(limit)d (a /22). Split it into "
                 "smaller ranges.") % params
    if exc.code == "port_invalid":
        return _("%(port)s is not a port: write numbers from 1 to 65535, separated by commas (\"161/udp\" for an "
                 "SNMP agent on another UDP port).") % params
    if exc.code == "too_many_ports":
        return _("At most %(limit)d ports can be tried in one scan.") % params
    return _("%(network)s is not an address range: write it as 10.0.0.0/24, or one address.") % params


def _validate(run: DiscoveryRun) -> None:
    errors: dict[str, list[str]] = {}
    try:
        scan.addresses(run.network)
    except scan.ScanError as exc:
        errors["network"] = [scan_error_message(exc)]
    try:
        scan.parse_ports(run.ports)
    except scan.ScanError as exc:
        errors["ports"] = [scan_error_message(exc)]
    credential = run.credential if run.credential_id else None
    if credential is not None and credential.customer_id != run.customer_id:
        errors["credential"] = [_("The credential belongs to another customer.")]
    elif credential is not None and credential.kind not in SNMP_KINDS:
        errors["credential"] = [_("Choose an SNMP community or SNMPv3 credential.")]
    if errors:
        raise ValidationError(errors)


def _queue(run_id: int) -> None:
    from opsdesk.monitoring.discovery.tasks import run_discovery

    run_discovery.delay(run_id)


def start_discovery(data: dict[str, Any], *, actor: User | None) -> DiscoveryRun:
    """The generic create of a discovery run: validate, write the row, queue the scan on commit."""
    plain, _m2m = writable_data(DiscoveryRun, data)
    run = DiscoveryRun(**plain)
    run.network = (run.network or "").strip()
    run.created_by = actor if actor is not None and actor.pk else None
    if actor is not None and not can(actor, "add", run):
        raise permission_denied()
    check_references(actor, plain)
    run.full_clean()
    _validate(run)
    with domain_action(actor, "add", run, check=False):
        run.save()
        transaction.on_commit(lambda: _queue(run.pk))
    return run


def can_rescan(run: DiscoveryRun) -> bool:
    return run.status in (DiscoveryStatus.DONE, DiscoveryStatus.FAILED)


def rescan(run: DiscoveryRun, *, actor: User | None) -> DiscoveryRun:
    """Scan the same range again: devices found before keep what people did to them."""
    with domain_action(actor, "rescan", run):
        if not can_rescan(run):
            raise ValidationError(_("The scan is still running."))
        run.status, run.message, run.started_at, run.finished_at = DiscoveryStatus.QUEUED, "", None, None
        run.save(update_fields=["status", "message", "started_at", "finished_at"])
        transaction.on_commit(lambda: _queue(run.pk))
    return run


# --- running it (the worker) ---------------------------------------------------------------------

def snmp_auth(credential: Credential | None) -> scan.SnmpAuth | None:
    """The SNMP credentials of a credential row: a community (the secret), or an SNMPv3 user (the
    username) whose secret is the authentication pass phrase, or a JSON object with auth_key,
    priv_key, auth_protocol and priv_protocol (the snmp check's secrets)."""
    if credential is None or credential.kind not in SNMP_KINDS:
        return None
    secret = reveal_credential_secret(credential)
    if credential.kind == "snmp_community":
        return scan.SnmpAuth("2c", community=secret)
    keys: dict[str, Any] = {}
    try:
        parsed = json.loads(secret)
        keys = parsed if isinstance(parsed, dict) else {}
    except ValueError:
        keys = {"auth_key": secret}
    return scan.SnmpAuth("3", user=credential.username or str(keys.get("user", "")),
                         auth_key=str(keys.get("auth_key") or ""), priv_key=str(keys.get("priv_key") or ""),
                         auth_protocol=str(keys.get("auth_protocol") or "SHA"),
                         priv_protocol=str(keys.get("priv_protocol") or "AES"))


def claim(run_id: int) -> bool:
    """Take the run if it is queued, or running under a lease that ran out (a lost worker)."""
    now = timezone.now()
    return bool(DiscoveryRun.objects.filter(pk=run_id).filter(
        Q(status=DiscoveryStatus.QUEUED) | Q(status=DiscoveryStatus.RUNNING, started_at__lt=now - LEASE),
    ).update(status=DiscoveryStatus.RUNNING, started_at=now, finished_at=None))


def _say(run_id: int, message: str) -> None:
    DiscoveryRun.objects.filter(pk=run_id, status=DiscoveryStatus.RUNNING).update(message=message[:500])


def _finish(run_id: int, status: str, message: str) -> None:
    DiscoveryRun.objects.filter(pk=run_id).update(status=status, message=message[:500], finished_at=timezone.now())


def run(run_id: int, *, timeout: float = 1.0) -> None:
    """Scan a run's range and keep what answered (the task's body)."""
    if not claim(run_id):
        return  # done already, or another worker has it
    job = DiscoveryRun.objects.select_related("credential", "created_by").get(pk=run_id)
    language = (job.created_by.language if job.created_by else "") or settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            total = len(scan.addresses(job.network))
            ports = scan.parse_ports(job.ports)

            def progress(phase: str, found: int) -> None:
                messages = {
                    "ping": _("Pinging %(count)d addresses…"),
                    "ports": _("Trying TCP ports on %(count)d addresses (%(found)d answered so far)…"),
                    "snmp": _("Asking the SNMP agents (%(found)d hosts found so far)…"),
                    "names": _("Looking up the names of %(found)d hosts…"),
                }
                _say(run_id, messages[phase] % {"count": total, "found": found})

            hosts = scan.run_scan(job.network, ports, snmp=snmp_auth(job.credential), timeout=timeout,
                                  progress=progress)
            new = store(job, hosts)
        except scan.ScanError as exc:
            _finish(run_id, DiscoveryStatus.FAILED, scan_error_message(exc))
            return
        except Exception as exc:  # a run must end with its cause named
            logger.exception("discovery run %s failed", run_id)
            _finish(run_id, DiscoveryStatus.FAILED, _("The scan failed: %(error)s")
                    % {"error": f"{type(exc).__name__}: {exc}"})
            return
        _finish(run_id, DiscoveryStatus.DONE, _("%(count)d devices answered, %(new)d of them new in this scan.")
                % {"count": len(hosts), "new": new})


def store(job: DiscoveryRun, hosts: list[scan.Host]) -> int:
    """Keep the hosts as devices of the run (one per address); returns how many are new. A device
    found again keeps the host name and kind a person gave it."""
    kinds = {k.slug: k for k in CIKind.objects.all()}
    known = {d.address: d for d in DiscoveredDevice.objects.filter(run=job)}
    new, changed = [], []
    for host in hosts:
        proposed = kinds.get(scan.propose_kind(host.open_ports, host.sys_descr) or "")
        device = known.get(host.address)
        if device is None:
            new.append(DiscoveredDevice(run=job, customer_id=job.customer_id, address=host.address,
                                        hostname=host.hostname[:200], open_ports=host.open_ports,
                                        sys_descr=host.sys_descr[:500], snmp_version=host.snmp_version,
                                        kind=proposed))
            continue
        device.open_ports, device.sys_descr = host.open_ports, host.sys_descr[:500]
        device.snmp_version = host.snmp_version
        device.hostname = device.hostname or host.hostname[:200]
        device.kind = device.kind or proposed
        changed.append(device)
    with transaction.atomic():
        DiscoveredDevice.objects.bulk_create(new, batch_size=500)
        DiscoveredDevice.objects.bulk_update(changed, ["open_ports", "sys_descr", "snmp_version", "hostname", "kind"],
                                             batch_size=500)
    return len(new)


def sweep() -> int:
    """Send again the runs nobody is working on; give up on those unfinished after GIVE_UP_AFTER."""
    now = timezone.now()
    stale = DiscoveryRun.objects.filter(
        Q(status=DiscoveryStatus.QUEUED, created_at__lt=now - QUEUED_GRACE)
        | Q(status=DiscoveryStatus.RUNNING, started_at__lt=now - LEASE))
    for job in stale.filter(created_at__lt=now - GIVE_UP_AFTER).select_related("created_by"):
        language = (job.created_by.language if job.created_by else "") or settings.LANGUAGE_CODE
        with translation.override(language):
            _finish(job.pk, DiscoveryStatus.FAILED,
                    _("The scan was given up: no worker finished it within an hour. Run it again."))
    ids = list(stale.values_list("pk", flat=True))
    for run_id in ids:
        _queue(run_id)
    return len(ids)


# --- what people do with the devices -------------------------------------------------------------

def is_pending(device: DiscoveredDevice) -> bool:
    return device.configuration_item_id is None and not device.ignored


def ignore(device: DiscoveredDevice, *, actor: User | None) -> DiscoveredDevice:
    with domain_action(actor, "ignore", device):
        device.ignored = True
        device.save(update_fields=["ignored"])
    return device


def _address_attributes(kind: CIKind, device: DiscoveredDevice) -> dict[str, Any]:
    props = (kind.attribute_schema or {}).get("properties", {})
    attributes: dict[str, Any] = {}
    ipv6 = ":" in device.address
    if "ip_address" in props and not (ipv6 and props["ip_address"].get("format") == "ipv4"):
        attributes["ip_address"] = device.address
    if "hostname" in props and device.hostname:
        attributes["hostname"] = device.hostname
    return attributes


def _engine(kind: CIKind, device: DiscoveredDevice) -> str | None:
    prop = (kind.attribute_schema or {}).get("properties", {}).get("engine")
    if not prop:
        return None
    engine = scan.database_engine(device.open_ports) or "other"
    allowed = prop.get("enum")
    return engine if not allowed or engine in allowed else ("other" if "other" in allowed else None)


def _attributes(kind: CIKind, device: DiscoveredDevice) -> dict[str, Any]:
    props = (kind.attribute_schema or {}).get("properties", {})
    attributes = _address_attributes(kind, device)
    engine = _engine(kind, device)
    if engine is not None:
        attributes["engine"] = engine
        port = next((p for p, e in scan.DATABASE_PORTS.items() if e == engine and p in device.open_ports), None)
        if port is not None and "port" in props:
            attributes["port"] = port
    if "os" in props and device.sys_descr and scan.propose_kind([], device.sys_descr) == "server":
        attributes["os"] = device.sys_descr[:props["os"].get("maxLength", 100)]
    return attributes


def _has_address(kind: CIKind) -> bool:
    props = (kind.attribute_schema or {}).get("properties", {})
    return "ip_address" in props or "hostname" in props


def existing_item(device: DiscoveredDevice) -> ConfigurationItem | None:
    """The item this device already is: one of the customer and kind with its address (for a kind
    with no address, such as a database, one that runs on an item with its address)."""
    kind = device.kind
    items = ConfigurationItem.objects.filter(customer_id=device.customer_id, kind=kind)
    if _has_address(kind):
        return items.filter(attributes__ip_address=device.address).order_by("pk").first()
    engine = _engine(kind, device)
    if engine is not None:
        items = items.filter(attributes__engine=engine)
    return items.filter(relations_out__type=RelationType.RUNS_ON,
                        relations_out__target__attributes__ip_address=device.address).order_by("pk").first()


def _name_free(device: DiscoveredDevice, name: str) -> str:
    if ConfigurationItem.objects.filter(customer_id=device.customer_id, name=name).exists():
        raise ValidationError({"hostname": [_(
            "An item named %(name)s already exists for this customer with another address: change the device's "
            "host name, or give that item the address %(address)s.") % {"name": name, "address": device.address}]})
    return name


def _host_for(device: DiscoveredDevice, *, actor: User | None) -> ConfigurationItem:
    """The item with the device's address that a database (or other address-less item) runs on."""
    host = (ConfigurationItem.objects.filter(customer_id=device.customer_id, attributes__ip_address=device.address)
            .order_by("pk").first())
    if host is not None:
        return host
    server = CIKind.objects.get(slug="server")
    return core_services.create(ConfigurationItem, {
        "customer": device.customer, "kind": server, "name": _name_free(device, device.hostname or device.address),
        "attributes": _address_attributes(server, device)}, actor=actor)


def _create_item(device: DiscoveredDevice, *, actor: User | None) -> ConfigurationItem:
    kind = device.kind
    attributes = _attributes(kind, device)
    base = device.hostname or device.address
    if _has_address(kind):
        return core_services.create(ConfigurationItem, {
            "customer": device.customer, "kind": kind, "name": _name_free(device, base),
            "attributes": attributes}, actor=actor)
    host = _host_for(device, actor=actor)
    props = (kind.attribute_schema or {}).get("properties", {})
    label = display_value("engine", props.get("engine", {}), attributes["engine"]) if "engine" in attributes \
        else str(kind)
    item = core_services.create(ConfigurationItem, {
        "customer": device.customer, "kind": kind, "name": _name_free(device, f"{host.name} {label}"),
        "attributes": attributes}, actor=actor)
    core_services.create(Relation, {"source": item, "target": host, "type": RelationType.RUNS_ON}, actor=actor)
    return item


def default_template(device: DiscoveredDevice) -> Template | None:
    """The template a device of its kind gets: by database engine or operating system where the
    built-in ones differ, else the kind's only template."""
    kind = device.kind
    variant = ""
    if kind.slug == "database":
        variant = _engine(kind, device) or ""
    elif kind.slug == "server" and scan.looks_like_windows(device.open_ports, device.sys_descr):
        variant = "windows"
    slug = DEFAULT_TEMPLATES.get((kind.slug, variant))
    templates = Template.objects.filter(kind=kind)
    found = templates.filter(slug=slug).first() if slug else None
    if found is None and templates.count() == 1:
        found = templates.first()
    return found


def accept(device: DiscoveredDevice, *, actor: User | None, apply_template: bool = False) -> ConfigurationItem:
    """Make the device a configuration item (or link it to the item it already is), once; with
    `apply_template`, the kind's default template's checks too."""
    with domain_action(actor, "accept", device):
        # Only the device's row: PostgreSQL will not lock the nullable side (kind) of an outer join.
        device = (DiscoveredDevice.objects.select_for_update(of=("self",))
                  .select_related("kind", "customer", "run", "run__credential")
                  .get(pk=device.pk))
        if device.configuration_item_id is not None:
            return device.configuration_item
        if device.kind is None:
            raise ValidationError({"kind": [_("Choose the kind of configuration item first (edit the device).")]})
        item = existing_item(device) or _create_item(device, actor=actor)
        device.configuration_item = item
        device.save(update_fields=["configuration_item"])
        if apply_template:
            from opsdesk.monitoring.template_services import apply_template as apply

            template = default_template(device)
            if template is None:
                raise ValidationError({"apply_template": [_("There is no template for %(kind)s items: accept "
                                                            "without one.") % {"kind": device.kind}]})
            # The SNMP credential the device answered with, and the version it answered in: the
            # template's SNMP check asks it the same way (without, it asked "public" with v2c).
            credential = device.run.credential if device.run.credential_id else None
            if credential is not None and credential.kind not in SNMP_KINDS:
                credential = None
            apply(template, item, actor=actor, credential=credential, snmp_version=device.snmp_version or None)
    return item
