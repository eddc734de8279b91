"""Forms of notify's channels and contact methods."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opsdesk.core.forms import write_only_field
from opsdesk.core.generic.forms import ScopedModelForm
from opsdesk.core.models import User
from opsdesk.core.permissions import ADMINS
from opsdesk.notify import channels
from opsdesk.notify.channel_services import channel_type, config_errors
from opsdesk.notify.models import Channel, ContactMethod

SECRET_PREFIX = "secret_"


def kind_choices() -> list[tuple[str, str]]:
    return sorted(((name, gettext(kind.label)) for name, kind in channels.CHANNELS.items()), key=lambda c: c[1])


def secret_names(kind: str | None = None) -> dict[str, list[str]]:
    """Each secret's name → the channel types that have it (all types, or only `kind`)."""
    names: dict[str, list[str]] = {}
    for name, channel in sorted(channels.CHANNELS.items()):
        if kind and name != kind:
            continue
        for secret in channel.secrets:
            names.setdefault(secret, []).append(name)
    return names


class ChannelForm(ScopedModelForm):
    """The type, its settings as JSON (checked against the type's schema, each problem named by
    field) and its secrets as password inputs: never shown again, empty keeps the stored one."""

    kind = forms.ChoiceField(label=_("type"), choices=kind_choices)
    config = forms.JSONField(label=_("settings"), required=False, initial=dict,
                             widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}))

    class Meta:
        model = Channel
        fields = ["customer", "name", "kind", "enabled", "config"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        kind = self.instance.kind if self.instance.pk else None
        for secret, kinds in secret_names(kind).items():
            title = self._title(kinds[0], secret)
            help_text = (_("Never shown again after saving. Leave empty to keep the current one.") if self.instance.pk
                         else _("For: %(types)s. Never shown again after saving.") % {"types": ", ".join(kinds)})
            self.fields[SECRET_PREFIX + secret] = write_only_field(title, help_text)
        self.fields["config"].help_text = self._settings_help(kind)

    @staticmethod
    def _title(kind: str, name: str) -> str:
        title = channels.get(kind).config_schema.get("properties", {}).get(name, {}).get("title")
        return gettext(title) if title else name

    @staticmethod
    def _settings_help(kind: str | None) -> str:
        lines = []
        for name, channel in sorted(channels.CHANNELS.items()):
            if kind and name != kind:
                continue
            props = [f"{key} ({gettext(p.get('title', key))})" for key, p in
                     channel.config_schema.get("properties", {}).items() if key not in channel.secrets]
            lines.append(f"{name}: {', '.join(props)}")
        return gettext("A JSON object. Settings per type — ") + "; ".join(lines)

    def clean_config(self) -> dict:
        value = self.cleaned_data.get("config")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The settings must be a JSON object."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("kind")
        if kind and isinstance(data.get("config"), dict):
            secrets = {name: self.cleaned_data.get(SECRET_PREFIX + name) or "" for name in channel_type(kind).secrets}
            stored = {}
            if self.instance.pk and self.instance.kind == kind and self.instance.secrets_encrypted:
                from opsdesk.notify.channel_services import stored_secrets

                stored = stored_secrets(self.instance)
            merged = {**stored, **{k: v for k, v in secrets.items() if v}, **data["config"]}
            errors = config_errors(kind, merged)
            if errors:
                self.add_error("config", errors)
        return data

    def service_data(self) -> dict[str, Any]:
        data = {name: value for name, value in super().service_data().items() if not name.startswith(SECRET_PREFIX)}
        data["secrets"] = {name[len(SECRET_PREFIX):]: value for name, value in self.cleaned_data.items()
                           if name.startswith(SECRET_PREFIX) and value}
        return data

    def initial_config_text(self) -> str:
        return json.dumps(self.instance.config or {}, ensure_ascii=False, indent=2)


class ContactMethodForm(ScopedModelForm):
    """A person adds their own ways to be reached; only administrators choose someone else."""

    class Meta:
        model = ContactMethod
        fields = ["user", "kind", "channel", "address", "min_severity", "enabled"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        user: User | None = self.user
        if user is not None and user.role not in ADMINS:
            self.fields["user"].queryset = User.objects.filter(pk=user.pk)
            self.fields["user"].initial = user.pk


class SendTestForm(forms.Form):
    """The parameters of "send a test message"."""

    address = forms.CharField(label=_("address"), required=False, max_length=200,
                              help_text=_("For email, SMS and voice channels: where to send it (empty: your own)."))
