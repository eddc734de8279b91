"""Customers (tenants) and what is agreed with them: contracts, service levels, sites, contacts."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
    _("Use letters, digits, '-', '_' or '.', starting with a letter or digit."),
)


class Customer(TimestampedModel):
    """A tenant: every customer-owned row points here, and scoping filters on it."""

    code = models.CharField(_("code"), max_length=40, unique=True, validators=[code_validator],
                            help_text=_("Short unique code, used in imports and the API."))
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return self.name


class FaultLevel(models.TextChoices):
    # The three fault levels Chinese service contracts use: 严重 / 一般 / 轻微.
    SEVERE = "severe", _("Severe")
    GENERAL = "general", _("General")
    MINOR = "minor", _("Minor")


class ServiceLevel(TimestampedModel):
    """A named set of response and resolution commitments, shared by contracts."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("service level")
        verbose_name_plural = _("service levels")

    def __str__(self) -> str:
        return self.name


class ServiceLevelTarget(models.Model):
    service_level = models.ForeignKey(ServiceLevel, on_delete=models.CASCADE, related_name="targets",
                                      verbose_name=_("service level"))
    fault_level = models.CharField(_("fault level"), max_length=16, choices=FaultLevel.choices)
    response_minutes = models.PositiveIntegerField(_("response within (minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution within (minutes)"))
    business_hours_only = models.BooleanField(_("business hours only"), default=False)

    class Meta:
        ordering = ["service_level", "fault_level"]
        constraints = [models.UniqueConstraint(fields=["service_level", "fault_level"], name="unique_sl_fault_level")]
        verbose_name = _("service level target")
        verbose_name_plural = _("service level targets")

    def __str__(self) -> str:
        return f"{self.service_level} / {self.get_fault_level_display()}"

    def clean(self) -> None:
        if self.response_minutes is not None and self.resolution_minutes is not None \
                and self.resolution_minutes < self.response_minutes:
            raise ValidationError({"resolution_minutes": _("Resolution cannot come before the response.")})


class Contract(TimestampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contracts",
                                 verbose_name=_("customer"))
    number = models.CharField(_("number"), max_length=60)
    name = models.CharField(_("name"), max_length=200)
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"))
    service_level = models.ForeignKey(ServiceLevel, on_delete=models.PROTECT, related_name="contracts",
                                      verbose_name=_("service level"))
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["customer", "-start_date"]
        constraints = [models.UniqueConstraint(fields=["customer", "number"], name="unique_contract_number")]
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The end date is before the start date.")})


class Site(TimestampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sites",
                                 verbose_name=_("customer"))
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["customer", "name"]
        constraints = [models.UniqueConstraint(fields=["customer", "name"], name="unique_site_name")]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return self.name


class Contact(TimestampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts",
                                 verbose_name=_("customer"))
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)

    class Meta:
        ordering = ["customer", "name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.name
