"""Prometheus Alertmanager's webhook (payload version 4).

Alertmanager re-sends every alert of a group at each group_interval while it changes and at each
repeat_interval while it does not; each alert carries its own fingerprint (a hash of its labels),
which is ours too (with the integration's id, so two integrations never share an alert). A
re-send of an open alert is the same alert; `status: resolved` resolves it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from opsdesk.monitoring.alerting.lifecycle import Candidate, Recovery, fingerprint
from opsdesk.monitoring.inbound.base import (
    Inbound,
    ItemMatcher,
    Parsed,
    Source,
    invalid,
    labels_of,
    moment,
    severity_of,
    text,
)
from opsdesk.monitoring.models import AlertSource, InboundIntegration

MAX_ALERTS = 5000
HOST_LABELS = ("instance", "host", "hostname")


def _checked(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise invalid("body", _("A JSON object is required."))
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise invalid("alerts", _("A list of alerts is required."))
    if len(alerts) > MAX_ALERTS:
        raise invalid("alerts", _("At most %(max)d alerts are allowed in one message.") % {"max": MAX_ALERTS})
    for index, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise invalid(f"alerts.{index}", _("A JSON object is required."))
        if alert.get("status") not in ("firing", "resolved"):
            raise invalid(f"alerts.{index}.status", _("Must be \"firing\" or \"resolved\"."))
        if not isinstance(alert.get("labels"), dict) or not alert["labels"]:
            raise invalid(f"alerts.{index}.labels", _("An object of string values is required."))
    return alerts


def _fingerprint(integration: InboundIntegration, alert: dict[str, Any], labels: dict[str, str], path: str) -> str:
    own = text(alert.get("fingerprint"), f"{path}.fingerprint", limit=200)
    # Alertmanager has sent its fingerprint since 0.19; before, the labels are what it hashes.
    return fingerprint(AlertSource.ALERTMANAGER, integration.id, own) if own else \
        fingerprint(AlertSource.ALERTMANAGER, integration.id, labels=labels)


def parse(integration: InboundIntegration, inbound: Inbound) -> Parsed:
    alerts = _checked(inbound.body)
    common = inbound.body.get("commonAnnotations")
    external = text(inbound.body.get("externalURL"), "externalURL", limit=500)
    matcher = ItemMatcher(integration)
    matcher.load(str(a["labels"].get(key, "")) for a in alerts for key in HOST_LABELS)
    parsed = Parsed()
    for index, alert in enumerate(alerts):
        path = f"alerts.{index}"
        labels = labels_of(alert["labels"], f"{path}.labels")
        annotations = labels_of(alert.get("annotations"), f"{path}.annotations")
        if isinstance(common, dict):
            annotations = {**{k: v for k, v in common.items() if isinstance(v, str)}, **annotations}
        fp = _fingerprint(integration, alert, labels, path)
        if alert["status"] == "resolved":
            ended = moment(alert.get("endsAt"), f"{path}.endsAt", inbound.now)
            parsed.recoveries.append(Recovery(fingerprint=fp, at=ended or inbound.now,
                                              text=_("Resolved by Alertmanager")))
            continue
        started = moment(alert.get("startsAt"), f"{path}.startsAt", inbound.now)
        source_url = text(alert.get("generatorURL"), f"{path}.generatorURL", limit=500)
        description = annotations.get("description") or annotations.get("message", "")
        if source_url:
            description = f"{description}\n\n{source_url}".strip()
        runbook = annotations.get("runbook_url", "")
        parsed.candidates.append(Candidate(
            fingerprint=fp, customer_id=integration.customer_id, source=AlertSource.ALERTMANAGER,
            title=annotations.get("summary") or labels.get("alertname") or external or _("Alertmanager alert"),
            severity=severity_of(labels.get("severity"), integration.severity), at=inbound.now,
            started_at=started, labels=labels, description=description, integration_id=integration.id,
            item_id=matcher.item_for(*(labels.get(key, "") for key in HOST_LABELS)),
            runbook_url=runbook if runbook.startswith(("http://", "https://")) and len(runbook) <= 200 else ""))
    return parsed


SOURCE = Source(name="alertmanager", parse=parse)
