"""Log-in with lockout, TOTP two-factor for staff, personal API tokens in the UI."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from opsdesk.core.models import ApiToken

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def login(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_the_right_password_logs_in(client, engineer):
    response = login(client, engineer.username)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_wrong_password_says_so(client, engineer):
    response = login(client, engineer.username, "wrong")
    assert response.status_code == 400
    assert "wrong" in response.content.decode()


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_failures_lock_the_account_even_with_the_right_password(client, engineer):
    for _ in range(3):
        login(client, engineer.username, "wrong")
    response = login(client, engineer.username)
    assert response.status_code == 429
    assert 'id="locked-out"' in response.content.decode()
    from django.core.management import call_command

    call_command("user", "unlock", engineer.username)
    assert login(client, engineer.username).status_code == 302


def test_a_staff_member_with_totp_needs_the_code(client, engineer):
    device = TOTPDevice.objects.create(user=engineer, name="phone", confirmed=True)
    response = login(client, engineer.username)
    assert response["Location"].startswith(reverse("login_verify"))
    assert client.get("/").status_code == 302  # not logged in yet
    bad = client.post(reverse("login_verify"), {"otp_token": "000000"})
    assert "wrong" in bad.content.decode()
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    ok = client.post(reverse("login_verify"), {"otp_token": code_for(device)})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200


def test_enrolment_confirms_a_device_with_one_code(client, engineer):
    client.force_login(engineer)
    page = client.get(reverse("two_factor"))
    assert b"data:image/svg+xml;base64," in page.content
    device = TOTPDevice.objects.get(user=engineer)
    assert not device.confirmed
    response = client.post(reverse("two_factor"), {"otp_token": code_for(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed


def _enrolled(client, engineer) -> TOTPDevice:
    device = TOTPDevice.objects.create(user=engineer, name="phone", confirmed=True)
    client.force_login(engineer)
    return device


def test_turning_two_factor_off_needs_more_than_the_session(client, engineer):
    _enrolled(client, engineer)
    page = client.get(reverse("two_factor")).content.decode()
    assert 'id="two-factor-off"' in page and 'name="confirmation"' in page
    for given in ("", "wrong-password", "000000"):
        response = client.post(reverse("two_factor"), {"action": "disable", "confirmation": given})
        assert response.status_code == 400, given
        assert TOTPDevice.objects.filter(user=engineer, confirmed=True).exists()
    assert "neither your password nor a current code" in response.content.decode()


def test_two_factor_goes_off_with_a_current_code(client, engineer):
    device = _enrolled(client, engineer)
    response = client.post(reverse("two_factor"), {"action": "disable", "confirmation": code_for(device)})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=engineer).exists()


def test_two_factor_goes_off_with_the_password(client, engineer):
    _enrolled(client, engineer)
    response = client.post(reverse("two_factor"), {"action": "disable", "confirmation": PASSWORD})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=engineer).exists()


@override_settings(AXES_FAILURE_LIMIT=3)
def test_guessing_the_password_to_turn_two_factor_off_locks_the_account(client, engineer):
    _enrolled(client, engineer)
    for _ in range(3):
        client.post(reverse("two_factor"), {"action": "disable", "confirmation": "guess"})
    response = client.post(reverse("two_factor"), {"action": "disable", "confirmation": PASSWORD})
    assert response.status_code == 429
    assert TOTPDevice.objects.filter(user=engineer, confirmed=True).exists()


@override_settings(OPSDESK_REQUIRE_2FA_FOR_STAFF=True)
def test_when_required_staff_without_a_device_are_sent_to_enrol(client, engineer, customer_user):
    client.force_login(engineer)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("two_factor")
    assert client.get("/api/core/customers/").status_code == 302  # not through the session either
    client.force_login(customer_user)
    assert client.get("/").status_code == 200
    from tests.conftest import api_client_for

    assert api_client_for(engineer).get("/api/core/customers/").status_code == 200  # tokens still work


def test_a_token_is_shown_once_and_can_be_revoked(engineer_client, engineer):
    response = engineer_client.post(reverse("account"), {"form": "token", "name": "ci", "write": "on",
                                                         "expires_in_days": "30"})
    page = response.content.decode()
    token = ApiToken.objects.get(user=engineer)
    assert token.write and token.expires_at is not None
    assert 'id="new-token"' in page and token.key_prefix in page
    assert 'id="new-token"' not in engineer_client.get(reverse("account")).content.decode()
    engineer_client.post(reverse("token_revoke", args=[token.pk]))
    assert not ApiToken.objects.filter(pk=token.pk).exists()


def test_a_person_cannot_revoke_someone_elses_token(client, engineer, admin):
    from opsdesk.core import services

    token, _raw = services.create_token(admin, name="admin's")
    client.force_login(engineer)
    assert client.post(reverse("token_revoke", args=[token.pk])).status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_customer_users_get_read_only_tokens(customer_client, customer_user):
    response = customer_client.post(reverse("account"), {"form": "token", "name": "x", "write": "on"})
    assert response.status_code == 400
    assert not ApiToken.objects.filter(user=customer_user).exists()


def test_preferences_set_the_time_zone_for_shown_times(engineer_client, engineer):
    response = engineer_client.post(reverse("account"), {"form": "prefs", "language": "zh-hans",
                                                         "time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    engineer.refresh_from_db()
    assert engineer.time_zone == "Europe/Berlin"
    bad = engineer_client.post(reverse("account"), {"form": "prefs", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 400 and "Mars/Olympus" in bad.content.decode()


def test_the_language_follows_the_browser(client, engineer):
    client.force_login(engineer)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans"' in page


def test_an_administrator_cannot_delete_their_own_account(admin):
    from tests.conftest import api_client_for

    response = api_client_for(admin).delete(f"/api/core/users/{admin.pk}/")
    assert response.status_code == 400 and "user" in response.json()
    assert type(admin).objects.filter(pk=admin.pk).exists()
