"""Host agents, the one-time tokens that enrol them, and the batches of samples they push."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EnrolmentToken(models.Model):
    """A one-time token that lets an agent enrol for a customer (stored as a SHA-256 hash)."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="enrolment_tokens",
                                 verbose_name=_("customer"), editable=False)
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), editable=False)
    used_at = models.DateTimeField(_("used"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"), editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("enrolment token")
        verbose_name_plural = _("enrolment tokens")

    def __str__(self) -> str:
        return self.name

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()


class Agent(models.Model):
    """The agent on one host (a configuration item), with its own long-lived token (hashed)."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="agents",
                                 verbose_name=_("customer"), editable=False)
    configuration_item = models.ForeignKey("cmdb.ConfigurationItem", on_delete=models.CASCADE,
                                           related_name="agents", verbose_name=_("host"), editable=False)
    name = models.CharField(_("name"), max_length=200)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True, editable=False)
    last_seq = models.BigIntegerField(_("last sequence number"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("agent")
        verbose_name_plural = _("agents")

    def __str__(self) -> str:
        return self.name


class IngestBatch(models.Model):
    """One pushed batch as received (compact JSON), stored at once; filing its samples into
    per-series storage is a later step (filed_at stays empty until then)."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="batches", verbose_name=_("agent"))
    seq = models.BigIntegerField(_("sequence number"))
    samples = models.PositiveIntegerField(_("samples"))
    payload = models.BinaryField(_("payload"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    filed_at = models.DateTimeField(_("filed"), null=True, blank=True)

    class Meta:
        ordering = ["agent", "seq"]
        constraints = [models.UniqueConstraint(fields=["agent", "seq"], name="unique_ingest_batch_seq")]
        indexes = [models.Index(fields=["filed_at", "received_at"], name="ingest_batch_unfiled")]
        verbose_name = _("ingest batch")
        verbose_name_plural = _("ingest batches")

    def __str__(self) -> str:
        return f"{self.agent} #{self.seq}"
