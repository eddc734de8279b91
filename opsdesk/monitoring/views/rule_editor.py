"""The alert rule editor: the generic form, with a live preview of how often the rule as typed
would have fired over the last 7 days (htmx posts the form here on every change)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from opsdesk.core import registry
from opsdesk.core.generic.forms import form_for
from opsdesk.core.permissions import can
from opsdesk.core.views.generic import ObjectEditView
from opsdesk.monitoring.alerting.messages import duration
from opsdesk.monitoring.alerting.preview import DAYS, preview
from opsdesk.monitoring.models import AlertRule


class RuleEditView(ObjectEditView):
    template_name = "monitoring/rule_edit.html"


@login_required
@require_POST
def rule_preview(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "add", AlertRule):
        raise PermissionDenied
    form = form_for(registry.get(AlertRule))(request.POST, user=request.user)
    context = {"days": DAYS}
    if form.is_valid():
        result = preview(form.instance, request.user)
        context["preview"] = result
        if result.longest is not None:
            context["longest"] = duration(result.longest.total_seconds(), get_language() or "en")
    else:
        context["problems"] = sorted({str(form.fields[name].label) for name in form.errors if name in form.fields})
    return render(request, "monitoring/rule_preview.html", context)
