"""Satisfaction surveys on pages that are not theirs, without touching those pages' views:
{% survey_portal_card ticket %} (the portal's "How did we do?" card), {% survey_desk_card ticket %}
(the answers in the desk's right column) and {% survey_link_for ticket %} (the signed link in the
resolved mail; empty when the ticket has no unanswered survey)."""

from __future__ import annotations

from django import template

from opsdesk.core.permissions import CUSTOMER, can
from opsdesk.servicedesk import surveys
from opsdesk.servicedesk.models import SurveyResponse

register = template.Library()


@register.inclusion_tag("servicedesk/surveys/_portal_card.html", takes_context=True)
def survey_portal_card(context, ticket) -> dict:
    user = context["request"].user
    # The unanswered survey, else the latest answer.
    survey = surveys.open_survey(ticket) or (SurveyResponse.objects.filter(ticket=ticket)
                                             .order_by("-answered_at", "-pk").first())
    if survey is None or not can(user, "view", survey):
        return {"survey": None}
    may_answer = getattr(user, "role", None) == CUSTOMER and can(user, "answer", survey)
    return {"survey": survey, "may_answer": may_answer, "form": None, "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("servicedesk/surveys/_desk_card.html")
def survey_desk_card(ticket) -> dict:
    return {"surveys": list(SurveyResponse.objects.filter(ticket=ticket).select_related("answered_by")
                            .order_by("-sent_at", "-pk"))}


@register.simple_tag
def survey_link_for(ticket) -> str:
    survey = surveys.open_survey(ticket)
    return surveys.survey_link(survey) if survey is not None else ""
