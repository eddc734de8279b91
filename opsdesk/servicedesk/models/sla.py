"""The SLA policy of a service level (its calendar, warnings, update interval and escalation) and
the clocks of each ticket counted on it.

A clock counts *business seconds* on its calendar (none: 7×24) from `started_at`; the time the
ticket waited for the customer is `paused_seconds` (business seconds too), so
due = calendar.add(started_at, target_seconds + paused_seconds). A changed priority or policy
gives a new target from the same start with the same paused time."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel


def parse_thresholds(text: str) -> tuple[int, ...]:
    """"75,90" -> (75, 90): percents of the time used at which a warning goes out."""
    values = []
    for part in (text or "").replace("，", ",").split(","):
        part = part.strip().rstrip("%").strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= 99:
            raise ValidationError(_("Write percents between 1 and 99, separated by commas (75,90)."),
                                  code="threshold")
        values.append(int(part))
    return tuple(sorted(set(values)))


def validate_thresholds(text: str) -> None:
    parse_thresholds(text)


class SLAPolicy(TimestampedModel):
    """How the service desk keeps a service level's commitments (core.ServiceLevel holds the
    minutes per fault level)."""

    service_level = models.OneToOneField("core.ServiceLevel", on_delete=models.CASCADE, related_name="sla_policy",
                                         verbose_name=_("service level"))
    calendar = models.ForeignKey(
        "servicedesk.BusinessCalendar", on_delete=models.PROTECT, null=True, blank=True, related_name="policies",
        verbose_name=_("business calendar"),
        help_text=_("Where business-hours targets count; empty: the default calendar."))
    warn_at = models.CharField(_("warn at (% of the time used)"), max_length=50, default="75,90", blank=True,
                               validators=[validate_thresholds])
    update_minutes = models.PositiveIntegerField(
        _("update the customer every (minutes)"), null=True, blank=True,
        help_text=_("After the first response, a public reply is due this often while the ticket is open."))
    escalation_policy = models.ForeignKey("notify.EscalationPolicy", on_delete=models.SET_NULL, null=True,
                                          blank=True, related_name="+", verbose_name=_("escalate a breach to"))

    class Meta:
        ordering = ["service_level"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return str(self.service_level)

    @property
    def thresholds(self) -> tuple[int, ...]:
        try:
            return parse_thresholds(self.warn_at)
        except ValidationError:
            return ()


class ClockKind(models.TextChoices):
    RESPONSE = "response", _("First response")
    RESOLUTION = "resolution", _("Resolution")
    UPDATE = "update", _("Update")


class SLAClock(models.Model):
    """One commitment of one ticket. Response and resolution: one clock each per ticket (a
    reopened ticket resumes them). Update: a new clock after each public reply of the desk."""

    ticket = models.ForeignKey("servicedesk.Ticket", on_delete=models.CASCADE, related_name="sla_clocks",
                               verbose_name=_("ticket"))
    kind = models.CharField(_("kind"), max_length=10, choices=ClockKind.choices)
    # None: 7×24. PROTECT: a calendar in use is not deleted under its clocks.
    calendar = models.ForeignKey("servicedesk.BusinessCalendar", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("calendar"))
    target_seconds = models.PositiveIntegerField(_("target (business seconds)"))
    started_at = models.DateTimeField(_("started"))
    paused_seconds = models.PositiveIntegerField(_("paused (business seconds)"), default=0)
    paused_since = models.DateTimeField(_("paused since"), null=True, blank=True)
    # Every pause that ended, [from, to] in ISO 8601: the paused business time is recounted from
    # them when the target's calendar changes, so no paused time is lost (GLPI's #15605).
    pauses = models.JSONField(default=list, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)
    # "response" (the first response met it) or "resolution" (the ticket was resolved: a reopen resumes it).
    stopped_by = models.CharField(max_length=10, blank=True)
    breached_at = models.DateTimeField(_("breached"), null=True, blank=True)
    warned_percent = models.PositiveSmallIntegerField(default=0)
    # When the sweep must look at this clock next (the next warning threshold, or the due date).
    next_check_at = models.DateTimeField(null=True, blank=True)
    # The count ran into days the calendar does not know (chinese-calendar and the administrator
    # both silent): plain weekday hours were used there.
    fallback = models.BooleanField(default=False)

    class Meta:
        ordering = ["ticket", "started_at", "id"]
        indexes = [models.Index(fields=["next_check_at"], name="slaclock_next_check",
                                condition=Q(next_check_at__isnull=False)),
                   models.Index(fields=["ticket", "kind"], name="slaclock_ticket_kind")]
        verbose_name = _("SLA clock")
        verbose_name_plural = _("SLA clocks")

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.get_kind_display()}"

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def paused(self) -> bool:
        return self.stopped_at is None and self.paused_since is not None
