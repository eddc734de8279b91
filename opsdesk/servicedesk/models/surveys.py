"""The customer's satisfaction survey, one per resolution of a ticket (a ticket reopened and
resolved again is asked again), answered once: in the portal, or through the signed link."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

RATINGS = [(n, str(n)) for n in range(1, 6)]
LOW_RATING = 2  # 1 and 2: the assignee is told and the timeline says so


class SurveyResponse(models.Model):
    ticket = models.ForeignKey("servicedesk.Ticket", on_delete=models.CASCADE, related_name="surveys",
                               verbose_name=_("ticket"))
    # Denormalised from the ticket, so scoping is one column like every customer-owned row.
    customer = models.ForeignKey("core.Customer", on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("customer"))
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True, choices=RATINGS,
                                              validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(_("comment"), blank=True)
    # Empty when answered through the signed link (nobody logged in).
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("answered by"))

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        constraints = [
            # At most one unanswered survey per ticket: a second resolve before an answer asks once.
            models.UniqueConstraint(fields=["ticket"], condition=Q(answered_at__isnull=True),
                                    name="one_open_survey_per_ticket"),
            models.CheckConstraint(condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                                   name="survey_rating_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} · {self.rating}/5" if self.rating else f"#{self.ticket_id}"

    @property
    def answered(self) -> bool:
        return self.answered_at is not None
