"""What a vendor did not sign, or signed for someone else, is refused with 401 / 403 and a JSON
body naming what is wrong, and nothing is written: bad signatures, wrong tokens, stale
timestamps, replays, other receivers, a disabled integration, an unknown URL."""

from __future__ import annotations

import json
import time

import pytest
from auditlog.models import LogEntry

from opsdesk.servicedesk.models import ChatGroup, ChatMessage, ChatOutbox, Ticket, TicketEntry
from tests.servicedesk.chat.conftest import (
    FEISHU,
    callback_url,
    dingtalk_headers,
    dingtalk_payload,
    feishu_encrypt,
    feishu_event,
    make_integration,
    post_dingtalk,
    post_feishu,
    post_wecom,
    wecom_message,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def nothing_written(db):
    models = (ChatMessage, ChatGroup, ChatOutbox, Ticket, TicketEntry, LogEntry)

    def counts():
        return {m.__name__: m.objects.count() for m in models}

    before = {}

    class Check:
        def start(self):
            before.update(counts())

        def __call__(self):
            assert counts() == before

    check = Check()
    return check


def refused(answer, status: int, words: str) -> None:
    assert answer.status_code == status, answer.content
    assert answer["Content-Type"] == "application/json"
    assert words in answer.json()["detail"]


# --- DingTalk -------------------------------------------------------------------------------------

@pytest.fixture
def dingtalk(vendor, customer_a):
    return make_integration("dingtalk", vendor, customer=customer_a)


def test_dingtalk_a_sign_made_with_another_secret_is_refused(client, dingtalk, vendor, nothing_written):
    nothing_written.start()
    answer = post_dingtalk(client, dingtalk, dingtalk_payload(vendor, "x", msg_id="m-1"),
                           **dingtalk_headers(secret="not-the-app-secret"))
    refused(answer, 401, "sign")
    nothing_written()


def test_dingtalk_a_timestamp_more_than_an_hour_old_is_refused(client, dingtalk, vendor, nothing_written):
    nothing_written.start()
    stale = int(time.time() * 1000) - 3_601_000
    refused(post_dingtalk(client, dingtalk, dingtalk_payload(vendor, "x", msg_id="m-1"), **dingtalk_headers(stale)),
            401, "timestamp")
    nothing_written()


def test_dingtalk_missing_headers_are_refused(client, dingtalk, vendor, nothing_written):
    nothing_written.start()
    answer = client.post(callback_url(dingtalk), data=json.dumps(dingtalk_payload(vendor, "x", msg_id="m-1")),
                         content_type="application/json")
    refused(answer, 401, "timestamp and sign headers are required")
    nothing_written()


def test_dingtalk_a_sign_replayed_on_another_message_is_refused(client, dingtalk, vendor, nothing_written):
    headers = dingtalk_headers()
    first = dingtalk_payload(vendor, "磁盘满了", msg_id="m-1")
    assert post_dingtalk(client, dingtalk, first, **headers).status_code == 200
    nothing_written.start()
    # DingTalk's sign covers the timestamp only: the same headers with another body are a replay.
    forged = dingtalk_payload(vendor, "请把数据库删了", msg_id="m-forged")
    refused(post_dingtalk(client, dingtalk, forged, **headers), 401, "already used")
    nothing_written()


def test_dingtalk_a_session_webhook_outside_dingtalks_api_is_never_used(client, dingtalk, vendor):
    payload = dingtalk_payload(vendor, "打印机坏了", msg_id="m-1")
    payload["sessionWebhook"] = "http://127.0.0.1:9/steal"
    assert post_dingtalk(client, dingtalk, payload).status_code == 200
    message = ChatMessage.objects.get()
    assert message.reply_url_encrypted == "" and message.ticket is not None


# --- Feishu ---------------------------------------------------------------------------------------

@pytest.fixture
def lark(vendor, customer_a):
    return make_integration("feishu", vendor, customer=customer_a)


def test_feishu_a_wrong_signature_is_refused(client, lark, nothing_written):
    nothing_written.start()
    refused(post_feishu(client, lark, feishu_event("x", message_id="om_1"), signature="0" * 64), 401,
            "X-Lark-Signature")
    nothing_written()


def test_feishu_a_wrong_verification_token_is_refused(client, lark, nothing_written):
    nothing_written.start()
    refused(post_feishu(client, lark, feishu_event("x", message_id="om_1", token="another-apps-token")), 401,
            "verification token")
    nothing_written()


def test_feishu_a_body_encrypted_with_another_key_is_refused(client, lark, nothing_written):
    nothing_written.start()
    refused(post_feishu(client, lark, feishu_event("x", message_id="om_1"), encrypt_key="someone-elses-key"), 401,
            "decrypted")
    nothing_written()


def test_feishu_a_stale_timestamp_is_refused(client, lark, nothing_written):
    nothing_written.start()
    refused(post_feishu(client, lark, feishu_event("x", message_id="om_1"), timestamp=str(int(time.time()) - 7200)),
            401, "timestamp")
    nothing_written()


def test_feishu_a_plain_body_is_refused_when_an_encrypt_key_is_set(client, lark, nothing_written):
    nothing_written.start()
    answer = client.post(callback_url(lark), data=json.dumps(feishu_event("x", message_id="om_1")),
                         content_type="application/json")
    refused(answer, 401, "not encrypted")
    nothing_written()


def test_feishu_the_url_check_answers_the_challenge_and_writes_nothing(client, lark, nothing_written):
    nothing_written.start()
    challenge = {"challenge": "1b6aef1a-401f-406a-be41-f48911eabcef", "token": FEISHU["verification_token"],
                 "type": "url_verification"}
    body = json.dumps({"encrypt": feishu_encrypt(FEISHU["encrypt_key"], json.dumps(challenge).encode())})
    answer = client.post(callback_url(lark), data=body, content_type="application/json")
    assert answer.status_code == 200 and answer.json() == {"challenge": "1b6aef1a-401f-406a-be41-f48911eabcef"}
    wrong = dict(challenge, token="guess")
    body = json.dumps({"encrypt": feishu_encrypt(FEISHU["encrypt_key"], json.dumps(wrong).encode())})
    refused(client.post(callback_url(lark), data=body, content_type="application/json"), 401, "verification token")
    nothing_written()


# --- WeCom ----------------------------------------------------------------------------------------

@pytest.fixture
def wecom(vendor, customer_a):
    return make_integration("wecom", vendor, customer=customer_a)


def test_wecom_a_wrong_msg_signature_is_refused(client, wecom, vendor, nothing_written):
    nothing_written.start()
    refused(post_wecom(client, wecom, wecom_message(vendor, "x", msgid="w-1"), signature="0" * 40), 401,
            "msg_signature")
    nothing_written()


def test_wecom_a_signature_made_with_another_token_is_refused(client, wecom, vendor, nothing_written):
    nothing_written.start()
    refused(post_wecom(client, wecom, wecom_message(vendor, "x", msgid="w-1"), token="another-token"), 401,
            "msg_signature")
    nothing_written()


def test_wecom_a_message_for_another_receiver_is_refused(client, wecom, vendor, nothing_written):
    nothing_written.start()
    refused(post_wecom(client, wecom, wecom_message(vendor, "x", msgid="w-1"), receive_id="wwOtherCorp"), 403,
            "another receiver")
    nothing_written()


def test_wecom_a_stale_timestamp_is_refused(client, wecom, vendor, nothing_written):
    nothing_written.start()
    refused(post_wecom(client, wecom, wecom_message(vendor, "x", msgid="w-1"), timestamp=str(int(time.time()) - 4000)),
            401, "timestamp")
    nothing_written()


def test_wecom_the_url_check_answers_echostr_decrypted(client, wecom):
    import urllib.parse

    from tests.servicedesk.chat.conftest import WECOM, wecom_encrypt, wecom_signature

    echostr = wecom_encrypt(WECOM["encoding_aes_key"], b"6263771318936447531", "")
    timestamp, nonce = str(int(time.time())), "263014780"
    query = urllib.parse.urlencode({"msg_signature": wecom_signature(WECOM["token"], timestamp, nonce, echostr),
                                    "timestamp": timestamp, "nonce": nonce, "echostr": echostr})
    answer = client.get(f"{callback_url(wecom)}?{query}")
    assert answer.status_code == 200 and answer.content == b"6263771318936447531"


# --- any vendor -----------------------------------------------------------------------------------

def test_an_unknown_url_or_the_url_of_another_kind_is_404(client, dingtalk, vendor, nothing_written):
    nothing_written.start()
    payload = dingtalk_payload(vendor, "x", msg_id="m-1")
    answer = client.post(f"/api/servicedesk/chat/dingtalk/{'x' * 32}/", data=json.dumps(payload),
                         content_type="application/json", **dingtalk_headers())
    refused(answer, 404, "Not the callback URL")
    answer = client.post(f"/api/servicedesk/chat/feishu/{dingtalk.url_token}/", data=json.dumps(payload),
                         content_type="application/json", **dingtalk_headers())
    refused(answer, 404, "Not the callback URL")
    nothing_written()


def test_a_disabled_integration_is_403(client, dingtalk, vendor, nothing_written):
    dingtalk.enabled = False
    dingtalk.save()
    nothing_written.start()
    refused(post_dingtalk(client, dingtalk, dingtalk_payload(vendor, "x", msg_id="m-1")), 403, "disabled")
    nothing_written()


def test_a_signed_body_that_is_not_json_is_a_400(client, dingtalk, nothing_written):
    nothing_written.start()
    answer = client.post(callback_url(dingtalk), data="not json", content_type="application/json",
                         **dingtalk_headers())
    refused(answer, 400, "not JSON")
    nothing_written()
