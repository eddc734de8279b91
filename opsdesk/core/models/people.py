"""People and what they may do: users with one role, teams."""

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    MANAGER = "manager", _("Service manager")
    ENGINEER = "engineer", _("Engineer")
    CUSTOMER = "customer", _("Customer user")


STAFF_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.ENGINEER})


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value}) from None


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.ENGINEER)
    customer = models.ForeignKey("core.Customer", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="users", verbose_name=_("customer"),
                                 help_text=_("Required for customer users, empty for staff."))
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, validators=[validate_time_zone],
                                 help_text=_("Empty: the site default (Asia/Shanghai unless configured)."))
    language = models.CharField(_("language"), max_length=10, blank=True,
                                choices=[("en", "English"), ("zh-hans", "简体中文")],
                                help_text=_("Empty: from the browser."))

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES

    def clean(self) -> None:
        super().clean()
        if self.role == Role.CUSTOMER and not self.customer_id:
            raise ValidationError({"customer": _("A customer user must belong to a customer.")})
        if self.role != Role.CUSTOMER and self.customer_id:
            raise ValidationError({"customer": _("Only customer users belong to a customer.")})

    def save(self, *args, **kwargs) -> None:
        # Django's own is_staff/is_superuser follow the role, so there is one source of truth.
        self.is_staff = self.role in STAFF_ROLES
        self.is_superuser = self.role == Role.ADMIN
        super().save(*args, **kwargs)


class Team(TimestampedModel):
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    members = models.ManyToManyField(User, blank=True, related_name="teams", verbose_name=_("members"),
                                     limit_choices_to={"role__in": sorted(STAFF_ROLES)})
    # An MSP engineer works for the customers their teams serve and sees no others.
    customers = models.ManyToManyField("core.Customer", blank=True, related_name="teams",
                                       verbose_name=_("customers served"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name
