"""The portal's forms: a new request (with the chosen category's own fields), a reply with files,
and the reason to reopen. They only read and check what the person typed; the ticket services
(opsdesk.servicedesk.services) write, and check the attachments against the limits."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.generic.forms import style_widgets
from opsdesk.core.scoping import scope_for
from opsdesk.servicedesk import category_fields
from opsdesk.servicedesk.models import Category


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one <input type=file multiple>; cleans to a list (empty when none)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def files_help() -> str:
    return str(_("Up to %(count)d files, %(size)s each.") % {
        "count": settings.OPSDESK_ATTACHMENT_MAX_FILES, "size": filesizeformat(settings.OPSDESK_ATTACHMENT_MAX_BYTES)})


# Impact and urgency in the customer's words (the desk's labels are ITIL's).
IMPACT_CHOICES = [
    ("high", pgettext_lazy("portal impact", "Many people or a whole service cannot work")),
    ("medium", pgettext_lazy("portal impact", "Some people or some functions are affected")),
    ("low", pgettext_lazy("portal impact", "Only me, and I can work around it")),
]
URGENCY_CHOICES = [
    ("high", pgettext_lazy("portal urgency", "Now: work has stopped")),
    ("medium", pgettext_lazy("portal urgency", "Today")),
    ("low", pgettext_lazy("portal urgency", "It can wait a few days")),
]


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        return str(obj)


class NewRequestForm(forms.Form):
    category = CategoryChoiceField(label=_("What is it about?"), required=False, queryset=Category.objects.none(),
                                   empty_label=pgettext_lazy("portal category", "Something else / not sure"))
    title = forms.CharField(label=_("Subject"), max_length=300,
                            help_text=_("In a few words, such as “Printer on floor 3 does not print”."))
    description = forms.CharField(label=_("Description"), max_length=50_000,
                                  widget=forms.Textarea(attrs={"rows": 6}),
                                  help_text=_("What happened, since when, and any error message."))
    configuration_items = forms.ModelMultipleChoiceField(
        label=_("Affected devices or services"), required=False, queryset=ConfigurationItem.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 5}), help_text=_("Optional. Hold Ctrl to choose several."))
    impact = forms.ChoiceField(label=_("Who is affected?"), choices=IMPACT_CHOICES, initial="medium",
                               widget=forms.RadioSelect)
    urgency = forms.ChoiceField(label=_("How soon must it be fixed?"), choices=URGENCY_CHOICES, initial="medium",
                                widget=forms.RadioSelect)
    files = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["category"].queryset = scope_for(user, Category.objects.filter(is_active=True)) \
            .select_related("parent").order_by("parent__name", "name")
        self.fields["configuration_items"].queryset = scope_for(user, ConfigurationItem.objects.all()) \
            .select_related("kind").order_by("name")
        self.fields["files"].help_text = files_help()
        self.chosen_category = self._chosen_category()
        self.extra_names = []
        if self.chosen_category is not None:
            extra = category_fields.form_fields(self.chosen_category.form_fields)
            self.fields.update(extra)
            self.extra_names = list(extra)
        style_widgets(self)
        for name in ("impact", "urgency"):
            self.fields[name].widget.attrs["class"] = "form-check-input"

    def _chosen_category(self) -> Category | None:
        raw = self.data.get("category") if self.is_bound else self.initial.get("category")
        if isinstance(raw, Category):
            raw = raw.pk
        if not raw or not str(raw).isdigit() or len(str(raw)) > 18:
            return None
        return self.fields["category"].queryset.filter(pk=raw).first()

    @property
    def has_categories(self) -> bool:
        return self.fields["category"].queryset.exists()

    @property
    def main_fields(self) -> list:
        return [self[name] for name in ("title", "description")]

    @property
    def extra_fields(self) -> list:
        return [self[name] for name in self.extra_names]

    def form_data(self) -> dict[str, Any]:
        if self.chosen_category is None:
            return {}
        return category_fields.values(self.chosen_category.form_fields, self.cleaned_data)

    def error_lines(self) -> list[str]:
        """Every error naming its field ("Serial number: This field is required."), to sum them
        up above the form."""
        out = []
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else ""
            out += [category_fields.named(str(label), str(message)) if label else str(message) for message in errors]
        return out


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Your reply"), required=False, max_length=50_000,
                           widget=forms.Textarea(attrs={"rows": 4}))
    files = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["files"].help_text = files_help()
        style_widgets(self)


class ReopenForm(forms.Form):
    reason = forms.CharField(label=_("What is still wrong?"), required=False, max_length=10_000,
                             widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_widgets(self)
