"""Alert rules, the alerts they raise (and those that come in from Alertmanager, Zabbix, webhooks
and heartbeats), each alert's timeline, silences and maintenance windows."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opsdesk.core.models.base import TimestampedModel


class Severity(models.TextChoices):
    # The seed's fault levels (严重 / 一般 / 轻微), plus info.
    CRITICAL = "critical", pgettext_lazy("alert severity", "Critical")
    MAJOR = "major", pgettext_lazy("alert severity", "Major")
    MINOR = "minor", pgettext_lazy("alert severity", "Minor")
    INFO = "info", pgettext_lazy("alert severity", "Info")


SEVERITY_RANK = {Severity.CRITICAL: 4, Severity.MAJOR: 3, Severity.MINOR: 2, Severity.INFO: 1}


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", _("Threshold")
    RATE = "rate", _("Rate of change")
    ABSENCE = "absence", _("No data")
    CHECK_STATE = "check_state", _("Check state")


class Operator(models.TextChoices):
    GT = ">", ">"
    GE = ">=", "≥"
    LT = "<", "<"
    LE = "<=", "≤"
    EQ = "==", "="
    NE = "!=", "≠"


class AlertRule(TimestampedModel):
    """When to raise an alert. Scope: one configuration item, all items of a kind, all items of a
    customer, or the items a template was applied to (narrowed by the customer when one is set).
    Evaluated as samples and check results are filed, plus a periodic pass for "no data" rules."""

    name = models.CharField(_("name"), max_length=200)
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+", verbose_name=_("customer"),
                                 help_text=_("Empty: every customer (administrators only)."))
    configuration_item = models.ForeignKey("cmdb.ConfigurationItem", on_delete=models.CASCADE, null=True, blank=True,
                                           related_name="+", verbose_name=_("configuration item"))
    ci_kind = models.ForeignKey("cmdb.CIKind", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                                verbose_name=_("kind of item"))
    template = models.ForeignKey("monitoring.Template", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="rules", verbose_name=_("template"))
    kind = models.CharField(_("rule type"), max_length=12, choices=RuleKind.choices, default=RuleKind.THRESHOLD)
    metric = models.CharField(_("metric"), max_length=200, blank=True)
    labels = models.JSONField(_("labels"), default=dict, blank=True,
                              help_text=_("Only series with these label values, e.g. {\"mount\": \"/\"}."))
    operator = models.CharField(_("operator"), max_length=2, choices=Operator.choices, default=Operator.GT)
    threshold = models.FloatField(_("threshold"), null=True, blank=True)
    recovery_threshold = models.FloatField(_("recovery threshold"), null=True, blank=True,
                                           help_text=_("Resolves only past this value (hysteresis); empty: the "
                                                       "threshold itself."))
    for_seconds = models.PositiveIntegerField(_("for (seconds)"), default=0,
                                              help_text=_("Fires only when the condition holds this long."))
    rate_window_seconds = models.PositiveIntegerField(_("rate window (seconds)"), default=300)
    absence_seconds = models.PositiveIntegerField(_("no data for (seconds)"), default=600)
    check_states = models.JSONField(_("check states"), default=list, blank=True,
                                    help_text=_("For a check-state rule: the states that fire, e.g. [\"critical\"]."))
    check_type = models.CharField(_("check type"), max_length=30, blank=True,
                                  help_text=_("For a check-state rule: only checks of this type (empty: any)."))
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    runbook_url = models.URLField(_("runbook link"), blank=True)
    runbook = models.TextField(_("runbook"), blank=True)
    escalation_policy = models.ForeignKey("notify.EscalationPolicy", on_delete=models.SET_NULL, null=True,
                                          blank=True, related_name="+", verbose_name=_("escalation policy"),
                                          help_text=_("Empty: the customer's default policy."))
    channels = models.ManyToManyField("notify.Channel", blank=True, related_name="+",
                                      verbose_name=_("also post to"))
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["metric"], name="rule_metric")]
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")

    def __str__(self) -> str:
        return self.name

    def condition_text(self) -> str:
        """What the rule watches, as one line a person reads in the list: "cpu_usage_percent >
        90.0 % for 5 min", "no data of load1 for 10 min", "check in critical or unknown"."""
        from django.utils.translation import get_language, gettext, pgettext

        from opsdesk.monitoring.alerting.messages import duration
        from opsdesk.monitoring.models.checks import CheckState
        from opsdesk.monitoring.units import format_metric

        language = get_language() or "en"
        if self.kind == RuleKind.CHECK_STATE:
            states = [str(CheckState(s).label) for s in self.check_states if s in CheckState.values]
            line = gettext("check in %(states)s") % {
                "states": gettext(" or ").join(states) if states else gettext("any failing state")}
            return line + (f" ({self.check_type})" if self.check_type else "")
        if self.kind == RuleKind.ABSENCE:
            return gettext("no data of %(metric)s for %(duration)s") % {
                "metric": self.metric or gettext("any metric"), "duration": duration(self.absence_seconds, language)}
        value = format_metric(self.threshold, self.metric)
        if self.kind == RuleKind.RATE:
            line = gettext("change of %(metric)s over %(window)s %(operator)s %(value)s a minute") % {
                "metric": self.metric, "window": duration(self.rate_window_seconds, language),
                "operator": self.get_operator_display(), "value": value}
        else:
            line = f"{self.metric} {self.get_operator_display()} {value}"
        if self.for_seconds:
            line += " " + pgettext("an alert rule's condition", "for %(duration)s") % {
                "duration": duration(self.for_seconds, language)}
        return line

    condition_text.short_description = _("condition")

    def clean(self) -> None:
        super().clean()
        from opsdesk.monitoring.models.alerts_validation import validate_rule

        errors = validate_rule(self)
        if errors:
            raise ValidationError(errors)


