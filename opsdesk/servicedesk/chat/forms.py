"""Forms of the chat integrations and groups (the same fields in the UI and the API)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from opsdesk.core.forms import write_only_field
from opsdesk.core.generic.forms import ScopedModelForm
from opsdesk.core.models import Customer
from opsdesk.servicedesk import chat
from opsdesk.servicedesk.models.chat import ChatGroup, ChatIntegration

SECRET_PREFIX = "secret_"
SECRET_LABELS = {
    "app_secret": _("App secret (DingTalk AppSecret, Feishu App Secret)"),
    "verification_token": _("Verification Token (Feishu)"),
    "encrypt_key": _("Encrypt Key (Feishu)"),
    "token": _("Token (WeCom)"),
    "encoding_aes_key": _("EncodingAESKey (WeCom)"),
}


class ChatIntegrationForm(ScopedModelForm):
    """The vendor, its plain settings as JSON, and its secrets as password inputs: never shown
    again, empty keeps the stored one."""

    config = forms.JSONField(label=_("settings"), required=False, initial=dict,
                             widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
                             help_text=_("A JSON object. DingTalk: api_base. Feishu: app_id, bot_open_id, api_base. "
                                         "WeCom: receive_id (empty for a smart robot), api_base."))

    class Meta:
        model = ChatIntegration
        fields = ["name", "kind", "customer", "language", "enabled", "config"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = sorted({name for vendor in chat.VENDORS.values() for name in vendor.secrets})
        for name in names:
            help_text = _("Never shown again after saving. Leave empty to keep the current one.")
            self.fields[SECRET_PREFIX + name] = write_only_field(SECRET_LABELS.get(name, name), help_text)

    def clean_config(self) -> dict:
        value = self.cleaned_data.get("config")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The settings must be a JSON object."))
        return value

    def service_data(self) -> dict[str, Any]:
        data = {name: value for name, value in super().service_data().items() if not name.startswith(SECRET_PREFIX)}
        data["secrets"] = {name[len(SECRET_PREFIX):]: value for name, value in self.cleaned_data.items()
                           if name.startswith(SECRET_PREFIX) and value}
        return data


class ChatGroupForm(ScopedModelForm):
    class Meta:
        model = ChatGroup
        fields = ["title", "notify_channel", "language"]


class AssignCustomerForm(forms.Form):
    customer = forms.ModelChoiceField(label=_("customer"), queryset=Customer.objects.all())
