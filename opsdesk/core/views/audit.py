"""The audit log: per object on its detail page, and a global filtered list for staff."""

from __future__ import annotations

import django_filters
from auditlog.models import LogEntry
from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opsdesk.core import registry
from opsdesk.core.models import User
from opsdesk.core.scoping import scope_log
from opsdesk.core.templatetags.opsdesk import ChangeRows

# django-auditlog's own labels have no zh-Hans translation.
# A context, because "created" is also the label of every created_at field.
ACTIONS = [(LogEntry.Action.CREATE, pgettext_lazy("audit action", "created")),
           (LogEntry.Action.UPDATE, pgettext_lazy("audit action", "changed")),
           (LogEntry.Action.DELETE, pgettext_lazy("audit action", "deleted")),
           (LogEntry.Action.ACCESS, pgettext_lazy("audit action", "accessed"))]


def history_for(user, obj: Model) -> QuerySet:
    # Only staff read the audit log: it names people and values across the whole service.
    if not getattr(user, "is_staff_role", False):
        return LogEntry.objects.none()
    return LogEntry.objects.get_for_object(obj).select_related("actor", "content_type").order_by("-timestamp")


def _audited_types(request=None):
    return ContentType.objects.filter(
        pk__in=[ContentType.objects.get_for_model(e.model).pk for e in registry.entries()]
    )


class AuditFilterSet(django_filters.FilterSet):
    actor = django_filters.ModelChoiceFilter(queryset=User.objects.all(), label=_("Who"))
    content_type = django_filters.ModelChoiceFilter(queryset=_audited_types, label=_("Type"))
    action = django_filters.ChoiceFilter(choices=ACTIONS, label=_("Action"))
    object_repr = django_filters.CharFilter(lookup_expr="icontains", label=_("Object"))
    # Days in the person's time zone (the one the list shows), picked with the browser's calendar.
    since = django_filters.DateFilter(field_name="timestamp", lookup_expr="date__gte", label=_("From"),
                                      widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    until = django_filters.DateFilter(field_name="timestamp", lookup_expr="date__lte", label=_("To"),
                                      widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    class Meta:
        model = LogEntry
        fields = ["actor", "content_type", "action", "object_repr"]


@login_required
def audit_list(request):
    if not request.user.is_staff_role:
        raise Http404
    # An engineer reads only what concerns the customers their teams serve.
    qs = scope_log(request.user, LogEntry.objects.select_related("actor", "content_type")).order_by("-timestamp")
    filterset = AuditFilterSet(request.GET, queryset=qs)
    for f in filterset.form.fields.values():
        f.widget.attrs.setdefault("class", "form-select form-select-sm" if hasattr(f, "queryset") or
                                  getattr(f, "choices", None) else "form-control form-control-sm")
    page = Paginator(filterset.qs if filterset.is_valid() else qs.none(), 50).get_page(request.GET.get("page"))
    rows = ChangeRows()  # one read of each related object named on this page
    for log in page:
        log.opsdesk_change_rows = rows.rows(log)
    params = request.GET.copy()
    params.pop("page", None)
    return render(request, "core/audit_list.html",
                  {"filterset": filterset, "page": page, "querystring": params.urlencode()})
