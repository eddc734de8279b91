"""The same story for each vendor: a group @-mentions the bot, a ticket opens for the group's
customer and the group is told its number; later messages add to it; the desk's public reply goes
back to the group as the exact request the vendor's API takes; once the ticket is resolved the
next @-mention opens a new one; a message delivered twice is written once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from opsdesk.core.models import Role
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import ChatGroup, ChatMessage, Ticket, TicketEntry
from tests.factories import UserFactory, make_channel
from tests.servicedesk.chat.conftest import (
    dingtalk_payload,
    feishu_event,
    make_integration,
    post_dingtalk,
    post_feishu,
    post_wecom,
    wecom_message,
)

pytestmark = pytest.mark.django_db

FEISHU_TOKEN = "t-g1044ghJRUIJJ5ELPPHWTE5"


@dataclass
class Driver:
    kind: str
    vendor: Any
    integration: Any = None

    def say(self, client, text: str, msg_id: str):
        if self.kind == "dingtalk":
            return post_dingtalk(client, self.integration, dingtalk_payload(self.vendor, text, msg_id=msg_id))
        if self.kind == "feishu":
            return post_feishu(client, self.integration, feishu_event(text, message_id=msg_id))
        return post_wecom(client, self.integration, wecom_message(self.vendor, text, msgid=msg_id))

    def said(self, msg_id: str, text: str) -> None:
        """The one request that posted `text` into the group, answering message `msg_id`."""
        if self.kind == "dingtalk":
            [request] = [r for r in self.vendor.posted("/robot/sendBySession") if r.json()["text"]["content"] == text]
            assert request.raw_query == "session=c5e0b4f1"
            assert request.json() == {"msgtype": "text", "text": {"content": text}}
        elif self.kind == "feishu":
            [request] = self.vendor.posted(f"/open-apis/im/v1/messages/{msg_id}/reply")[-1:]
            assert request.headers["authorization"] == f"Bearer {FEISHU_TOKEN}"
            assert request.headers["content-type"].startswith("application/json")
            body = request.json()
            assert body["msg_type"] == "text" and json.loads(body["content"]) == {"text": text}
            assert body["uuid"].startswith("chat:")
            [token] = self.vendor.posted("/open-apis/auth/v3/tenant_access_token/internal")[:1]
            assert token.json() == {"app_id": "cli_9f5343c580712544", "app_secret": "feishu-app-secret-42"}
        else:
            [request] = self.vendor.posted("/cgi-bin/aibot/response")[-1:]
            assert request.raw_query == f"code=r{msg_id}"
            assert request.json() == {"msgtype": "markdown", "markdown": {"content": text}}


@pytest.fixture(params=["dingtalk", "feishu", "wecom"])
def driver(request, vendor, customer_a):
    driver = Driver(request.param, vendor)
    driver.integration = make_integration(request.param, vendor, customer=customer_a)
    return driver


def test_a_mention_opens_a_ticket_for_the_groups_customer_and_the_group_is_told_its_number(
        client, driver, customer_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        answer = driver.say(client, "数据库连不上了\n从 9 点开始报错 ORA-12541", "m-1")
    assert answer.status_code == 200
    ticket = Ticket.objects.get()
    assert (ticket.customer, ticket.channel, ticket.title) == (customer_a, "chat", "数据库连不上了")
    assert ticket.description == "数据库连不上了\n从 9 点开始报错 ORA-12541"
    group = ChatGroup.objects.get()
    assert (group.customer, group.open_ticket) == (customer_a, ticket)
    opening = ticket.entries.get(kind="reply")
    assert opening.via == "chat" and opening.public and opening.author_name
    if driver.kind != "wecom":
        assert answer.json() == {"ok": True, "state": "ticketed", "ticket": ticket.pk}
    else:
        assert answer.content == b""  # WeCom's smart robot takes an empty answer
    # The group's language is zh-Hans unless set: the bot speaks it.
    driver.said("m-1", f"已记录为工单 #{ticket.pk}：数据库连不上了")


def test_a_second_message_of_the_group_is_added_to_the_same_ticket(client, driver, django_capture_on_commit_callbacks):
    driver.say(client, "打印机坏了", "m-1")
    with django_capture_on_commit_callbacks(execute=True):
        assert driver.say(client, "型号是 HP M404", "m-2").status_code == 200
    ticket = Ticket.objects.get()
    replies = list(ticket.entries.filter(kind="reply").values_list("body", "data"))
    assert [body for body, _ in replies] == ["<p>打印机坏了</p>", "<p>型号是 HP M404</p>"]
    assert replies[1][1] == {"customer": True}
    assert ChatMessage.objects.get(vendor_message_id="m-2").ticket == ticket
    driver.said("m-2", f"已补充到工单 #{ticket.pk}。")


def test_after_the_ticket_is_resolved_a_new_mention_opens_a_new_ticket(client, driver):
    driver.say(client, "VPN 断了", "m-1")
    first = Ticket.objects.get()
    services.resolve(first, actor=UserFactory(role=Role.ADMIN), solution="Restarted the VPN gateway.")
    driver.say(client, "邮件发不出去", "m-2")
    second = Ticket.objects.exclude(pk=first.pk).get()
    assert second.title == "邮件发不出去"
    first.refresh_from_db()
    assert first.status == "resolved"  # not reopened by a new, different fault
    assert ChatGroup.objects.get().open_ticket == second


def test_the_same_message_delivered_twice_makes_one_entry(client, driver):
    assert driver.say(client, "磁盘满了", "m-1").status_code == 200
    again = driver.say(client, "磁盘满了", "m-1")
    assert again.status_code == 200
    if driver.kind != "wecom":
        assert again.json()["state"] == "duplicate"
    assert Ticket.objects.count() == 1 and TicketEntry.objects.filter(kind="reply").count() == 1
    assert ChatMessage.objects.count() == 1


def test_the_desks_public_reply_goes_back_to_the_group_as_the_vendors_request(
        client, driver, vendor, customer_a, django_capture_on_commit_callbacks):
    driver.say(client, "网站打不开", "m-1")
    ticket = Ticket.objects.get()
    group = ChatGroup.objects.get()
    if driver.kind == "wecom":
        # The response_url served the acknowledgement: later replies go through the group's robot.
        group.notify_channel = make_channel(customer_a, kind="wecom", config={"key": "group-robot-key",
                                                                              "base_url": vendor.base_url})
        group.save()
    engineer = UserFactory(role=Role.ADMIN, first_name="Wang", last_name="Wu")
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket, actor=engineer, body="已重启 nginx，请再试一下。")
        services.note(ticket, actor=engineer, body="internal: the certificate expired")
    text = f"工单 #{ticket.pk}：Wang Wu 回复\n已重启 nginx，请再试一下。"
    if driver.kind == "wecom":
        [request] = vendor.posted("/cgi-bin/webhook/send")
        assert request.raw_query == "key=group-robot-key"
        assert request.json() == {"msgtype": "markdown", "markdown": {
            "content": f"**🔵 工单 #{ticket.pk}：Wang Wu 回复**\n\n已重启 nginx，请再试一下。"}}
    else:
        driver.said("m-1", text)
    everything = json.dumps([r.json() for r in vendor.requests], ensure_ascii=False)
    assert "certificate expired" not in everything  # an internal note stays inside


@pytest.mark.parametrize("kind", ["dingtalk", "feishu"])
def test_a_resolution_is_told_to_the_group_in_short(client, kind, vendor, customer_a,
                                                     django_capture_on_commit_callbacks):
    # (WeCom tells it through the group's robot, as any later message: the reply test shows that way.)
    driver = Driver(kind, vendor, make_integration(kind, vendor, customer=customer_a))
    driver.say(client, "网站打不开", "m-1")
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve(ticket, actor=UserFactory(role=Role.ADMIN))
    driver.said("m-1", f"工单 #{ticket.pk} 已解决。\n如问题再次出现，请再 @我。")


def test_a_message_that_does_not_mention_the_bot_or_is_not_in_a_group_is_ignored(client, vendor, customer_a):
    integration = make_integration("dingtalk", vendor, customer=customer_a)
    payload = dingtalk_payload(vendor, "大家好", msg_id="m-1", at=False)
    assert post_dingtalk(client, integration, payload).json() == {"ok": True, "state": "ignored", "ticket": None}
    single = dingtalk_payload(vendor, "你好", msg_id="m-2", conversation_type="1")
    assert post_dingtalk(client, integration, single).json()["state"] == "ignored"
    assert not Ticket.objects.exists() and not ChatGroup.objects.exists()
    assert list(ChatMessage.objects.values_list("text", "reason")) == [("", "not a group chat"),
                                                                       ("", "the bot was not mentioned")]
    assert vendor.requests == []  # nothing said in the group either


def test_feishu_with_the_bots_open_id_set_only_mentions_of_that_bot_count(client, vendor, customer_a):
    integration = make_integration("feishu", vendor, customer=customer_a, config={"bot_open_id": "ou_bot"})
    other = feishu_event("你看一下", message_id="om_1")
    other["event"]["message"]["mentions"][0]["id"]["open_id"] = "ou_colleague"
    assert post_feishu(client, integration, other).json()["state"] == "ignored"
    event = feishu_event("@_user_2 的电脑蓝屏了", message_id="om_2")
    event["event"]["message"]["mentions"].append({"key": "@_user_2", "id": {"open_id": "ou_li"}, "name": "李四"})
    assert post_feishu(client, integration, event).json()["state"] == "ticketed"
    assert Ticket.objects.get().title == "@李四 的电脑蓝屏了"
