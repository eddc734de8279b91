"""`quick_select` renders a select as Django's widget would: the same name, id, class, options,
labels and selection (it only skips the widget templates, for speed)."""

from __future__ import annotations

import re

import pytest
from django import forms

from opsdesk.core.models import Customer
from opsdesk.core.templatetags.opsdesk import quick_select
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _shape(html: str) -> tuple:
    select = re.search(r"<select([^>]*)>", html).group(1)
    attributes = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', select))
    flags = {f for f in ("multiple", "required") if re.search(rf"\b{f}\b", select.replace(f'="{f}"', ""))}
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', html)
    return attributes, flags, [(v, bool(s), label.strip()) for v, s, label in options]


class Filters(forms.Form):
    status = forms.MultipleChoiceField(choices=[("new", "New <b>"), ("closed", "Closed")], required=False,
                                       widget=forms.SelectMultiple(attrs={"class": "form-select"}))
    customer = forms.ModelChoiceField(queryset=Customer.objects.order_by("pk"), required=True)
    kind = forms.ChoiceField(choices=[("", "---"), ("a", "A & B")], required=False)


def test_quick_select_renders_what_the_widget_renders():
    first, second = CustomerFactory(name="甲 & Co"), CustomerFactory()
    form = Filters({"status": ["closed"], "customer": str(second.pk), "kind": "a"})
    for name in ("status", "customer", "kind"):
        assert _shape(quick_select(form[name])) == _shape(str(form[name])), name
    assert "甲 &amp; Co" in quick_select(form["customer"]) and str(first.pk) in quick_select(form["customer"])


def test_other_widgets_render_as_usual():
    class Other(forms.Form):
        text = forms.CharField()

    form = Other()
    assert quick_select(form["text"]) == str(form["text"])
