"""The intake's decisions: groups without a customer wait, a group never writes on another
customer's ticket, answers fall back to the group's robot, the outbox retries and is swept, and
the integrations' secrets stay encrypted and unseen."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.utils import timezone

from opsdesk.core.models import Role
from opsdesk.notify.models import Notification
from opsdesk.servicedesk import services
from opsdesk.servicedesk.chat import outbox
from opsdesk.servicedesk.chat import services as chat_services
from opsdesk.servicedesk.models import ChatGroup, ChatMessage, ChatOutbox, Ticket
from tests.conftest import api_client_for
from tests.factories import UserFactory, make_channel, make_ticket
from tests.servicedesk.chat.conftest import (
    DINGTALK_SECRET,
    dingtalk_payload,
    feishu_event,
    make_integration,
    post_dingtalk,
    post_feishu,
)

pytestmark = pytest.mark.django_db


# --- a group without a customer ---------------------------------------------------------------

def test_an_unknown_group_waits_for_its_customer_and_its_messages_open_the_ticket_when_assigned(
        client, vendor, customer_a, engineer, django_capture_on_commit_callbacks):
    integration = make_integration("dingtalk", vendor)  # no default customer
    with django_capture_on_commit_callbacks(execute=True):
        answer = post_dingtalk(client, integration, dingtalk_payload(vendor, "服务器宕机了", msg_id="m-1"))
    assert answer.json() == {"ok": True, "state": "held", "ticket": None}
    post_dingtalk(client, integration, dingtalk_payload(vendor, "是 10.0.0.5 这台", msg_id="m-2"))
    assert not Ticket.objects.exists()
    group = ChatGroup.objects.get()
    assert group.customer is None and group.title == "阿尔法运维群"
    [told] = vendor.posted("/robot/sendBySession")
    assert told.json()["text"]["content"].startswith("已收到。本群尚未关联客户")

    with django_capture_on_commit_callbacks(execute=True):
        chat_services.assign_customer(group, actor=engineer, customer=customer_a)
    ticket = Ticket.objects.get()
    assert (ticket.customer, ticket.title, ticket.channel) == (customer_a, "服务器宕机了", "chat")
    assert [e.body for e in ticket.entries.filter(kind="reply")] == ["<p>服务器宕机了</p>", "<p>是 10.0.0.5 这台</p>"]
    assert set(ChatMessage.objects.values_list("state", flat=True)) == {"ticketed"}
    group.refresh_from_db()
    assert group.open_ticket == ticket
    assert vendor.posted("/robot/sendBySession")[-1].json()["text"]["content"] == \
        f"已补充到工单 #{ticket.pk}。"


def test_an_engineer_cannot_assign_a_group_to_a_customer_they_do_not_serve(vendor, engineer, customer_b):
    group = ChatGroup.objects.create(integration=make_integration("dingtalk", vendor), conversation_id="cid")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        chat_services.assign_customer(group, actor=engineer, customer=customer_b)
    assert "customer" in refused.value.message_dict
    group.refresh_from_db()
    assert group.customer is None


# --- tenancy ------------------------------------------------------------------------------------

def test_a_group_of_customer_a_never_writes_on_customer_bs_ticket(client, vendor, customer_a, customer_b):
    integration = make_integration("feishu", vendor, customer=customer_a)
    theirs = make_ticket(customer_b)
    entries_before = list(theirs.entries.values_list("pk", flat=True))
    post_feishu(client, integration, feishu_event("第一条", message_id="om_1"))
    group = ChatGroup.objects.get()
    # Whatever the row says (a bug, a hand-edited database), B's ticket is not the group's.
    ChatGroup.objects.filter(pk=group.pk).update(open_ticket=theirs)
    post_feishu(client, integration, feishu_event("第二条", message_id="om_2"))
    assert list(theirs.entries.values_list("pk", flat=True)) == entries_before
    ticket = ChatMessage.objects.get(vendor_message_id="om_2").ticket
    assert ticket.customer == customer_a and ticket != theirs
    group.refresh_from_db()
    assert group.open_ticket == ticket


def test_a_reply_on_another_customers_ticket_never_reaches_the_group(client, vendor, customer_a, customer_b,
                                                                        django_capture_on_commit_callbacks):
    integration = make_integration("dingtalk", vendor, customer=customer_a)
    post_dingtalk(client, integration, dingtalk_payload(vendor, "故障", msg_id="m-1"))
    theirs = make_ticket(customer_b)
    # A message of the group pointing at B's ticket (again: whatever the rows say).
    ChatMessage.objects.filter(vendor_message_id="m-1").update(ticket=theirs)
    vendor.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(theirs, actor=UserFactory(role=Role.ADMIN), body="B 的机密回复")
    assert vendor.requests == [] and not ChatOutbox.objects.filter(ticket=theirs).exists()


def test_a_merged_ticket_sends_the_groups_next_message_to_the_ticket_it_was_merged_into(client, vendor, customer_a):
    integration = make_integration("dingtalk", vendor, customer=customer_a)
    post_dingtalk(client, integration, dingtalk_payload(vendor, "网络慢", msg_id="m-1"))
    first = Ticket.objects.get()
    target = make_ticket(customer_a)
    services.merge(first, actor=UserFactory(role=Role.ADMIN), into=target)
    post_dingtalk(client, integration, dingtalk_payload(vendor, "现在更慢了", msg_id="m-2"))
    assert ChatMessage.objects.get(vendor_message_id="m-2").ticket == target
    assert Ticket.objects.count() == 2


# --- where answers go -----------------------------------------------------------------------------

def test_dingtalk_after_the_session_webhook_expired_replies_go_through_the_groups_robot(
        client, vendor, customer_a, django_capture_on_commit_callbacks):
    integration = make_integration("dingtalk", vendor, customer=customer_a)
    soon = int(time.time() * 1000) + 30_000  # inside the safety margin: already unusable
    post_dingtalk(client, integration, dingtalk_payload(vendor, "报表跑不出来", msg_id="m-1", expires_ms=soon))
    ticket = Ticket.objects.get()
    group = ChatGroup.objects.get()
    robot = make_channel(customer_a, kind="dingtalk",
                         config={"access_token": "grouprobot", "base_url": vendor.base_url})
    group.notify_channel = robot
    group.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket, actor=UserFactory(role=Role.ADMIN, username="li"), body="请提供报表名称")
    notification = Notification.objects.get(channel=robot)
    assert (notification.title, notification.text) == (f"工单 #{ticket.pk}：li 回复", "请提供报表名称")
    [request] = vendor.posted("/robot/send")
    assert request.raw_query == "access_token=grouprobot"
    assert request.json()["markdown"]["text"] == f"**🔵 工单 #{ticket.pk}：li 回复**\n\n请提供报表名称"


def test_with_no_way_into_the_group_the_answer_is_kept_as_failed_with_the_reason(client, vendor, customer_a):
    integration = make_integration("dingtalk", vendor, customer=customer_a)
    post_dingtalk(client, integration, dingtalk_payload(vendor, "报表跑不出来", msg_id="m-1",
                                                        expires_ms=int(time.time() * 1000)))
    ticket = Ticket.objects.get()
    services.reply(ticket, actor=UserFactory(role=Role.ADMIN), body="请提供报表名称")
    row = ChatOutbox.objects.get(key__contains=":reply:")
    assert row.state == "failed" and "no group robot" in row.last_error


def test_a_failed_answer_is_retried_after_a_backoff_and_a_dead_senders_row_is_swept(
        client, vendor, customer_a, django_capture_on_commit_callbacks):
    integration = make_integration("feishu", vendor, customer=customer_a)
    vendor.reply("/open-apis/im/v1/messages/om_1/reply", 500, {"code": 230001, "msg": "internal error"})
    with django_capture_on_commit_callbacks(execute=True):
        post_feishu(client, integration, feishu_event("故障", message_id="om_1"))
    row = ChatOutbox.objects.get()
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "HTTP 500 [230001] internal error")
    assert row.due_at > timezone.now() + dt.timedelta(seconds=5)
    assert outbox.sweep() == 0  # not due yet
    # A sender that claimed it and died: the lease runs out and the sweep sends it.
    ChatOutbox.objects.filter(pk=row.pk).update(state="sending", lease_until=timezone.now() - dt.timedelta(seconds=1))
    assert outbox.sweep() == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("sent", 2)
    requests = vendor.posted("/open-apis/im/v1/messages/om_1/reply")
    assert len(requests) == 2 and requests[0].json()["uuid"] == requests[1].json()["uuid"]  # Feishu drops the copy
    assert outbox.send([row.pk]) == 0  # sent is sent


# --- the integrations' secrets --------------------------------------------------------------------

def test_secrets_are_encrypted_at_rest_and_never_in_an_api_answer(vendor, admin, customer_a):
    integration = make_integration("dingtalk", vendor, customer=customer_a)
    assert DINGTALK_SECRET not in json.dumps(integration.config) + integration.secrets_encrypted
    assert chat_services.stored_secrets(integration) == {"app_secret": DINGTALK_SECRET}
    answer = api_client_for(admin, write=False).get(f"/api/servicedesk/chatintegrations/{integration.pk}/")
    assert answer.status_code == 200
    body = answer.json()
    assert DINGTALK_SECRET not in json.dumps(body) and "secrets_encrypted" not in body and "url_token" not in body
    assert body["has_secrets"] is True
    assert body["callback_path"] == f"/api/servicedesk/chat/dingtalk/{integration.url_token}/"


def test_a_change_with_an_empty_secret_keeps_the_stored_one_and_bad_settings_name_the_field(vendor, manager):
    from django.core.exceptions import ValidationError

    integration = make_integration("wecom", vendor)
    chat_services.update_integration(integration, {"name": "renamed", "secrets": {"token": ""}}, actor=manager)
    assert chat_services.stored_secrets(integration)["token"] == "QDG6eK"
    with pytest.raises(ValidationError) as bad:
        chat_services.update_integration(integration, {"secrets": {"encoding_aes_key": "too-short"}}, actor=manager)
    assert "encoding_aes_key" in bad.value.message_dict
    with pytest.raises(ValidationError) as unknown:
        chat_services.update_integration(integration, {"config": {"colour": "red"}}, actor=manager)
    assert "config" in unknown.value.message_dict


def test_a_new_callback_url_makes_the_old_one_404(client, vendor, manager, customer_a):
    integration = make_integration("dingtalk", vendor, customer=customer_a)
    old = integration.url_token
    chat_services.new_token(integration, actor=manager)
    assert integration.url_token != old
    answer = client.post(f"/api/servicedesk/chat/dingtalk/{old}/", data="{}", content_type="application/json")
    assert answer.status_code == 404


def test_the_integrations_page_shows_the_callback_token_but_no_secret(client, vendor, manager):
    integration = make_integration("dingtalk", vendor)
    client.force_login(manager)
    page = client.get(f"/servicedesk/chatintegrations/{integration.pk}/").content.decode()
    assert integration.url_token in page
    assert integration.secrets_encrypted not in page and DINGTALK_SECRET not in page


def test_the_api_shows_messages_without_their_reply_url_or_signature_and_groups_keep_their_integration(
        client, vendor, admin, customer_a):
    integration = make_integration("dingtalk", vendor, customer=customer_a)
    post_dingtalk(client, integration, dingtalk_payload(vendor, "硬盘告警", msg_id="m-1"))
    api = api_client_for(admin, write=True)
    [row] = api.get("/api/servicedesk/chatmessages/").json()["results"]
    assert row["text"] == "硬盘告警" and row["state"] == "ticketed"
    assert not {"signature", "reply_url_encrypted", "reply_url_expires_at"} & set(row)
    assert "sendBySession" not in json.dumps(row)
    group = ChatGroup.objects.get()
    other = make_integration("feishu", vendor)
    answer = api.patch(f"/api/servicedesk/chatgroups/{group.pk}/", {"integration": other.pk, "title": "新名字"},
                       format="json")
    assert answer.status_code == 200
    group.refresh_from_db()
    assert (group.integration, group.title) == (integration, "新名字")
