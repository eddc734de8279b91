from auditlog.registry import auditlog
from django.apps import apps

from opsdesk.core.audit import EXCLUDED, register

# Agents' last_seen_at and last_seq change on every push: they are written with a queryset
# update, which the audit log does not see (and need not).
register("monitoring.EnrolmentToken")
register("monitoring.Agent")
register("monitoring.Template")
register("monitoring.DiscoveryRun")
register("monitoring.DiscoveredDevice")


def _register_checks() -> None:
    """Checks are in the audit log for what people change (parameters, enable, disable), without
    the columns results write many times a minute (those go by bulk update, unseen, anyway), and
    without `edited`, which only follows from the changes logged beside it."""
    check = apps.get_model("monitoring.Check")
    noisy = {"state", "state_since", "last_run_at", "last_code", "last_message", "last_params", "changed_at", "edited"}
    fields = [f.name for f in check._meta.concrete_fields if not f.primary_key and f.name not in noisy]
    auditlog.register(check, include_fields=fields, exclude_fields=EXCLUDED)


_register_checks()
register("monitoring.AlertRule")
register("monitoring.Silence")
register("monitoring.MaintenanceWindow")
register("monitoring.InboundIntegration")


def _register_alerts() -> None:
    """Alerts are in the audit log for what people do to them (acknowledge, resolve); their
    timeline (AlertEvent) tells the rest, evaluation's included."""
    alert = apps.get_model("monitoring.Alert")
    auditlog.register(alert, include_fields=["state", "acknowledged_by", "resolved_by"], exclude_fields=EXCLUDED)


_register_alerts()
