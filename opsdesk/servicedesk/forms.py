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


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (the checks on size and type are the service's)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        return [super().clean(data, initial)] if data else []


def ticket_form():
    """The desk's ticket form (phone calls, walk-ins, a mail forwarded by hand): the caller's
    number finds their contact; files come with the description. Built late: it needs the app's
    models and the generic scoped form."""
    from django.urls import reverse_lazy

    from opsdesk.core.generic.forms import ScopedModelForm, rerender_on_change, style_widgets
    from opsdesk.servicedesk.models import Ticket

    class TicketForm(ScopedModelForm):
        phone = forms.CharField(label=_("Caller's phone"), required=False, max_length=40,
                                help_text=_("Type the number: matching contacts appear below."))
        files = MultipleFileField(label=_("Attachments"), required=False)

        class Meta:
            model = Ticket
            fields = ["phone", "customer", "requester", "requester_email", "ticket_type", "category", "title",
                      "description", "impact", "urgency", "configuration_items", "language", "files"]
            widgets = {"description": forms.Textarea(attrs={"rows": 6})}

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.fields["phone"].widget.attrs.update({
                "hx-get": str(reverse_lazy("servicedesk:ticket_callers")), "hx-trigger": "keyup changed delay:300ms",
                "hx-target": "#caller-matches", "hx-swap": "outerHTML", "hx-params": "phone", "name": "phone",
                "autocomplete": "off"})
            self.fields["configuration_items"].required = False
            if self.instance.pk:
                # An open ticket keeps its customer and the way it came; its files come with replies.
                for name in ("phone", "customer", "files"):
                    self.fields.pop(name, None)
            self._add_category_fields()

        def _add_category_fields(self) -> None:
            """The chosen category's own fields (what the portal asks the customer), none of them
            required here: the person on the phone may not know the serial number yet. Choosing
            another category re-renders them (htmx)."""
            from opsdesk.servicedesk import category_fields

            self.chosen_category = self._chosen_category()
            self.category_field_names: list[str] = []
            if self.chosen_category is not None:
                current = self.instance.form_data or {}
                for name, field in category_fields.form_fields(self.chosen_category.form_fields).items():
                    field.required = False
                    field.initial = current.get(name.removeprefix(category_fields.PREFIX))
                    self.fields[name] = field
                    self.category_field_names.append(name)
                style_widgets(self)
            rerender_on_change(self.fields["category"], "category-fields")

        def _chosen_category(self):
            raw = self.data.get("category") if self.is_bound else self.initial.get("category")
            if raw in (None, ""):
                return self.instance.category if self.instance.category_id and not self.is_bound else None
            if not str(raw).isdigit() or len(str(raw)) > 18:
                return None
            return self.fields["category"].queryset.filter(pk=raw).first()

        # The caller's matches appear right under the number: the number first, then the list,
        # then the other fields (servicedesk/desk/_caller_hint.html).
        extra_template = "servicedesk/desk/_caller_hint.html"

        def main_fields(self) -> list:
            if "phone" in self.fields:
                return [self["phone"]]
            return [f for f in super().main_fields() if f.name not in self.category_field_names]

        def rest_fields(self) -> list:
            if "phone" not in self.fields:
                return []
            return [self[name] for name in self.fields if name != "phone" and name not in self.category_field_names]

        def category_fields(self) -> list:
            return [self[name] for name in self.category_field_names]

        def service_data(self) -> dict:
            from opsdesk.servicedesk import category_fields

            data = {k: v for k, v in super().service_data().items() if k not in self.category_field_names}
            if data.get("phone"):
                data["_via"] = "phone"
            if self.chosen_category is not None:
                # Answers to fields this category does not have (it was changed) are kept.
                names = {n.removeprefix(category_fields.PREFIX) for n in self.category_field_names}
                kept = {k: v for k, v in (self.instance.form_data or {}).items() if k not in names}
                data["form_data"] = {**kept, **category_fields.values(self.chosen_category.form_fields,
                                                                       self.cleaned_data)}
            return data

    return TicketForm
