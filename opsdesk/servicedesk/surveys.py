"""Satisfaction surveys: asked when a ticket is resolved, answered once (the `answer` action,
the same from the portal, the generic action page, the API and the signed link).

The survey row is written by a `ticket_event` listener inside the resolve's transaction, so a
survey exists exactly when the resolution does. A low rating (1–2) writes a "survey_low" event on
the ticket's timeline and tells the assignee on their contact methods (notify), in the same
transaction as the answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from opsdesk.core.actions import domain_action, permission_denied
from opsdesk.core.models import User
from opsdesk.core.permissions import can
from opsdesk.servicedesk.models import SurveyResponse, Ticket, TicketStatus
from opsdesk.servicedesk.models.surveys import LOW_RATING
from opsdesk.servicedesk.models.tickets import EntryKind

LINK_SALT = "opsdesk.servicedesk.survey-link"
LINK_MAX_AGE = 14 * 24 * 3600  # seconds a survey link in a mail works without logging in
MAX_COMMENT = 4000
LANGUAGES = ("zh-hans", "en")


# --- asking ----------------------------------------------------------------------------------------

def on_ticket_event(sender, ticket: Ticket, event: str, entry=None, **kwargs: Any) -> None:
    """Inside the action's transaction: a resolution asks the customer (once per resolution)."""
    # A merged ticket passes through "resolved" on its way to closed: its conversation goes on in
    # the other ticket, which is the one to ask about.
    if event == "status" and kwargs.get("new") == TicketStatus.RESOLVED and not ticket.merged_into_id:
        ask(ticket, at=ticket.resolved_at)


def ask(ticket: Ticket, *, at: dt.datetime | None = None) -> SurveyResponse:
    """The ticket's unanswered survey, made now if there is none. A survey still unanswered from
    an earlier resolution is asked again (its sent_at moves) rather than doubled."""
    at = at or timezone.now()
    survey = SurveyResponse.objects.select_for_update().filter(ticket=ticket, answered_at__isnull=True).first()
    if survey is None:
        return SurveyResponse.objects.create(ticket=ticket, customer_id=ticket.customer_id, sent_at=at)
    survey.sent_at = at
    survey.save(update_fields=["sent_at"])
    return survey


def open_survey(ticket: Ticket) -> SurveyResponse | None:
    return SurveyResponse.objects.filter(ticket=ticket, answered_at__isnull=True).order_by("-pk").first()


# --- the signed link ------------------------------------------------------------------------------

def survey_link(survey: SurveyResponse) -> str:
    """A link that answers this survey without logging in, for LINK_MAX_AGE (the signature is the
    permission; the survey answers once, whoever holds the link)."""
    token = signing.dumps({"s": survey.pk}, salt=LINK_SALT, compress=True)
    return settings.BASE_URL + reverse("servicedesk:survey_link", args=[token])


def read_link(token: str) -> int:
    """The survey id of a signed link; raises signing.BadSignature (or SignatureExpired)."""
    return int(signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)["s"])


# --- answering ------------------------------------------------------------------------------------

def _clean(rating: Any, comment: str) -> tuple[int, str]:
    errors: dict[str, list[str]] = {}
    try:
        value = int(rating)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 5 or isinstance(rating, bool):
        errors["rating"] = [_("Choose a rating from 1 to 5.")]
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        errors["comment"] = [_("Keep the comment under %(max)d characters.") % {"max": MAX_COMMENT}]
    if errors:
        raise ValidationError(errors)
    return value, comment


def answer(survey: SurveyResponse, *, actor: User | None, rating: Any, comment: str = "") -> SurveyResponse:
    """The customer's answer, once. `actor=None` is the signed link (its signature was checked)."""
    if actor is not None and not can(actor, "answer", survey):
        raise permission_denied()
    value, comment = _clean(rating, comment)
    with domain_action(actor, "answer", survey, check=False) as context:
        locked = SurveyResponse.objects.select_for_update().get(pk=survey.pk)
        if locked.answered_at is not None:
            raise ValidationError({"rating": _("This survey is already answered: thank you.")})
        survey.rating, survey.comment, survey.answered_at = value, comment, timezone.now()
        survey.answered_by = actor if actor is not None and actor.pk else None
        survey.save(update_fields=["rating", "comment", "answered_at", "answered_by"])
        context.audit(survey, {"rating": [None, value], "comment": ["", comment]})
        if value <= LOW_RATING:
            _low(survey, actor)
    return survey


def _low(survey: SurveyResponse, actor: User | None) -> None:
    """A low rating: on the timeline (staff only) and to the assignee."""
    from opsdesk.servicedesk.models import TicketEntry

    ticket = survey.ticket
    TicketEntry.objects.create(ticket=ticket, kind=EntryKind.EVENT, public=False, event="survey_low",
                               author=actor if actor is not None and actor.pk else None,
                               data={"survey": survey.pk, "rating": survey.rating}, created_at=survey.answered_at)
    assignee = ticket.assignee if ticket.assignee_id else None
    if assignee is None or not assignee.is_active:
        return
    from opsdesk.notify import escalation

    url = settings.BASE_URL + reverse("servicedesk:ticket_detail", args=[ticket.pk])
    texts = {}
    for language in LANGUAGES:
        with translation.override(language):
            title = _("Low satisfaction rating %(rating)d/5 on #%(number)s: %(title)s") % {
                "rating": survey.rating, "number": ticket.pk, "title": ticket.title}
            texts[language] = {"title": title[:300], "text": survey.comment[:500] or ticket.customer.name,
                               "url": url, "severity": "minor"}
    escalation.tell_users([assignee], message=texts, key=f"sd.survey_low:{survey.pk}",
                          source=f"servicedesk.ticket:{ticket.pk}", customer=ticket.customer)


# --- the manager's figure -------------------------------------------------------------------------

def csat(surveys, *, days: int = 30, now: dt.datetime | None = None) -> dict[str, Any]:
    """Average rating, answered and sent of the surveys sent in the last `days` (already scoped)."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    row = surveys.filter(sent_at__gte=since).aggregate(
        sent=Count("id"), answered=Count("id", filter=Q(answered_at__isnull=False)),
        average=Avg("rating", filter=Q(answered_at__isnull=False)))
    return {"sent": row["sent"], "answered": row["answered"],
            "average": round(float(row["average"]), 1) if row["average"] is not None else None}