class AlertState(models.TextChoices):
    # Not a notification's "pending" (待发送): the condition holds but not yet for long enough.
    PENDING = "pending", pgettext_lazy("alert state", "Pending")
    FIRING = "firing", _("Firing")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


OPEN_STATES = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)


class AlertSource(models.TextChoices):
    RULE = "rule", _("Alert rule")
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    ZABBIX = "zabbix", "Zabbix"
    WEBHOOK = "webhook", _("Webhook")
    HEARTBEAT = "heartbeat", _("Heartbeat")
    SELF = "self", _("opsdesk itself")


class Alert(models.Model):
    """One fault, from its first firing to its resolution. Re-fires of the same fault (same
    fingerprint: rule + item + labels, or the sender's own) while it is open are the same row."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("customer"), editable=False)
    source = models.CharField(_("source"), max_length=12, choices=AlertSource.choices, default=AlertSource.RULE,
                              editable=False)
    rule = models.ForeignKey(AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts",
                             verbose_name=_("rule"), editable=False)
    integration = models.ForeignKey("monitoring.InboundIntegration", on_delete=models.SET_NULL, null=True,
                                    blank=True, related_name="alerts", verbose_name=_("integration"), editable=False)
    configuration_item = models.ForeignKey("cmdb.ConfigurationItem", on_delete=models.SET_NULL, null=True,
                                           blank=True, related_name="alerts", verbose_name=_("configuration item"),
                                           editable=False)
    series = models.ForeignKey("monitoring.Series", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", editable=False)
    monitor_check = models.ForeignKey("monitoring.Check", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="alerts", verbose_name=_("check"), editable=False)
    fingerprint = models.CharField(_("fingerprint"), max_length=64, editable=False)
    labels = models.JSONField(_("labels"), default=dict, editable=False)
    # "title" alone is a person's job title (职务) elsewhere.
    title = models.CharField(pgettext_lazy("alert", "title"), max_length=300, editable=False)
    description = models.TextField(_("description"), blank=True, editable=False)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, editable=False)
    state = models.CharField(_("state"), max_length=12, choices=AlertState.choices, default=AlertState.FIRING,
                             editable=False)
    value = models.FloatField(_("value"), null=True, blank=True, editable=False)
    threshold = models.FloatField(_("threshold"), null=True, blank=True, editable=False)
    started_at = models.DateTimeField(_("started"), editable=False)
    fired_at = models.DateTimeField(_("fired"), null=True, blank=True, editable=False)
    last_seen_at = models.DateTimeField(pgettext_lazy("alert", "last seen"), editable=False)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True, editable=False)
    acknowledged_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+", verbose_name=_("acknowledged by"), editable=False)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True, editable=False)
    resolved_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("resolved by"), editable=False)
    # Why nobody was paged: a fault upstream (CMDB relations), a silence, a maintenance window, flapping.
    suppressed_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="suppresses", verbose_name=_("suppressed by"), editable=False)
    silenced_by = models.ForeignKey("monitoring.Silence", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="alerts", verbose_name=_("silenced by"), editable=False)
    in_maintenance = models.BooleanField(_("in maintenance"), default=False, editable=False)
    flapping = models.BooleanField(_("flapping"), default=False, editable=False)
    notified = models.BooleanField(_("notified"), default=False, editable=False)
    runbook_url = models.URLField(_("runbook link"), blank=True, editable=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["fingerprint"], condition=~Q(state="resolved"),
                                               name="one_open_alert_per_fingerprint")]
        indexes = [models.Index(fields=["customer", "state"], name="alert_customer_state"),
                   models.Index(fields=["fingerprint", "-started_at"], name="alert_fingerprint"),
                   models.Index(fields=["configuration_item", "state"], name="alert_item_state")]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # The detail page shows a field through get_<field>_display: the value and threshold in the
    # unit of the rule's metric, the labels as a person reads them (the API keeps the raw values).
    # Notifications write them the same way (alerting.messages).
    def get_labels_display(self) -> str:
        from opsdesk.monitoring.units import format_labels

        return format_labels(self.labels)

    def _measured(self, value: float | None) -> str | None:
        from opsdesk.monitoring.units import format_measured

        return format_measured(value, self.rule.metric if self.rule_id else "")

    def get_value_display(self) -> str | None:
        return self._measured(self.value)

    def get_threshold_display(self) -> str | None:
        return self._measured(self.threshold)

    @property
    def held(self) -> bool:
        """Whether notifications are held (nobody is paged for it)."""
        return bool(self.suppressed_by_id or self.silenced_by_id or self.in_maintenance or self.flapping)

    def held_because(self) -> str:
        """Why nobody is paged for it, in words (the alert list's column; empty when nothing holds it)."""
        reasons = []
        if self.suppressed_by_id:
            reasons.append(str(AlertEventKind.SUPPRESSED.label))
        if self.silenced_by_id:
            reasons.append(str(AlertEventKind.SILENCED.label))
        if self.in_maintenance:
            reasons.append(str(AlertEventKind.MAINTENANCE.label))
        if self.flapping:
            reasons.append(str(AlertEventKind.FLAPPING.label))
        return ", ".join(reasons)

    held_because.short_description = _("Held")  # type: ignore[attr-defined]


class AlertEventKind(models.TextChoices):
    PENDING = "pending", _("Condition met, waiting")
    FIRED = "fired", _("Fired")
    REFIRED = "refired", _("Fired again")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")
    NOTIFIED = "notified", _("Notified")
    ESCALATED = "escalated", _("Escalated")
    SUPPRESSED = "suppressed", _("Suppressed")
    SILENCED = "silenced", _("Silenced")
    MAINTENANCE = "maintenance", _("In maintenance")
    FLAPPING = "flapping", _("Flapping")
    COMMENT = "comment", _("Comment")


class AlertEvent(models.Model):
    """The alert's timeline."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events", verbose_name=_("alert"))
    at = models.DateTimeField(_("time"))
    kind = models.CharField(_("event"), max_length=12, choices=AlertEventKind.choices)
    actor = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                              verbose_name=_("by"))
    text = models.CharField(_("text"), max_length=500, blank=True)
    value = models.FloatField(_("value"), null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["alert", "at"], name="alert_timeline")]
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind}"


class Silence(models.Model):
    """Hold the notifications of the alerts its matchers match, from `starts_at` to `ends_at`.
    Matchers: [{"name": "severity", "op": "=", "value": "minor"}], name among the alert's labels and
    customer, item, rule, severity, source; op one of =, !=, =~ (regular expression), !~."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+", verbose_name=_("customer"))
    matchers = models.JSONField(_("matchers"), default=list)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    reason = models.CharField(_("reason"), max_length=300)
    created_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"), editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    expiry_notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["ends_at"], name="silence_ends")]
        verbose_name = _("silence")
        verbose_name_plural = _("silences")

    def __str__(self) -> str:
        return self.reason


