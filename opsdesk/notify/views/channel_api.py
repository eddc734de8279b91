"""The channel's API shape: settings in, secrets write-only (never in an answer), and whether
secrets are stored. The services validate and encrypt."""

from __future__ import annotations

from rest_framework import serializers

from opsdesk.core.api.serializers import ScopedModelSerializer
from opsdesk.notify.models import Channel


class ChannelSerializer(ScopedModelSerializer):
    secrets = serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False),
                                    write_only=True, required=False,
                                    help_text="Secret settings of the channel type (never returned; an empty value "
                                              "keeps the stored one).")
    has_secrets = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = ["id", "customer", "name", "kind", "config", "enabled", "secrets", "has_secrets", "failing_since",
                  "last_error", "created_at", "updated_at"]
        read_only_fields = ["failing_since", "last_error", "created_at", "updated_at"]

    def get_has_secrets(self, channel: Channel) -> bool:
        return bool(channel.secrets_encrypted)
