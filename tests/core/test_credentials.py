"""Credentials: encrypted at rest, never shown again, keys can be rotated."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from opsdesk.core import crypto, services
from opsdesk.core.models import Credential
from tests.factories import CredentialFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_keys(settings, tmp_path):
    settings.OPSDESK_CREDENTIAL_KEY_FILE = tmp_path / "credential_keys"
    settings.OPSDESK_CREDENTIAL_KEYS = []
    crypto.reset_cache()
    yield
    crypto.reset_cache()


def test_the_secret_is_encrypted_in_the_database(customer_a):
    cred = CredentialFactory(customer=customer_a, secret="P@ssw0rd-very-secret")
    raw = Credential.objects.filter(pk=cred.pk).values_list("secret_encrypted", flat=True).get()
    assert "P@ssw0rd" not in raw and raw.startswith("gAAAA")
    assert services.reveal_credential_secret(cred) == "P@ssw0rd-very-secret"


def test_the_form_never_shows_the_secret_and_keeps_it_when_left_empty(admin_client, customer_a):
    cred = CredentialFactory(customer=customer_a, secret="keep-me-secret")
    page = admin_client.get(reverse("core:credential_edit", args=[cred.pk])).content.decode()
    assert "keep-me-secret" not in page and cred.secret_encrypted not in page
    detail = admin_client.get(reverse("core:credential_detail", args=[cred.pk])).content.decode()
    assert cred.secret_encrypted not in detail
    admin_client.post(reverse("core:credential_edit", args=[cred.pk]),
                      {"customer": customer_a.pk, "name": cred.name, "kind": "password", "username": "root",
                       "secret": ""})
    cred.refresh_from_db()
    assert services.reveal_credential_secret(cred) == "keep-me-secret"


def test_rotation_re_encrypts_with_a_new_key_and_old_keys_still_decrypt(customer_a, settings):
    cred = CredentialFactory(customer=customer_a, secret="rotate-me")
    old_token = cred.secret_encrypted
    call_command("credentials", "rotate", "--new-key")
    cred.refresh_from_db()
    assert cred.secret_encrypted != old_token
    keys = settings.OPSDESK_CREDENTIAL_KEY_FILE.read_text().split()
    assert len(keys) == 2
    # Only the new key is needed now.
    settings.OPSDESK_CREDENTIAL_KEYS = [keys[0]]
    crypto.reset_cache()
    assert services.reveal_credential_secret(cred) == "rotate-me"


def test_a_wrong_key_is_a_clear_error(customer_a, settings):
    cred = CredentialFactory(customer=customer_a, secret="x")
    settings.OPSDESK_CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    crypto.reset_cache()
    with pytest.raises(crypto.CredentialKeyError):
        services.reveal_credential_secret(cred)
    with override_settings(OPSDESK_CREDENTIAL_KEYS=["not-a-key"]):
        crypto.reset_cache()
        with pytest.raises(crypto.CredentialKeyError, match="Fernet"):
            crypto.encrypt("x")
