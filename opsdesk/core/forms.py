"""Forms that need more than the generated ones: users (password) and credentials (secret).

They only collect the values; the services (create_user, update_credential…) validate the
password and encrypt the secret, for the API and commands alike."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

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


class SetPasswordForm(forms.Form):
    """The parameters of the "set password" action (the service checks the validators)."""

    password = write_only_field(_("New password"), _("At least 10 characters, not only digits, not a common one."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"].required = True