class Recurrence(models.TextChoices):
    NONE = "", _("Once")
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")
    MONTHLY = "monthly", _("Every month")


class MaintenanceWindow(TimestampedModel):
    """A planned period (once or recurring) in which alerts of a customer, or of some of its items,
    page nobody; availability reports count it apart."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("customer"))
    configuration_items = models.ManyToManyField("cmdb.ConfigurationItem", blank=True, related_name="+",
                                                 verbose_name=_("configuration items"),
                                                 help_text=_("Empty: every item of the customer."))
    name = models.CharField(_("name"), max_length=200)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    recurrence = models.CharField(_("repeats"), max_length=10, choices=Recurrence.choices, default="", blank=True)
    repeat_until = models.DateField(_("repeat until"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"), editable=False)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")

    def __str__(self) -> str:
        return self.name


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    ZABBIX = "zabbix", "Zabbix"
    WEBHOOK = "webhook", _("Generic JSON webhook")
    HEARTBEAT = "heartbeat", _("Heartbeat")


class InboundIntegration(TimestampedModel):
    """A way in for alerts raised elsewhere, each with its own token (kept hashed): an
    Alertmanager webhook receiver, a Zabbix media type, a generic JSON webhook with a field
    mapping, or a heartbeat that a cron job must ping on schedule."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("customer"))
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("type"), max_length=12, choices=IntegrationKind.choices)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    configuration_item = models.ForeignKey("cmdb.ConfigurationItem", on_delete=models.SET_NULL, null=True,
                                           blank=True, related_name="+", verbose_name=_("configuration item"))
    severity = models.CharField(_("default severity"), max_length=10, choices=Severity.choices,
                                default=Severity.MAJOR)
    mapping = models.JSONField(_("field mapping"), default=dict, blank=True)
    period_seconds = models.PositiveIntegerField(_("expected every (seconds)"), null=True, blank=True)
    grace_seconds = models.PositiveIntegerField(_("grace (seconds)"), default=300)
    last_ping_at = models.DateTimeField(_("last ping"), null=True, blank=True, editable=False)
    # A heartbeat's last "/start": a run that began and has not pinged within the grace is late.
    last_start_at = models.DateTimeField(_("last start"), null=True, blank=True, editable=False)
    escalation_policy = models.ForeignKey("notify.EscalationPolicy", on_delete=models.SET_NULL, null=True,
                                          blank=True, related_name="+", verbose_name=_("escalation policy"))
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["customer", "name"]
        constraints = [models.UniqueConstraint(fields=["customer", "name"], name="unique_integration_name")]
        verbose_name = _("inbound integration")
        verbose_name_plural = _("inbound integrations")

    def __str__(self) -> str:
        return self.name
