"""Secrets opsdesk uses to reach customers' systems, encrypted at rest and never shown again."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel


class CredentialKind(models.TextChoices):
    PASSWORD = "password", _("Username and password")
    SNMP_COMMUNITY = "snmp_community", _("SNMP community")
    SNMP_V3 = "snmp_v3", _("SNMPv3 user")
    SSH_KEY = "ssh_key", _("SSH private key")
    TOKEN = "token", _("API token")


class Credential(TimestampedModel):
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="credentials",
                                 verbose_name=_("customer"))
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=CredentialKind.choices)
    username = models.CharField(_("username"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    # Fernet token of the secret: see opsdesk.core.crypto. Never rendered, never logged.
    secret_encrypted = models.TextField(editable=False, blank=True)
    secret_changed_at = models.DateTimeField(_("secret changed"), null=True, editable=False)

    class Meta:
        ordering = ["customer", "name"]
        constraints = [models.UniqueConstraint(fields=["customer", "name"], name="unique_credential_name")]
        verbose_name = _("credential")
        verbose_name_plural = _("credentials")

    def __str__(self) -> str:
        return self.name

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)
