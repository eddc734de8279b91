"""Host agents, the one-time tokens that enrol them, and the batches of samples they push."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# An agent that has pushed nothing for this long is listed as silent (ten of a host agent's
# default 30-s intervals; a collector pushes at least as often as its most frequent check).
SILENT_AFTER = dt.timedelta(minutes=5)


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


class AgentKind(models.TextChoices):
    HOST = "host", _("Host agent")
    COLLECTOR = "collector", _("Collector")


class Agent(models.Model):
    """Something that pushes samples with its own long-lived token (hashed): the agent on one host
    (its configuration item), or a collector that runs checks for a customer's items."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="agents",
                                 verbose_name=_("customer"), editable=False)
    # The host of a host agent; a collector has none.
    configuration_item = models.ForeignKey("cmdb.ConfigurationItem", on_delete=models.CASCADE, null=True,
                                           blank=True, related_name="agents", verbose_name=_("host"),
                                           editable=False)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=AgentKind.choices, default=AgentKind.HOST,
                            editable=False)
    # The collector that runs the checks no remote collector is named for (the one `opsdesk up` starts).
    central = models.BooleanField(_("central"), default=False, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True, editable=False)
    last_seq = models.BigIntegerField(_("last sequence number"), default=0, editable=False)
    # The highest sequence number whose batch row was forgotten (a day after filing): a re-send at
    # or below it was stored long ago.
    forgotten_up_to = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("agent")
        verbose_name_plural = _("agents")

    def __str__(self) -> str:
        return self.name

    @property
    def connected(self) -> bool:
        """Whether it pushed within SILENT_AFTER."""
        return self.last_seen_at is not None and timezone.now() - self.last_seen_at <= SILENT_AFTER

    def status_text(self) -> str:
        """Connected, silent for how long, or never seen: the lists' column."""
        if self.last_seen_at is None:
            return gettext("Never connected")
        if self.connected:
            return gettext("Connected")
        return gettext("Silent for %(duration)s") % {"duration": timesince(self.last_seen_at, depth=1)}

    status_text.short_description = _("status")
    status_text.admin_order_field = "last_seen_at"


class IngestBatch(models.Model):
    """One pushed batch exactly as received (its validated JSON body), stored at once; filing its
    samples into per-series storage is a later, batched step (filed_at stays empty until then)."""

    # No constraint and no cascade: on SQLite the queue is a database of its own (see
    # monitoring/routers.py), where the agents' table is not. The filer sets a deleted agent's
    # batches aside, and forget_filed removes them a day later.
    agent = models.ForeignKey(Agent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="batches",
                              verbose_name=_("agent"))
    seq = models.BigIntegerField(_("sequence number"))
    samples = models.PositiveIntegerField(_("samples"))
    payload = models.BinaryField(_("payload"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    filed_at = models.DateTimeField(_("filed"), null=True, blank=True)

    class Meta:
        ordering = ["agent_id", "seq"]  # by the column: the agents are in another database on SQLite
        constraints = [models.UniqueConstraint(fields=["agent", "seq"], name="unique_ingest_batch_seq")]
        indexes = [models.Index(fields=["filed_at", "received_at"], name="ingest_batch_unfiled")]
        verbose_name = _("ingest batch")
        verbose_name_plural = _("ingest batches")

    def __str__(self) -> str:
        return f"{self.agent} #{self.seq}"


class Inventory(models.Model):
    """What a host agent last reported about its host: OS, hardware, addresses, packages, ports."""

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="inventory",
                                 verbose_name=_("agent"))
    collected_at = models.DateTimeField(_("collected"))
    received_at = models.DateTimeField(_("received"), auto_now=True)
    digest = models.CharField(max_length=64)
    data = models.JSONField(_("inventory"), default=dict)

    class Meta:
        verbose_name = _("inventory")
        verbose_name_plural = _("inventories")

    def __str__(self) -> str:
        return str(self.agent)

