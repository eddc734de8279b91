"""Monitoring templates and network discovery in the registry (imported by registrations.py).

Templates are shared among staff (managers and administrators edit them; built-in ones cannot be
deleted) and have the action "Apply template" (to one item, or to every item of the kind). A
discovery run is made by its add form, which queues the scan; its devices are accepted (a
configuration item) or ignored.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models.signals import post_migrate
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core import registry
from opsdesk.core import services as core_services
from opsdesk.core.generic.forms import ScopedModelForm, apply_errors
from opsdesk.core.models import Credential, Customer
from opsdesk.core.permissions import MANAGERS, STAFF, can
from opsdesk.core.registry import Action, ModelEntry
from opsdesk.core.scoping import scope_for
from opsdesk.core.views.generic import ObjectActionView, detail_url
from opsdesk.monitoring import template_services
from opsdesk.monitoring.discovery import services as discovery
from opsdesk.monitoring.discovery import tasks as discovery_tasks  # noqa: F401  (Celery finds the tasks here)
from opsdesk.monitoring.discovery.forms import AcceptForm, DiscoveryRunForm
from opsdesk.monitoring.models import Check, DiscoveredDevice, DiscoveryRun, DiscoveryStatus, Template

NOBODY: frozenset[str] = frozenset()
MAX_ID = 2**63 - 1



# --- "Apply template" ----------------------------------------------------------------------------

class ApplyTemplateForm(forms.Form):
    """Numbers in the API; on the page (TemplateActionView) the fields offer what the person may
    choose. The service resolves every id within the person's reach."""

    scope = forms.ChoiceField(label=_("Apply to"), initial="item", choices=[
        ("item", _("One configuration item")), ("kind", _("Every item of the template's kind"))])
    item = forms.IntegerField(label=_("Configuration item"), required=False, min_value=1, max_value=MAX_ID)
    customer = forms.IntegerField(label=_("Customer"), required=False, min_value=1, max_value=MAX_ID,
                                  help_text=_("For every item: only this customer's (empty: every customer's "
                                              "items you may change)."))
    credential = forms.IntegerField(label=_("Credential"), required=False, min_value=1, max_value=MAX_ID,
                                    help_text=_("Optional: for the checks that log in (databases, SNMP). It must "
                                                "be the items' customer's."))

    def offer_choices(self, user, template: Template) -> None:
        empty = [("", "---------")]
        items = template_services.items_to_apply(template, None, actor=user)
        self.fields["item"].widget = forms.Select(
            choices=empty + [(i.pk, f"{i.name} ({i.customer.code})") for i in items[:2000]],
            attrs={"class": "form-select"})
        customers = scope_for(user, Customer.objects.order_by("name"))
        self.fields["customer"].widget = forms.Select(
            choices=empty + [(c.pk, f"{c.name} ({c.code})") for c in customers], attrs={"class": "form-select"})
        credentials = scope_for(user, Credential.objects.select_related("customer").order_by("customer__name", "name"))
        self.fields["credential"].widget = forms.Select(
            choices=empty + [(c.pk, f"{c.name} ({c.customer.code})") for c in credentials],
            attrs={"class": "form-select"})


class TemplateForm(ScopedModelForm):
    """A template's own fields. Its checks are added and edited one at a time on its page
    (views/template_checks.py); the API takes the whole list as JSON."""

    class Meta:
        model = Template
        fields = ["slug", "name", "kind", "description"]


def applied_message(applied: template_services.Applied) -> str:
    message = gettext("Applied to %(items)d items: %(created)d checks created, %(updated)d updated.") % {
        "items": len(applied.items), "created": applied.created, "updated": applied.updated}
    if applied.kept:
        message += " " + ngettext("%(kept)d check made into another type on its item was left as it is.",
                                  "%(kept)d checks made into another type on their items were left as they are.",
                                  applied.kept) % {"kept": applied.kept}
    return message


