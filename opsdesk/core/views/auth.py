"""Log in (password, then a TOTP code for staff who enrolled one), log out, two-factor set-up."""

from __future__ import annotations

import base64
import io

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from opsdesk.core import services
from opsdesk.core.models import User

PENDING_KEY = "opsdesk_pending_2fa_user"


class LoginForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150,
                               widget=forms.TextInput(attrs={"class": "form-control", "autofocus": True,
                                                             "autocomplete": "username"}))
    password = forms.CharField(label=gettext_lazy("Password"), strip=False,
                               widget=forms.PasswordInput(attrs={"class": "form-control",
                                                                 "autocomplete": "current-password"}))


class TokenForm(forms.Form):
    otp_token = forms.RegexField(label=gettext_lazy("Code from your authenticator app"), regex=r"^\d{6,8}$",
                                 error_messages={"invalid": gettext_lazy("Enter the 6-digit code.")},
                                 widget=forms.TextInput(attrs={"class": "form-control", "autofocus": True,
                                                               "autocomplete": "one-time-code",
                                                               "inputmode": "numeric"}))


class DisableTwoFactorForm(forms.Form):
    """Turning two-factor off needs proof beyond the session: a stolen or unattended session
    must not be enough to remove the second factor."""

    confirmation = forms.CharField(
        label=gettext_lazy("Your password or a current code from your authenticator app"), strip=False,
        widget=forms.PasswordInput(attrs={"class": "form-control", "autocomplete": "current-password"}))


def _confirms_identity(request, user: User, device: TOTPDevice, given: str) -> bool:
    """A current TOTP code of the device, or the account's password."""
    if given.isdigit() and len(given) in (6, 7, 8):
        allowed, _data = device.verify_is_allowed()
        if allowed and device.verify_token(given):
            return True
    # Through authenticate() rather than check_password(), so failures count towards Axes'
    # lockout and this form cannot be used to guess the password without limit.
    return authenticate(request, username=user.get_username(), password=given) == user


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def _finish_login(request, user: User):
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if user.language:
        response = HttpResponseRedirect(_next_url(request))
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language)
        return response
    return HttpResponseRedirect(_next_url(request))


@sensitive_post_parameters("password")
def login_view(request):
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(request, username=form.cleaned_data["username"],
                            password=form.cleaned_data["password"])
        # Axes answers a locked-out attempt itself (its middleware renders the lockout page).
        if user is None:
            form.add_error(None, _("The username or password is wrong."))
        else:
            device = confirmed_device(user)
            if device is None:
                return _finish_login(request, user)
            request.session[PENDING_KEY] = user.pk
            return redirect(f"{reverse('login_verify')}?next={_next_url(request)}")
    return render(request, "core/login.html", {"form": form, "next": request.GET.get("next", "")},
                  status=400 if form.errors else 200)


def login_verify(request):
    user = User.objects.filter(pk=request.session.get(PENDING_KEY), is_active=True).first()
    if user is None:
        return redirect("login")
    device = confirmed_device(user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _data = device.verify_is_allowed()
        if allowed and device.verify_token(form.cleaned_data["otp_token"]):
            del request.session[PENDING_KEY]
            response = _finish_login(request, user)
            otp_login(request, device)
            return response
        form.add_error("otp_token", _("The code is wrong or has expired."))
    return render(request, "core/login_verify.html", {"form": form, "next": request.GET.get("next", "")})


def logout_view(request):
    if request.method == "POST":
        logout(request)
    return redirect("login")


def _qr_svg(uri: str) -> str:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return base64.b64encode(buffer.getvalue()).decode()


@sensitive_post_parameters("confirmation", "otp_token")
@login_required
def two_factor(request):
    """Enrol a TOTP device (staff): scan the QR code, confirm with one code. Turning it off
    needs the password or a current code."""
    user = request.user
    device = confirmed_device(user)
    if device is not None:
        disabling = request.method == "POST" and request.POST.get("action") == "disable"
        disable_form = DisableTwoFactorForm(request.POST if disabling else None)
        if disabling and disable_form.is_valid():
            if _confirms_identity(request, user, device, disable_form.cleaned_data["confirmation"]):
                services.disable_two_factor(user, actor=user)
                messages.success(request, _("Two-factor authentication is off."))
                return redirect("two_factor")
            disable_form.add_error("confirmation", _(
                "That is neither your password nor a current code: two-factor authentication is still on."))
        return render(request, "core/two_factor.html", {"device": device, "disable_form": disable_form},
                      status=400 if disable_form.errors else 200)
    form = TokenForm(request.POST or None)
    pending = services.start_two_factor(user, actor=user)
    if request.method == "POST" and form.is_valid():
        if services.confirm_two_factor(pending, form.cleaned_data["otp_token"], actor=user):
            otp_login(request, pending)
            messages.success(request, _("Two-factor authentication is on."))
            return redirect("account")
        form.add_error("otp_token", _("The code is wrong or has expired."))
    context = {"device": None, "form": form, "qr_svg": _qr_svg(pending.config_url),
               "secret": base64.b32encode(pending.bin_key).decode()}
    return render(request, "core/two_factor.html", context)
