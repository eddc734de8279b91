"""The parameters of the ticket actions (the same fields in the UI and the API)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models import Team, User
from opsdesk.core.permissions import STAFF
from opsdesk.servicedesk.models import Impact, Priority, TicketStatus, Urgency
from opsdesk.servicedesk.models.tickets import LinkKind


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply"), widget=forms.Textarea(attrs={"rows": 5}))


class NoteForm(forms.Form):
    body = forms.CharField(label=_("Internal note"), widget=forms.Textarea(attrs={"rows": 4}))


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=_("assignee"), required=False,
                                      queryset=User.objects.filter(role__in=sorted(STAFF), is_active=True))
    team = forms.ModelChoiceField(label=_("team"), required=False, queryset=Team.objects.all())


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("status"), choices=[
        (s.value, s.label) for s in TicketStatus if s not in (TicketStatus.RESOLVED, TicketStatus.CLOSED)])
    note = forms.CharField(label=_("Internal note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ResolveForm(forms.Form):
    solution = forms.CharField(label=_("Solution (sent to the customer)"), required=False,
                               widget=forms.Textarea(attrs={"rows": 5}))


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("Why reopen?"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class PriorityForm(forms.Form):
    impact = forms.ChoiceField(label=_("impact"), choices=Impact.choices)
    urgency = forms.ChoiceField(label=_("urgency"), choices=Urgency.choices)
    priority = forms.ChoiceField(label=_("priority"), required=False,
                                 choices=[("", _("From the matrix"))] + list(Priority.choices))


class MergeForm(forms.Form):
    into = forms.IntegerField(label=_("Merge into ticket number"), min_value=1)


class LinkForm(forms.Form):
    target = forms.IntegerField(label=_("Ticket number"), min_value=1)
    kind = forms.ChoiceField(label=_("link"), choices=LinkKind.choices)


class WorkLogForm(forms.Form):
    minutes = forms.IntegerField(label=_("minutes"), min_value=1, max_value=1440)
    date = forms.DateField(label=_("date"), required=False)
    note = forms.CharField(label=_("note"), required=False, max_length=300)
    billable = forms.BooleanField(label=_("billable"), required=False, initial=True)
