"""Checks that the collector runs against a configuration item, their state and its history."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class CheckState(models.TextChoices):
    OK = "ok", _("OK")
    WARNING = "warning", _("Warning")
    # Not the CMDB's "Critical" (关键, of an item's importance): a check's state is 严重.
    CRITICAL = "critical", pgettext_lazy("check state", "Critical")
    UNKNOWN = "unknown", _("Unknown")
    PENDING = "pending", pgettext_lazy("check state", "Pending")  # not yet run: not a delivery's 待发送


# Worst first: the order of overviews and of an item's own status (the worst of its checks).
STATE_SEVERITY = {CheckState.CRITICAL: 4, CheckState.UNKNOWN: 3, CheckState.WARNING: 2,
                  CheckState.OK: 1, CheckState.PENDING: 0}


class Check(models.Model):
    """One check of one item: its type (a module of monitoring.checks), target and parameters.
    The state fields are written only by results (services.record_results)."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("customer"), editable=False)
    configuration_item = models.ForeignKey("cmdb.ConfigurationItem", on_delete=models.CASCADE,
                                           related_name="checks", verbose_name=_("configuration item"))
    name = models.CharField(_("name"), max_length=200)
    type = models.CharField(_("type"), max_length=30)
    target = models.CharField(_("target"), max_length=500,
                              help_text=_("Host name, IP address or URL; empty takes the item's address."),
                              blank=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    credential = models.ForeignKey("core.Credential", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("credential"))
    interval = models.PositiveIntegerField(_("interval (seconds)"), default=60)
    timeout = models.PositiveIntegerField(_("timeout (seconds)"), default=10)
    enabled = models.BooleanField(_("enabled"), default=True, editable=False)
    # A collector inside the customer's network runs it; empty: the central collector.
    collector = models.ForeignKey("monitoring.Agent", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="checks", verbose_name=_("collector"),
                                  limit_choices_to={"kind": "collector"})
    template = models.ForeignKey("monitoring.Template", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="created_checks", verbose_name=_("template"), editable=False)
    # What a person changed on a template's check (EDITABLE_FROM_TEMPLATE names, and
    # "params.<key>" per parameter): applying the template again keeps those and brings the rest
    # up to date, as a Zabbix host's overrides survive its template's update.
    edited = models.JSONField(_("edited here"), default=list, blank=True, editable=False)
    state = models.CharField(_("state"), max_length=10, choices=CheckState.choices,
                             default=CheckState.PENDING, editable=False)
    state_since = models.DateTimeField(_("state since"), null=True, blank=True, editable=False)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True, editable=False)
    last_code = models.CharField(_("reason code"), max_length=40, blank=True, editable=False)
    # The check's own line of technical English (as a Nagios plugin's output); the pages say the
    # reason in the reader's language from last_code and last_params (monitoring.reasons).
    last_message = models.CharField(_("check output"), max_length=500, blank=True, editable=False)
    last_params = models.JSONField(default=dict, blank=True, editable=False)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["configuration_item", "name"]
        constraints = [models.UniqueConstraint(fields=["configuration_item", "name"], name="unique_check_name")]
        indexes = [models.Index(fields=["customer", "state"], name="check_customer_state"),
                   models.Index(fields=["changed_at"], name="check_changed")]
        verbose_name = _("check")
        verbose_name_plural = _("checks")

    def __str__(self) -> str:
        return f"{self.configuration_item} / {self.name}"

    def get_type_display(self) -> str:
        """The type's name in the reader's language (lists show it; the field holds the code)."""
        from django.utils.translation import gettext

        from opsdesk.monitoring.checks import CHECK_TYPES

        found = CHECK_TYPES.get(self.type)
        return gettext(found.label) if found is not None else self.type


class CheckStateChange(models.Model):
    """A check's state history: one row per change (not per run)."""

    monitor_check = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="state_changes",
                              verbose_name=_("check"))
    previous = models.CharField(_("previous state"), max_length=10, choices=CheckState.choices)
    state = models.CharField(_("state"), max_length=10, choices=CheckState.choices)
    at = models.DateTimeField(_("time"))
    code = models.CharField(_("reason code"), max_length=40, blank=True)
    message = models.CharField(_("reason"), max_length=500, blank=True)
    # The values the check passed with its code, as Check.last_params: the reason's sentence needs them.
    params = models.JSONField(_("reason values"), default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["monitor_check", "-at"], name="check_state_history")]
        verbose_name = _("state change")
        verbose_name_plural = _("state changes")

    def __str__(self) -> str:
        return f"{self.monitor_check}: {self.previous} → {self.state}"

    def reason_text(self) -> str:
        """The reason in the person's language (opsdesk.monitoring.reasons): the lists' column."""
        from opsdesk.monitoring.reasons import reason_text

        return reason_text(self.code, self.params, self.message)

    reason_text.short_description = _("reason")
