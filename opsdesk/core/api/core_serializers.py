"""Serializers that need more than the generated ones: users (password) and credentials
(secret). Both are write-only; the services validate and store them."""

from rest_framework import serializers

from opsdesk.core.api.serializers import ScopedModelSerializer
from opsdesk.core.models import Credential, User


class UserSerializer(ScopedModelSerializer):
    password = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                     style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "phone", "role", "customer",
                  "is_active", "language", "time_zone", "teams", "last_login", "date_joined", "password"]
        # Deactivating is an action of its own (it refuses your own account).
        read_only_fields = ["is_active", "teams", "last_login", "date_joined"]


class CredentialSerializer(ScopedModelSerializer):
    secret = serializers.CharField(write_only=True, required=False, allow_blank=False,
                                   style={"input_type": "password"}, trim_whitespace=False)
    has_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = Credential
        fields = ["id", "customer", "name", "kind", "username", "description", "secret", "has_secret",
                  "secret_changed_at", "created_at", "updated_at"]
        read_only_fields = ["secret_changed_at", "created_at", "updated_at"]
