"""Answering a satisfaction survey: from the portal's request page (logged in, the survey looked
up through scoping so another customer's is 404), or from the signed link in the resolved mail
(no login: the signature is the permission, for surveys.LINK_MAX_AGE). Both run surveys.answer."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from opsdesk.core.scoping import scope_for
from opsdesk.servicedesk import surveys
from opsdesk.servicedesk.models import SurveyResponse
from opsdesk.servicedesk.registrations_surveys import AnswerForm

MAX_ID = 2**63 - 1
LINK_TEMPLATE = "servicedesk/surveys/link.html"


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@login_required
@require_POST
def answer(request: HttpRequest, pk: int) -> HttpResponse:
    """The portal card's form: the customer user's answer, back to their request's page."""
    if not 0 < pk <= MAX_ID:
        raise Http404
    survey = get_object_or_404(scope_for(request.user, SurveyResponse.objects.select_related("ticket")), pk=pk)
    back = reverse("servicedesk:portal_detail", args=[survey.ticket_id])
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return HttpResponseRedirect(f"{back}#survey")
    try:
        surveys.answer(survey, actor=request.user, rating=form.cleaned_data["rating"],
                       comment=form.cleaned_data["comment"])
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _errors(exc) if isinstance(exc, ValidationError) else str(exc))
    else:
        messages.success(request, _("Thank you for rating our service."))
    return HttpResponseRedirect(f"{back}#survey")


@require_http_methods(["GET", "POST"])
def answer_by_link(request: HttpRequest, token: str) -> HttpResponse:
    """The signed link's small page: answer once, without logging in."""
    try:
        survey_id = surveys.read_link(token)
    except signing.SignatureExpired:
        return render(request, LINK_TEMPLATE, {"problem": _(
            "This link has expired. You can still rate the service on your request's page in the portal.")},
            status=410)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return render(request, LINK_TEMPLATE, {"problem": _("This link is not valid.")}, status=404)
    survey = SurveyResponse.objects.select_related("ticket").filter(pk=survey_id).first()
    if survey is None:
        return render(request, LINK_TEMPLATE, {"problem": _("This survey no longer exists.")}, status=404)
    form = AnswerForm()
    status = 200
    if request.method == "POST" and survey.answered_at is None:
        form = AnswerForm(request.POST)
        if form.is_valid():
            try:
                surveys.answer(survey, actor=None, rating=form.cleaned_data["rating"],
                               comment=form.cleaned_data["comment"])
            except ValidationError as exc:
                form.add_error(None, _errors(exc))
        if form.errors:
            status = 400
    elif request.method == "POST":
        status = 400
    return render(request, LINK_TEMPLATE, {"survey": survey, "ticket": survey.ticket, "form": form,
                                           "title": _("How did we do?")}, status=status)
