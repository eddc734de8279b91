"""Channels: settings checked against the type's schema with the field named, secrets split off,
encrypted and never shown again, the test message, contact methods, the delivery log's tenancy,
and notify in /healthz and /metrics."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from opsdesk.core import crypto
from opsdesk.notify import channel_services, delivery, services
from opsdesk.notify.models import Channel, ContactMethod, DeliveryAttempt, Notification
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

TOKEN = "robot-token-7f3a"
TEST_TITLE = {"en": "Test message from opsdesk", "zh-hans": "来自 opsdesk 的测试消息"}
TEST_TEXT = {"en": "If you read this, the channel “Ops group” works.",
             "zh-hans": "如果您看到这条消息，说明渠道“Ops group”工作正常。"}


def dingtalk(vendor, admin, **extra) -> Channel:
    data = {"name": "Ops group", "kind": "dingtalk", "enabled": True, "customer": None,
            "config": {"base_url": vendor.base_url}, "secrets": {"access_token": TOKEN, "secret": "SECabc"}, **extra}
    return channel_services.create_channel(data, actor=admin)


def test_secrets_are_split_off_and_encrypted_and_an_empty_one_keeps_the_old(vendor, admin):
    channel = dingtalk(vendor, admin)
    assert channel.config == {"base_url": vendor.base_url}
    assert json.loads(crypto.decrypt(channel.secrets_encrypted)) == {"access_token": TOKEN, "secret": "SECabc"}
    assert TOKEN not in channel.secrets_encrypted

    channel_services.update_channel(channel, {"name": "Ops group 2", "secrets": {"access_token": "", "secret": "new"}},
                                    actor=admin)
    channel.refresh_from_db()
    assert channel.name == "Ops group 2"
    assert channel_services.stored_secrets(channel) == {"access_token": TOKEN, "secret": "new"}

    # A secret typed into the settings still ends up encrypted, not in the settings.
    channel_services.update_channel(channel, {"config": {"base_url": vendor.base_url, "secret": "typed"}},
                                    actor=admin)
    channel.refresh_from_db()
    assert "secret" not in channel.config and channel_services.stored_secrets(channel)["secret"] == "typed"


def test_settings_are_checked_against_the_type_schema_naming_the_field(admin):
    with pytest.raises(ValidationError) as refused:
        channel_services.create_channel({"name": "x", "kind": "webhook", "config": {"colour": "red"}}, actor=admin)
    errors = refused.value.message_dict["config"]
    assert "Webhook address (url): this field is required." in errors
    assert "colour: not a setting of this channel type." in errors
    with pytest.raises(ValidationError) as refused:
        channel_services.create_channel({"name": "x", "kind": "webhook", "config": {"url": 5}}, actor=admin)
    assert refused.value.message_dict["config"] == ["Webhook address (url): must be of type string."]
    with pytest.raises(ValidationError) as refused:
        channel_services.create_channel({"name": "x", "kind": "pigeon", "config": {}}, actor=admin)
    assert "pigeon" in refused.value.message_dict["kind"][0]
    assert not Channel.objects.exists()


def test_the_form_shows_secrets_as_password_inputs_and_a_bad_setting_by_name(admin, vendor):
    # (tests/notify/conftest.py's `client` is an HTTP client for the vendors, not Django's.)
    admin_client = Client()
    admin_client.force_login(admin)
    page = admin_client.get(reverse("notify:channel_add")).content.decode()
    assert 'name="secret_access_token"' in page and 'type="password"' in page
    assert 'name="config"' in page

    response = admin_client.post(reverse("notify:channel_add"), {
        "name": "hook", "kind": "webhook", "enabled": "on", "config": '{"colour": "red"}'})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Webhook address (url): this field is required." in body
    assert not Channel.objects.exists()

    response = admin_client.post(reverse("notify:channel_add"), {
        "name": "robot", "kind": "dingtalk", "enabled": "on", "config": json.dumps({"base_url": vendor.base_url}),
        "secret_access_token": TOKEN, "secret_secret": "SECabc"})
    assert response.status_code == 302
    channel = Channel.objects.get()
    assert channel_services.stored_secrets(channel)["access_token"] == TOKEN
    edit = admin_client.get(reverse("notify:channel_edit", args=[channel.pk])).content.decode()
    detail = admin_client.get(reverse("notify:channel_detail", args=[channel.pk])).content.decode()
    assert TOKEN not in edit and "SECabc" not in edit and TOKEN not in detail


def test_the_api_takes_secrets_and_never_returns_them(admin, vendor):
    api = api_client_for(admin)
    response = api.post("/api/notify/channels/", {"name": "robot", "kind": "dingtalk", "enabled": True,
                                                  "config": {"base_url": vendor.base_url},
                                                  "secrets": {"access_token": TOKEN}}, format="json")
    assert response.status_code == 201, response.content
    assert TOKEN not in response.content.decode() and response.json()["has_secrets"] is True
    listed = api.get("/api/notify/channels/").content.decode()
    assert TOKEN not in listed
    bad = api.post("/api/notify/channels/", {"name": "hook", "kind": "webhook", "config": {}}, format="json")
    assert bad.status_code == 400
    assert "Webhook address (url): this field is required." in bad.content.decode()


def test_a_test_message_goes_through_the_delivery_engine(vendor, admin, django_capture_on_commit_callbacks):
    admin.language = "en"  # (zh-hans once the lead merges /tmp/msg/delivery.json into the catalogue)
    admin.save()
    channel = dingtalk(vendor, admin)
    vendor.reset()
    with django_capture_on_commit_callbacks(execute=True):
        notification = channel_services.send_test(channel, actor=admin)
    notification.refresh_from_db()
    assert notification.state == "sent" and notification.source == "notify.test"
    [request] = vendor.requests
    assert request.query["access_token"] == TOKEN
    assert request.json()["markdown"]["text"] == f"**🔵 {TEST_TITLE[admin.language]}**\n\n" + \
        TEST_TEXT[admin.language]


def test_contact_methods_are_each_persons_own(engineer, engineer_of_b, admin):
    mine = channel_services.create_contact_method({"user": engineer_of_b, "kind": "email",
                                                   "address": "eric@example.com"}, actor=engineer)
    assert mine.user == engineer  # a person cannot add a method to someone else
    theirs = channel_services.create_contact_method({"user": engineer_of_b, "kind": "sms", "address": "+8613800000000"},
                                                    actor=admin)
    with pytest.raises(PermissionDenied):
        channel_services.update_contact_method(theirs, {"address": "+8613911111111"}, actor=engineer)
    with pytest.raises(PermissionDenied):
        channel_services.delete_contact_method(theirs, actor=engineer)
    channel_services.update_contact_method(mine, {"address": "eric@ops.example.com"}, actor=engineer)
    assert ContactMethod.objects.get(pk=mine.pk).address == "eric@ops.example.com"


def test_a_customer_user_sees_only_their_customers_delivery_log(vendor, customer_a, customer_b, customer_user, admin):
    channel = Channel.objects.create(name="hook", kind="webhook", config={"url": vendor.base_url + "/h"})
    ours = services.queue(channel, {"title": "ours"}, key="a", customer=customer_a)
    theirs = services.queue(channel, {"title": "theirs"}, key="b", customer=customer_b)
    staff_only = services.queue(channel, {"title": "provider"}, key="c")
    vendor.reset({})
    delivery.send([ours.pk])
    api = api_client_for(customer_user, write=False)
    titles = [row["title"] for row in api.get("/api/notify/notifications/").json()["results"]]
    assert titles == ["ours"]
    assert api.get(f"/api/notify/notifications/{theirs.pk}/").status_code == 404
    attempts = api.get("/api/notify/deliveryattempts/").json()["results"]
    assert {a["notification"] for a in attempts} == {ours.pk}
    assert api.get("/api/notify/channels/").status_code == 403  # channels are the provider's staff's
    staff = [row["title"] for row in api_client_for(admin).get("/api/notify/notifications/").json()["results"]]
    assert sorted(staff) == ["ours", "provider", "theirs"] and staff_only is not None


def test_healthz_and_metrics_report_the_backlog(vendor):
    client = Client()
    channel = Channel.objects.create(name="hook", kind="webhook", config={"url": vendor.base_url + "/h"})
    row = services.queue(channel, {"title": "late"}, key="late")
    Notification.objects.filter(pk=row.pk).update(due_at=timezone.now() - dt.timedelta(minutes=5))
    from opsdesk.notify.hooks import check_notify

    state = check_notify()
    assert state["status"] == "stale" and state["oldest_due_s"] >= 300
    metrics = client.get("/metrics").content.decode()
    assert "opsdesk_notifications_pending 1.0" in metrics
    vendor.reset({})
    delivery.send([row.pk])
    assert check_notify() == {"status": "ok", "oldest_due_s": 0.0}
    metrics = client.get("/metrics").content.decode()
    assert "opsdesk_notifications_sent_total 1.0" in metrics and "opsdesk_notifications_pending 0.0" in metrics
    assert DeliveryAttempt.objects.count() == 1


def test_a_channels_page_never_shows_its_encrypted_secrets(admin):
    from django.test import Client
    from django.urls import reverse

    from tests.factories import make_channel

    channel = make_channel(None)
    channel.secrets_encrypted = "gAAAAA-encrypted-secret-token"
    channel.save()
    browser = Client()
    browser.force_login(admin)
    page = browser.get(reverse("notify:channel_detail", args=[channel.pk])).content.decode()
    assert channel.name in page and "gAAAAA-encrypted-secret-token" not in page
