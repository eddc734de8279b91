"""The pages of inbound integrations beyond the generic ones. Making an integration and giving it
a new token redirect to its page (a reload must not make another token), which shows the raw
token this once: it waits in the person's session until that page takes it out."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from opsdesk.core import services as core_services
from opsdesk.core.generic.forms import apply_errors
from opsdesk.core.views.generic import ObjectActionView, ObjectDetailView, ObjectEditView, detail_url
from opsdesk.monitoring.inbound import heartbeat
from opsdesk.monitoring.inbound.setup import instructions
from opsdesk.monitoring.models import InboundIntegration


def _session_key(integration: InboundIntegration) -> str:
    return f"opsdesk:inbound-token:{integration.pk}"


def _show_token_once(request, integration: InboundIntegration) -> HttpResponseRedirect:
    request.session[_session_key(integration)] = integration.raw_token
    return HttpResponseRedirect(detail_url(integration))


class InboundEditView(ObjectEditView):
    def post(self, request, pk=None):
        if pk is not None:
            return super().post(request, pk)
        self.authorise(None)
        form = self.form(None)
        if form.is_valid():
            try:
                integration = core_services.create(self.entry.model, form.service_data(), actor=request.user)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                return _show_token_once(request, integration)
        return render(request, self.template_name, self.context(form=form, object=None), status=400)


class InboundActionView(ObjectActionView):
    def post(self, request, pk, name):
        if name != "new_token":
            return super().post(request, pk, name)
        obj, _action = self.authorise(pk, name)
        return _show_token_once(request, core_services.run_action(obj, name, actor=request.user))


class InboundDetailView(ObjectDetailView):
    def get(self, request, pk):
        response = super().get(request, pk)
        add_never_cache_headers(response)  # it may carry the token
        return response


def detail_context(request, integration: InboundIntegration) -> dict:
    raw = request.session.pop(_session_key(integration), None)
    due = heartbeat.due(integration)
    return {"raw": raw, "setup": instructions(integration, raw), "due": due,
            "late": due is not None and due < timezone.now()}
