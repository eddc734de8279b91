"""A template's checks, one at a time: add one, edit one, take one out (the template detail page
lists them with these buttons). The list itself stays the template's `checks` JSON, which the API
reads and writes as ever; every change goes through template_services, as the template's own."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from opsdesk.core.generic.forms import apply_errors
from opsdesk.core.permissions import can
from opsdesk.core.views.generic import detail_url
from opsdesk.monitoring import template_services
from opsdesk.monitoring.models import Template
from opsdesk.monitoring.template_check_form import TemplateCheckForm


def _template_to_change(request: HttpRequest, pk: int) -> Template:
    template = get_object_or_404(Template, pk=pk)
    if not can(request.user, "change", template):  # managers' (templates are not a customer's)
        raise PermissionDenied
    return template


def _spec_at(template: Template, position: int | None) -> dict | None:
    checks = template.checks if isinstance(template.checks, list) else []
    if position is None:
        return {}
    if not 0 <= position < len(checks) or not isinstance(checks[position], dict):
        return None
    return checks[position]


@login_required
def template_check_edit(request: HttpRequest, pk: int, position: int | None = None) -> HttpResponse:
    template = _template_to_change(request, pk)
    spec = _spec_at(template, position)
    if spec is None:
        raise Http404
    data = request.POST if request.method == "POST" else (request.GET if "type" in request.GET else None)
    form = TemplateCheckForm(data, spec=spec)
    if request.method == "POST" and form.is_valid():
        saved = form.spec()
        try:
            template_services.save_template_check(template, position, saved, actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, gettext("Saved the check %(name)s of %(template)s.")
                             % {"name": saved["name"], "template": template})
            return HttpResponseRedirect(detail_url(template) + "#template-checks")
    status = 400 if request.method == "POST" else 200
    return render(request, "monitoring/template_check_form.html",
                  {"template": template, "form": form, "adding": position is None,
                   "check_name": spec.get("name", "")}, status=status)


@login_required
@require_POST
def template_check_remove(request: HttpRequest, pk: int, position: int) -> HttpResponse:
    template = _template_to_change(request, pk)
    spec = _spec_at(template, position)
    if spec is None:
        raise Http404
    try:
        template_services.remove_template_check(template, position, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, gettext("Took the check %(name)s out of %(template)s; the checks it made on "
                                          "items stay.") % {"name": spec.get("name", ""), "template": template})
    return HttpResponseRedirect(detail_url(template) + "#template-checks")
