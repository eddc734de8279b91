"""Notifications and their delivery log. A notification is a row written in the same transaction
as its cause (an alert firing, a page escalating); the task that sends it carries only its id and a
sweep re-enqueues rows whose lease ran out, so a killed worker loses nothing."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Notification(models.Model):
    """One message to one destination (a channel, and for email/SMS/voice an address)."""

    # The idempotency key: the same cause never makes two notifications (and a vendor that takes
    # an idempotency key gets this one).
    key = models.CharField(_("key"), max_length=120, unique=True, editable=False)
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="+", verbose_name=_("customer"), editable=False)
    channel = models.ForeignKey("notify.Channel", on_delete=models.CASCADE, related_name="notifications",
                                verbose_name=_("channel"), editable=False)
    address = models.CharField(_("address"), max_length=200, blank=True, editable=False)
    recipient = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+", verbose_name=_("recipient"), editable=False)
    language = models.CharField(_("language"), max_length=10, default="zh-hans", editable=False)
    severity = models.CharField(_("severity"), max_length=10, default="info", editable=False)
    title = models.CharField(_("title"), max_length=300, editable=False)
    text = models.TextField(_("text"), blank=True, editable=False)
    url = models.CharField(_("link"), max_length=500, blank=True, editable=False)
    fields = models.JSONField(default=dict, blank=True, editable=False)
    # What caused it, opaque to notify ("monitoring.alert:42"): notify knows channels and people,
    # never alerts.
    source = models.CharField(_("source"), max_length=100, blank=True, editable=False)
    state = models.CharField(_("state"), max_length=10, choices=NotificationState.choices,
                             default=NotificationState.PENDING, editable=False)
    attempts = models.PositiveIntegerField(_("attempts"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # When it may be tried (again): now, after a backoff, or when the destination's limit allows.
    due_at = models.DateTimeField(_("due"), editable=False)
    # A sender owns a row in SENDING until then; a sweep takes rows whose lease ran out.
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, editable=False)
    last_error = models.CharField(_("last error"), max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "due_at"], name="notification_due"),
                   models.Index(fields=["source"], name="notification_source")]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.title


class DeliveryAttempt(models.Model):
    """One request to a destination; a digest of several notifications is one request and one
    attempt row per notification, with the same `request` id."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempts_log",
                                     verbose_name=_("notification"))
    request = models.CharField(_("request"), max_length=40)
    at = models.DateTimeField(_("time"))
    ok = models.BooleanField(_("delivered"))
    status = models.PositiveIntegerField(_("HTTP status"), default=0)
    vendor_code = models.CharField(_("vendor code"), max_length=40, blank=True)
    detail = models.CharField(_("response"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    batch_size = models.PositiveIntegerField(_("messages in the request"), default=1)

    class Meta:
        ordering = ["-at", "-id"]
        # By time too: the rate limits and the retry hold read a destination's recent attempts only
        # (delivery.hold_until), which must not cost more as the log grows.
        indexes = [models.Index(fields=["notification", "-at"], name="attempt_notification"),
                   models.Index(fields=["-at"], name="attempt_at")]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return f"{self.notification_id} @ {self.at:%Y-%m-%d %H:%M:%S}"
