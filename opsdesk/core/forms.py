"""Forms that need more than the generated ones: users (password) and credentials (secret)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from opsdesk.core import services
from opsdesk.core.generic.forms import ScopedModelForm
from opsdesk.core.models import Credential, User


def write_only_field(label, help_text) -> forms.CharField:
    """A secret typed in and never rendered back; empty on an edit keeps the stored one."""
    return forms.CharField(label=label, required=False, strip=False, help_text=help_text,
                           widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password",
                                                                                 "class": "form-control"}))


class UserForm(ScopedModelForm):
    password = write_only_field(_("Password"), _("Leave empty to keep the current password."))

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "phone", "role", "customer",
                  "is_active", "language", "time_zone", "password"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["password"].help_text = _("Empty: the user cannot log in with a password yet.")

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password") or ""
        if password:
            candidate = User(username=self.cleaned_data.get("username") or self.instance.username,
                             email=self.cleaned_data.get("email") or "")
            try:
                validate_password(password, candidate)
            except ValidationError as exc:
                raise ValidationError(exc.messages) from None
        return password

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        password = self.cleaned_data.get("password")
        if password:
            user.set_password(password)
        elif user.pk is None:
            user.set_unusable_password()
        if commit:
            user.save()
            self.save_m2m()
        return user


class CredentialForm(ScopedModelForm):
    """The secret is write-only: the field is always empty on the page, and empty keeps it."""

    secret = write_only_field(_("Secret"), _("Never shown again after saving. Leave empty to keep the current one."))

    class Meta:
        model = Credential
        fields = ["customer", "name", "kind", "username", "secret", "description"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["secret"].required = True

    def save(self, commit: bool = True) -> Credential:
        credential = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            services.set_credential_secret(credential, self.cleaned_data["secret"])
        if commit:
            credential.save()
        return credential
