"""Forms and the API shape of the mail pages: a mailbox's passwords are write-only (never shown
again; empty keeps the stored one); the parameters of the triage action."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from opsdesk.core.api.serializers import ScopedModelSerializer
from opsdesk.core.forms import write_only_field
from opsdesk.core.generic.forms import ScopedModelForm
from opsdesk.core.models import Customer
from opsdesk.servicedesk.models import MailChannel

CHANNEL_FIELDS = ["name", "enabled", "imap_host", "imap_port", "imap_security", "imap_username", "folder",
                  "smtp_host", "smtp_port", "smtp_security", "smtp_username", "verify_tls", "from_address",
                  "from_name", "default_customer", "default_team", "category"]
STATE_FIELDS = ["uid_validity", "last_uid", "last_fetch_at", "last_error", "last_test", "last_test_at"]


class MailChannelForm(ScopedModelForm):
    class Meta:
        model = MailChannel
        fields = CHANNEL_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        keep = _("Never shown again after saving. Leave empty to keep the current one.")
        new = _("Never shown again after saving.")
        help_text = keep if self.instance.pk else new
        self.fields["imap_password"] = write_only_field(_("IMAP password"), help_text)
        self.fields["smtp_password"] = write_only_field(_("SMTP password"), help_text)


class MailChannelSerializer(ScopedModelSerializer):
    imap_password = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                          help_text="Never returned; empty keeps the stored one.")
    smtp_password = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                          help_text="Never returned; empty keeps the stored one.")
    has_secrets = serializers.SerializerMethodField()

    class Meta:
        model = MailChannel
        fields = ["id", *CHANNEL_FIELDS, "imap_password", "smtp_password", "has_secrets", *STATE_FIELDS,
                  "created_at", "updated_at"]
        read_only_fields = [*STATE_FIELDS, "created_at", "updated_at"]

    def get_has_secrets(self, channel: MailChannel) -> bool:
        return bool(channel.secrets_encrypted)


class AssignCustomerForm(forms.Form):
    customer = forms.ModelChoiceField(label=_("customer"), queryset=Customer.objects.all())
    remember_domain = forms.BooleanField(
        label=_("Remember the sender's mail domain"), required=False,
        help_text=_("Later mail from this domain opens tickets of this customer without waiting in triage."))
