"""Network discovery: a scan of an address range, and the devices it found for an engineer to accept."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class DiscoveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class DiscoveryRun(models.Model):
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("customer"))
    network = models.CharField(_("network"), max_length=100, help_text=_("An address range, e.g. 10.0.0.0/24."))
    ports = models.CharField(_("TCP ports"), max_length=200, blank=True, default="22,80,443,161,3306,5432,6379")
    credential = models.ForeignKey("core.Credential", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("SNMP credential"))
    status = models.CharField(_("status"), max_length=10, choices=DiscoveryStatus.choices,
                              default=DiscoveryStatus.QUEUED, editable=False)
    message = models.CharField(_("message"), max_length=500, blank=True, editable=False)
    started_at = models.DateTimeField(_("started"), null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"), editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("discovery")
        verbose_name_plural = _("discoveries")

    def __str__(self) -> str:
        return self.network


class DiscoveredDevice(models.Model):
    run = models.ForeignKey(DiscoveryRun, on_delete=models.CASCADE, related_name="devices",
                            verbose_name=_("discovery"), editable=False)
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("customer"), editable=False)
    address = models.GenericIPAddressField(_("address"), editable=False)
    hostname = models.CharField(_("host name"), max_length=200, blank=True)
    open_ports = models.JSONField(_("open ports"), default=list, editable=False)
    sys_descr = models.CharField(_("SNMP description"), max_length=500, blank=True, editable=False)
    snmp_version = models.CharField(_("SNMP version"), max_length=2, blank=True, editable=False,
                                    help_text=_("The SNMP version its agent answered; an SNMP check made when "
                                                "it is accepted with a template uses it."))
    kind = models.ForeignKey("cmdb.CIKind", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+", verbose_name=_("proposed kind"))
    configuration_item = models.ForeignKey("cmdb.ConfigurationItem", on_delete=models.SET_NULL, null=True,
                                           blank=True, related_name="+", verbose_name=_("configuration item"),
                                           editable=False)
    ignored = models.BooleanField(_("ignored"), default=False, editable=False)

    class Meta:
        ordering = ["run", "address"]
        constraints = [models.UniqueConstraint(fields=["run", "address"], name="unique_discovered_address")]
        verbose_name = _("discovered device")
        verbose_name_plural = _("discovered devices")

    def __str__(self) -> str:
        return self.hostname or self.address
