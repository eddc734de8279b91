"""API shapes of the chat integrations and messages: secrets write-only, never in an answer;
the signature and the encrypted reply URL of a message are never shown."""

from __future__ import annotations

from rest_framework import serializers

from opsdesk.core.api.serializers import ScopedModelSerializer
from opsdesk.servicedesk.models.chat import ChatIntegration, ChatMessage


class ChatIntegrationSerializer(ScopedModelSerializer):
    secrets = serializers.DictField(child=serializers.CharField(allow_blank=True, trim_whitespace=False),
                                    write_only=True, required=False,
                                    help_text="The vendor's secrets (app_secret; verification_token, encrypt_key; "
                                              "token, encoding_aes_key): never returned; an empty value keeps the "
                                              "stored one.")
    has_secrets = serializers.SerializerMethodField()
    callback_path = serializers.SerializerMethodField()

    class Meta:
        model = ChatIntegration
        fields = ["id", "name", "kind", "customer", "language", "config", "enabled", "secrets", "has_secrets",
                  "callback_path", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def get_has_secrets(self, integration: ChatIntegration) -> bool:
        return bool(integration.secrets_encrypted)

    def get_callback_path(self, integration: ChatIntegration) -> str:
        return f"/api/servicedesk/chat/{integration.kind}/{integration.url_token}/"


class ChatMessageSerializer(ScopedModelSerializer):
    class Meta:
        model = ChatMessage
        fields = ["id", "integration", "group", "vendor_message_id", "sender_id", "sender_name", "text", "state",
                  "reason", "ticket", "entry", "received_at"]
        read_only_fields = fields
