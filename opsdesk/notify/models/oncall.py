"""On-call: schedules made of rotation layers and overrides, escalation policies made of steps,
and pages (one escalation running for one cause until someone acknowledges it)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel
from opsdesk.core.models.people import validate_time_zone


class Schedule(TimestampedModel):
    """Who is on call when. Layers (rotations) stack: a higher layer covers a lower one where it
    has someone; overrides beat every layer."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    team = models.ForeignKey("core.Team", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="schedules", verbose_name=_("team"))
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai",
                                 validators=[validate_time_zone])
    description = models.TextField(_("description"), blank=True)
    # An iCalendar feed (Grafana OnCall, PagerDuty, a shared calendar) that seeds the schedule:
    # its events become overrides, refreshed by a scheduled task.
    ical_url = models.URLField(_("calendar URL (iCalendar)"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("on-call schedule")
        verbose_name_plural = _("on-call schedules")

    def __str__(self) -> str:
        return self.name


class RotationKind(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly")
    CUSTOM = "custom", _("Custom")


class Rotation(models.Model):
    """One layer of a schedule: its members take turns, each for one shift, from `starts_at` on;
    shifts change at the handoff time in the schedule's time zone."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="rotations",
                                 verbose_name=_("schedule"))
    name = models.CharField(_("name"), max_length=200)
    layer = models.PositiveSmallIntegerField(_("layer"), default=1,
                                             help_text=_("A higher layer covers the lower ones."))
    kind = models.CharField(_("rotation"), max_length=10, choices=RotationKind.choices, default=RotationKind.WEEKLY)
    shift_hours = models.PositiveIntegerField(_("shift length (hours)"), null=True, blank=True,
                                              help_text=_("For a custom rotation only."))
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    handoff_time = models.TimeField(_("handoff time"), default=dt.time(9, 0))
    # Restrict the layer to part of the day (e.g. 09:00–18:00) and some weekdays (0 = Monday);
    # outside them the layer has no one and the lower layers show through.
    active_from = models.TimeField(_("active from"), null=True, blank=True)
    active_until = models.TimeField(_("active until"), null=True, blank=True)
    weekdays = models.JSONField(_("weekdays"), default=list, blank=True,
                                help_text=_("Empty: every day. 0 is Monday."))

    class Meta:
        ordering = ["schedule", "-layer", "id"]
        verbose_name = _("rotation")
        verbose_name_plural = _("rotations")

    def __str__(self) -> str:
        return f"{self.schedule} / {self.name}"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if self.kind == RotationKind.CUSTOM and not self.shift_hours:
            errors["shift_hours"] = _("A custom rotation needs its shift length in hours.")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("The end must be after the start.")
        days = self.weekdays
        if not isinstance(days, list) or any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6
                                             for d in days):
            errors["weekdays"] = _("Give the weekdays as a list of numbers from 0 (Monday) to 6 (Sunday).")
        if errors:
            raise ValidationError(errors)


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members",
                                 verbose_name=_("rotation"))
    user = models.ForeignKey("core.User", on_delete=models.CASCADE, related_name="+", verbose_name=_("user"))
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["rotation", "position", "id"]
        verbose_name = _("rotation member")
        verbose_name_plural = _("rotation members")

    def __str__(self) -> str:
        return f"{self.rotation}: {self.user}"


class Override(models.Model):
    """"I cover for her on Tuesday": someone on call for a period instead of whoever the layers say."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides",
                                 verbose_name=_("schedule"))
    user = models.ForeignKey("core.User", on_delete=models.CASCADE, related_name="+", verbose_name=_("user"))
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # Set for overrides read from the schedule's iCalendar feed (its event's UID), so a refresh
    # replaces them and leaves people's own overrides alone.
    ical_uid = models.CharField(max_length=300, blank=True, editable=False)
    created_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"), editable=False)

    class Meta:
        ordering = ["schedule", "starts_at"]
        indexes = [models.Index(fields=["schedule", "starts_at", "ends_at"], name="override_period")]
        verbose_name = _("override")
        verbose_name_plural = _("overrides")

    def __str__(self) -> str:
        return f"{self.schedule}: {self.user}"

    def clean(self) -> None:
        super().clean()
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The end must be after the start.")})


class EscalationPolicy(TimestampedModel):
    """Who is paged, in which order: step 1 at once, each next step after its delay if nobody
    acknowledged, the whole list again `repeat` times, and finally the service manager."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    team = models.ForeignKey("core.Team", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="escalation_policies", verbose_name=_("team"))
    # The policy that pages for these customers' alerts when a rule names none.
    customers = models.ManyToManyField("core.Customer", blank=True, related_name="+",
                                       verbose_name=_("default for customers"))
    repeat = models.PositiveSmallIntegerField(
        _("repeat"), default=0, help_text=_("How many more times the steps run when nobody acknowledges."))
    final_user = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("finally notify"),
                                   help_text=_("Usually the service manager: paged when every step and repeat has "
                                               "gone unacknowledged."))
    channels = models.ManyToManyField("notify.Channel", blank=True, related_name="+",
                                      verbose_name=_("also post to"),
                                      help_text=_("Group channels told of every page (a team's DingTalk group)."))

    class Meta:
        ordering = ["name"]
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")

    def __str__(self) -> str:
        return self.name


class StepTarget(models.TextChoices):
    SCHEDULE = "schedule", _("Who is on call in a schedule")
    USER = "user", _("A person")
    TEAM = "team", _("Every member of a team")


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps",
                               verbose_name=_("escalation policy"))
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    delay_minutes = models.PositiveIntegerField(
        _("after (minutes)"), default=0, help_text=_("Minutes after the previous step when nobody acknowledged."))
    target = models.CharField(_("notify"), max_length=10, choices=StepTarget.choices, default=StepTarget.SCHEDULE)
    schedule = models.ForeignKey(Schedule, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                 verbose_name=_("schedule"))
    user = models.ForeignKey("core.User", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                             verbose_name=_("user"))
    team = models.ForeignKey("core.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                             verbose_name=_("team"))

    class Meta:
        ordering = ["policy", "position", "id"]
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")

    def __str__(self) -> str:
        return f"{self.policy} #{self.position + 1}"

    def clean(self) -> None:
        super().clean()
        needed = {StepTarget.SCHEDULE: ("schedule", self.schedule_id), StepTarget.USER: ("user", self.user_id),
                  StepTarget.TEAM: ("team", self.team_id)}.get(self.target)
        if needed is not None and not needed[1]:
            raise ValidationError({needed[0]: _("Choose whom this step notifies.")})


class PageState(models.TextChoices):
    ACTIVE = "active", _("Escalating")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")
    EXHAUSTED = "exhausted", _("Nobody acknowledged")


class Page(models.Model):
    """One escalation running for one cause (opaque to notify: `source`, e.g. "monitoring.alert:42").
    The next step is due at `next_at`; a sweep advances pages whose time came, so a page survives a
    restart of every process."""

    source = models.CharField(_("source"), max_length=100, unique=True, editable=False)
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+", verbose_name=_("customer"), editable=False)
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="pages", verbose_name=_("escalation policy"), editable=False)
    # What to tell people (title, text, severity, url, fields) in each language: {"en": {...}, "zh-hans": {...}}.
    message = models.JSONField(default=dict, editable=False)
    state = models.CharField(_("state"), max_length=12, choices=PageState.choices, default=PageState.ACTIVE,
                             editable=False)
    step = models.PositiveSmallIntegerField(_("step"), default=0, editable=False)
    round = models.PositiveSmallIntegerField(_("round"), default=0, editable=False)
    next_at = models.DateTimeField(_("next step due"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True, editable=False)
    acknowledged_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+", verbose_name=_("acknowledged by"), editable=False)
    # Everyone paged so far: told again when the cause resolves.
    paged_users = models.JSONField(default=list, editable=False)
    # The group channels told of the page (the policy's and the caller's): told of its end too.
    channel_ids = models.JSONField(default=list, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_at"], name="page_due")]
        verbose_name = _("page")
        verbose_name_plural = _("pages")

    def __str__(self) -> str:
        return self.source
