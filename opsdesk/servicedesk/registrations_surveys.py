"""Satisfaction surveys in the registry: the list (staff see their customers', a customer user
their own), the `answer` action (the portal, the generic action page and the API all run
surveys.answer), the ticket_event listener that asks, and the managers' CSAT figure."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.permissions import ALL_ROLES, STAFF
from opsdesk.core.registry import Action, ModelEntry
from opsdesk.core.scoping import scope_for
from opsdesk.servicedesk import surveys
from opsdesk.servicedesk.models import SurveyResponse
from opsdesk.servicedesk.models.surveys import RATINGS

NOBODY: frozenset[str] = frozenset()


class AnswerForm(forms.Form):
    rating = forms.TypedChoiceField(label=_("How did we do?"), choices=RATINGS, coerce=int,
                                    widget=forms.RadioSelect, help_text=_("1 is poor, 5 is excellent."))
    comment = forms.CharField(label=_("Anything to tell us?"), required=False, max_length=surveys.MAX_COMMENT,
                              widget=forms.Textarea(attrs={"rows": 3}))


def _answer(survey: SurveyResponse, *, actor, rating: Any, comment: str = "") -> SurveyResponse:
    return surveys.answer(survey, actor=actor, rating=rating, comment=comment)


registry.register(ModelEntry(
    SurveyResponse, tenant_path="customer", menu="servicedesk", view_roles=ALL_ROLES, edit_roles=NOBODY,
    creatable=False, url_slug="surveys",
    columns=["ticket", "customer", "sent_at", "answered_at", "rating", "comment", "answered_by"],
    sortable=("sent_at", "answered_at", "rating"), search_fields=["comment", "ticket__title"],
    select_related=("ticket", "customer", "answered_by"),
    readonly_fields=("ticket", "customer", "sent_at", "answered_at", "rating", "comment", "answered_by"),
    actions=[Action("answer", _("Rate the service"), _answer, roles=ALL_ROLES, icon="bi-star", style="primary",
                    form=AnswerForm, available=lambda s: s.answered_at is None)],
))


def csat_widgets(request) -> list[dict]:
    """Staff: the average rating of the last 30 days over their customers' surveys."""
    if getattr(request.user, "role", None) not in STAFF:
        return []
    figure = surveys.csat(scope_for(request.user, SurveyResponse.objects.all()))
    value = f"{figure['average']} / 5" if figure["average"] is not None else "—"
    title = gettext("Satisfaction, 30 days (%(answered)d of %(sent)d answered)") % figure
    return [{"kind": "number", "title": title, "value": value, "icon": "bi-star-half",
             "url": reverse("servicedesk:surveyresponse_list")}]


registry.add_dashboard_panel("servicedesk_csat", csat_widgets, order=65)
