"""A person's own settings: language, time zone, password, API tokens."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opsdesk.core import services
from opsdesk.core.generic.forms import style_widgets
from opsdesk.core.models import ApiToken, User
from opsdesk.core.views.auth import confirmed_device


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "phone", "language", "time_zone"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_widgets(self)


class TokenCreateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    write = forms.BooleanField(label=gettext_lazy("Read-write"), required=False,
                               help_text=gettext_lazy("Without it the token can only read."))
    expires_in_days = forms.IntegerField(label=gettext_lazy("Expires after (days)"), min_value=1,
                                         max_value=3650, required=False, initial=90,
                                         help_text=gettext_lazy("Empty: never expires."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_widgets(self)


@login_required
def account(request):
    user = request.user
    prefs = PreferencesForm(request.POST if request.POST.get("form") == "prefs" else None, instance=user)
    token_form = TokenCreateForm(request.POST if request.POST.get("form") == "token" else None)
    raw_token = None
    if request.method == "POST" and request.POST.get("form") == "prefs" and prefs.is_valid():
        services.update_preferences(user, prefs.cleaned_data, actor=user)
        messages.success(request, _("Your settings are saved."))
        response = redirect("account")
        if user.language:
            from django.conf import settings

            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language)
        return response
    if request.method == "POST" and request.POST.get("form") == "token" and token_form.is_valid():
        days = token_form.cleaned_data["expires_in_days"]
        try:
            _token, raw_token = services.create_token(
                user, name=token_form.cleaned_data["name"], write=token_form.cleaned_data["write"],
                expires_at=timezone.now() + dt.timedelta(days=days) if days else None)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                token_form.add_error(field if field in token_form.fields else None, errors)
        else:
            token_form = TokenCreateForm()
    return render(request, "core/account.html", {
        "prefs": prefs, "token_form": token_form, "raw_token": raw_token,
        "tokens": ApiToken.objects.filter(user=user), "two_factor": confirmed_device(user),
    }, status=400 if (prefs.errors or token_form.errors) else 200)


@login_required
def revoke_token(request, pk: int):
    if request.method != "POST":
        raise Http404
    token = ApiToken.objects.filter(user=request.user, pk=pk).first()
    if token is None:
        raise Http404
    services.revoke_token(token, actor=request.user)
    messages.success(request, _("The token %(name)s is revoked.") % {"name": token.name})
    return redirect("account")
