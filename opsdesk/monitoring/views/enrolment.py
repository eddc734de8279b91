"""Enrol an agent or a collector: make a one-time token for a customer and show it once, with the
commands that use it."""

from __future__ import annotations

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views import View

from opsdesk.core.generic.forms import apply_errors
from opsdesk.core.models import Customer
from opsdesk.core.permissions import STAFF
from opsdesk.core.scoping import scope_for
from opsdesk.monitoring import services


class EnrolmentForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), label=_("Customer"))
    name = forms.CharField(label=_("Name"), max_length=100,
                           help_text=_("What the token is for, e.g. the host or the site."))
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=90, initial=7)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = scope_for(user, Customer.objects.filter(is_active=True)).order_by("name")


class EnrolView(LoginRequiredMixin, View):
    template_name = "monitoring/enrol.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.role not in STAFF:
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        form = EnrolmentForm(user=request.user, initial={"customer": request.GET.get("customer")})
        return render(request, self.template_name, {"form": form})

    def post(self, request):
        form = EnrolmentForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                token, raw = services.create_enrolment_token(data["customer"], name=data["name"], actor=request.user,
                                                             days=data["days"])
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                server = request.build_absolute_uri("/").rstrip("/")
                return render(request, self.template_name, {"token": token, "raw": raw, "server": server})
        return render(request, self.template_name, {"form": form}, status=400)
