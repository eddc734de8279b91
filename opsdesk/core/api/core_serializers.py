"""Serializers for core models that hold secrets: written, never read back."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from opsdesk.core import services
from opsdesk.core.api.serializers import ScopedModelSerializer
from opsdesk.core.models import Credential, User


class UserSerializer(ScopedModelSerializer):
    password = serializers.CharField(write_only=True, required=False, allow_blank=True,
                                     style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "phone", "role", "customer",
                  "is_active", "language", "time_zone", "teams", "last_login", "date_joined", "password"]
        read_only_fields = ["teams", "last_login", "date_joined"]

    def validate_password(self, value: str) -> str:
        if value:
            try:
                validate_password(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        return value

    def validate(self, attrs):
        password = attrs.pop("password", None)
        attrs = super().validate(attrs)
        if password:
            attrs["password"] = password
        return attrs

    def create(self, validated_data):
        password = validated_data.pop("password", None)
        user = User(**validated_data)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        return user

    def update(self, instance, validated_data):
        password = validated_data.pop("password", None)
        instance = super().update(instance, validated_data)
        if password:
            instance.set_password(password)
            instance.save(update_fields=["password"])
        return instance


class CredentialSerializer(ScopedModelSerializer):
    secret = serializers.CharField(write_only=True, required=False, allow_blank=False,
                                   style={"input_type": "password"}, trim_whitespace=False)
    has_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = Credential
        fields = ["id", "customer", "name", "kind", "username", "description", "secret", "has_secret",
                  "secret_changed_at", "created_at", "updated_at"]
        read_only_fields = ["secret_changed_at", "created_at", "updated_at"]

    def validate(self, attrs):
        secret = attrs.pop("secret", None)
        if self.instance is None and not secret:
            raise serializers.ValidationError({"secret": [serializers.Field.default_error_messages["required"]]})
        attrs = super().validate(attrs)
        if secret:
            attrs["secret"] = secret
        return attrs

    def _apply(self, instance: Credential, validated_data) -> Credential:
        secret = validated_data.pop("secret", None)
        for key, value in validated_data.items():
            setattr(instance, key, value)
        if secret:
            services.set_credential_secret(instance, secret)
        instance.save()
        return instance

    def create(self, validated_data):
        return self._apply(Credential(), validated_data)

    def update(self, instance, validated_data):
        return self._apply(instance, validated_data)
