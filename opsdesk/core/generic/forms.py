"""Model forms whose choices are scoped to what the person may see."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Model

from opsdesk.core import registry
from opsdesk.core.scoping import scope_for


def style_widgets(form: forms.BaseForm) -> None:
    for bound in form.fields.values():
        widget = bound.widget
        if isinstance(widget, (forms.CheckboxInput,)):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


def rerender_on_change(field: forms.Field, part_id: str) -> None:
    """When the choice in `field` changes, the page is asked again with the form's values (htmx)
    and the element `#part_id` swapped for its new self: the fields that follow the choice (a CI
    kind's attributes, a category's own fields)."""
    field.widget.attrs.update({
        "hx-get": "", "hx-trigger": "change", "hx-target": f"#{part_id}", "hx-select": f"#{part_id}",
        "hx-swap": "outerHTML", "hx-include": "closest form",
        # A GET: the CSRF token must not end up in a URL (and the logs).
        "hx-params": "not csrfmiddlewaretoken"})


class ScopedModelForm(forms.ModelForm):
    """Every related-object choice offers only objects the user may see, so a form can never
    attach a row to another customer's object, even by posting a guessed id."""

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        from opsdesk.core.models import Customer

        for bound in self.fields.values():
            if isinstance(bound, (forms.ModelChoiceField, forms.ModelMultipleChoiceField)):
                bound.queryset = scope_for(user, bound.queryset)
                if bound.queryset.model is Customer:
                    # Two customers may share a name; the code tells them apart.
                    bound.label_from_instance = lambda c: f"{c.name} ({c.code})"
        style_widgets(self)

    # A form with fields of its own kind (a CI's attributes) shows them through its own template
    # and leaves them out of main_fields, so the generic page knows nothing of them.
    extra_template = ""

    def main_fields(self) -> list:
        return [self[name] for name in self.fields if name not in self.extra_field_names()]

    def extra_field_names(self) -> set[str]:
        return set()

    def service_data(self) -> dict[str, Any]:
        """What the domain service writes: the cleaned values of this form's fields (the
        service itself drops fields no generic write may set)."""
        return {name: self.cleaned_data[name] for name in self.fields if name in self.cleaned_data}


def apply_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names where the form has
    one, above the form otherwise."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def form_for(entry: registry.ModelEntry) -> type[ScopedModelForm]:
    if entry.form is not None:
        return entry.form
    model: type[Model] = entry.model
    # Fields only an action may change are not in the form at all.
    meta = type("Meta", (), {"model": model, "exclude": ["created_at", "updated_at", *entry.readonly_fields]})
    return type(f"{model.__name__}Form", (ScopedModelForm,), {"Meta": meta})