class TemplateActionView(ObjectActionView):
    """The generic action page, with choices in the form and the result of applying in the
    message (which items were left out, and why)."""

    def authorise(self, pk, name):
        obj, action = super().authorise(pk, name)
        self.object = obj
        return obj, action

    def form(self, action, data=None):
        form = super().form(action, data)
        if isinstance(form, ApplyTemplateForm):
            form.offer_choices(self.request.user, self.object)
        return form

    def post(self, request, pk, name):
        obj, action = self.authorise(pk, name)
        form = self.form(action, request.POST)
        if form.is_valid():
            try:
                applied = core_services.run_action(obj, name, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                if isinstance(applied, template_services.Applied):
                    messages.success(request, applied_message(applied))
                    for _item, why in applied.skipped[:10]:
                        messages.warning(request, why)
                else:
                    messages.success(request, gettext("%(action)s: done.") % {"action": action.label})
                return HttpResponseRedirect(self.next_url(detail_url(obj)))
        return render(request, self.template_name, self.context(object=obj, action=action, form=form), status=400)


def template_detail_context(request, template: Template) -> dict:
    types = template_services.check_types()
    builtin = template.builtin
    rows = []
    for position, spec in enumerate(template.checks if isinstance(template.checks, list) else []):
        if not isinstance(spec, dict):
            continue
        check_type = types.get(spec.get("type")) if isinstance(spec.get("type"), str) else None
        rows.append({
            "name": gettext(str(spec.get("name", ""))) if builtin else spec.get("name", ""),
            "type": gettext(check_type.label) if check_type else spec.get("type", ""),
            "target": spec.get("target", ""), "interval": spec.get("interval", ""),
            "params": json.dumps(spec.get("params", {}), ensure_ascii=False, sort_keys=True),
            "position": position,
        })
    items = scope_for(request.user, ConfigurationItem.objects.all())
    return {
        "template_name": template_services.template_label(template),
        "template_description": gettext(template.description) if builtin and template.description
        else template.description,
        "template_checks": rows,
        "can_change_checks": can(request.user, "change", template),
        "checks_made": Check.objects.filter(template=template, configuration_item__in=items).count(),
    }


registry.register(ModelEntry(
    Template, tenant_path=None, menu="monitoring", view_roles=STAFF, edit_roles=MANAGERS,
    columns=["name", "slug", "kind", "builtin"], search_fields=["name", "slug", "description"],
    select_related=("kind",), form=TemplateForm, create=template_services.create_template,
    update=template_services.update_template,
    delete=template_services.delete_template, detail_template="monitoring/template_detail.html",
    detail_exclude=("checks", "description"), detail_context=template_detail_context,
    views={"action": TemplateActionView},
    actions=[
        Action("apply_template", _("Apply template"), template_services.run_apply_action, roles=STAFF,
               form=ApplyTemplateForm, icon="bi-clipboard-check", style="outline-primary"),
    ],
))


# --- discovery -----------------------------------------------------------------------------------

def run_detail_context(request, run: DiscoveryRun) -> dict:
    devices = scope_for(request.user, DiscoveredDevice.objects.filter(run=run)
                        .select_related("kind", "configuration_item"))
    rows = [{"device": d, "url": detail_url(d),
             "accept": can(request.user, "accept", d), "ignore": can(request.user, "ignore", d),
             "item_url": detail_url(d.configuration_item) if d.configuration_item_id else None}
            for d in devices]
    return {"devices": rows, "finished": run.status in (DiscoveryStatus.DONE, DiscoveryStatus.FAILED)}


registry.register(ModelEntry(
    # Made by its add form (which queues the scan); a run is not edited afterwards, only scanned again.
    DiscoveryRun, tenant_path="customer", menu="monitoring", view_roles=STAFF, edit_roles=STAFF,
    roles={"change": NOBODY}, form=DiscoveryRunForm, create=discovery.start_discovery,
    columns=["network", "customer", "status", "message", "created_by", "created_at", "finished_at"],
    search_fields=["network", "message"], select_related=("customer", "credential", "created_by"),
    detail_template="monitoring/discovery_run_detail.html", detail_context=run_detail_context,
    actions=[
        Action("rescan", _("Scan again"), discovery.rescan, available=discovery.can_rescan, icon="bi-arrow-repeat"),
    ],
))
registry.register(ModelEntry(
    # Written by the scan; people correct the host name and kind, then accept or ignore.
    DiscoveredDevice, tenant_path="customer", menu="monitoring", view_roles=STAFF, edit_roles=STAFF,
    roles={"add": NOBODY}, creatable=False,
    columns=["address", "hostname", "kind", "open_ports", "sys_descr", "customer", "configuration_item", "ignored"],
    search_fields=["address", "hostname", "sys_descr"],
    select_related=("run", "customer", "kind", "configuration_item"),
    actions=[
        Action("accept", _("Accept"), discovery.accept, available=discovery.is_pending, form=AcceptForm,
               icon="bi-check2-circle", style="outline-success"),
        Action("ignore", _("Ignore"), discovery.ignore, available=discovery.is_pending, icon="bi-eye-slash",
               confirm=_("The device stays in the list, marked as ignored.")),
    ],
))


def _sync_builtin_templates(sender, app_config=None, using="default", apps=None, **kwargs) -> None:
    """After every migrate (so `opsdesk setup`): create built-in templates that are missing."""
    if app_config is None or app_config.label != "monitoring" or apps is None:
        return
    from opsdesk.monitoring.builtin_templates import sync

    try:
        template_model, kind_model = apps.get_model("monitoring", "Template"), apps.get_model("cmdb", "CIKind")
    except LookupError:
        return  # migrated only part of the way
    sync(template_model, kind_model, update=False)


post_migrate.connect(_sync_builtin_templates, dispatch_uid="opsdesk.monitoring.builtin_templates")
