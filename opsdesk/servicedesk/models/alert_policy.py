"""Which alerts open an incident by themselves: the severity policy."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel

# The alert severities, worst first (opsdesk.monitoring.models.Severity), and the impact and
# urgency an incident opened for each gets: the matrix then gives its priority.
SEVERITY_RANK = {"critical": 0, "major": 1, "minor": 2, "info": 3}
IMPACT_OF_SEVERITY = {"critical": ("high", "high"), "major": ("high", "medium"), "minor": ("medium", "medium"),
                      "info": ("low", "low")}


class AlertTicketPolicy(TimestampedModel):
    """Alerts of `min_severity` or worse (of one customer, or of all) open an incident. The most
    specific policy wins: a customer's own before the one for everyone."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+", verbose_name=_("customer"),
                                 help_text=_("Empty: for every customer without a policy of its own."))
    min_severity = models.CharField(_("from severity"), max_length=10, default="critical", choices=[
        ("critical", _("Critical")), ("major", _("Major")), ("minor", _("Minor")), ("info", _("Info"))])
    category = models.ForeignKey("servicedesk.Category", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", verbose_name=_("category"))
    team = models.ForeignKey("core.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                             verbose_name=_("team"), help_text=_("Empty: the team that serves the customer."))
    enabled = models.BooleanField(_("enabled"), default=True,
                                  help_text=_("Off for a customer: their alerts open no incidents."))

    class Meta:
        ordering = ["customer", "min_severity"]
        constraints = [models.UniqueConstraint(fields=["customer"], name="one_alert_policy_per_customer"),
                       models.UniqueConstraint(fields=["customer"], condition=models.Q(customer__isnull=True),
                                               name="one_default_alert_policy")]
        verbose_name = _("incident policy")
        verbose_name_plural = _("incident policies")

    def __str__(self) -> str:
        return f"{self.customer or _('Every customer')}: ≥ {self.get_min_severity_display()}"

    def covers(self, severity: str) -> bool:
        return self.enabled and SEVERITY_RANK.get(severity, 9) <= SEVERITY_RANK.get(self.min_severity, 0)
