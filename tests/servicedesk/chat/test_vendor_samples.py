"""The vendors' own published sample values, reproduced: Feishu's decryption example ("test key"),
WeCom's URL check and message samples (token QDG6eK, corp id wx5823bf96d3bd56c7), through the
crypto functions and through the callback URL itself."""

from __future__ import annotations

import urllib.parse

import pytest

from opsdesk.servicedesk.chat import base, crypto
from opsdesk.servicedesk.chat.services import create_integration
from opsdesk.servicedesk.models import ChatMessage, Ticket
from tests.servicedesk.chat.conftest import callback_url

WECOM_TOKEN, WECOM_KEY, WECOM_CORP = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
# WeCom's "验证URL" sample.
VERIFY = {"msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589",
          "nonce": "263014780",
          "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="}
# WeCom's "对用户回复的消息解密" sample.
MESSAGE_QUERY = {"msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6", "timestamp": "1409659813",
                 "nonce": "1372623149"}
MESSAGE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvu"
    "JTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc"
    "2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9E"
    "L4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0"
    "lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==")
MESSAGE_XML = (f"<xml><ToUserName><![CDATA[{WECOM_CORP}]]></ToUserName><Encrypt><![CDATA[{MESSAGE_ENCRYPT}]]>"
               "</Encrypt><AgentID><![CDATA[218]]></AgentID></xml>")


def test_feishus_published_example_decrypts_to_hello_world():
    assert crypto.feishu_decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == b"hello world"
    with pytest.raises(crypto.CryptoError):
        crypto.feishu_decrypt("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")


def test_wecoms_published_samples_verify_and_decrypt():
    assert crypto.wecom_signature(WECOM_TOKEN, VERIFY["timestamp"], VERIFY["nonce"], VERIFY["echostr"]) == \
        VERIFY["msg_signature"]
    assert crypto.wecom_decrypt(WECOM_KEY, VERIFY["echostr"]) == (b"1616140317555161061", WECOM_CORP)
    assert crypto.wecom_signature(WECOM_TOKEN, MESSAGE_QUERY["timestamp"], MESSAGE_QUERY["nonce"],
                                  MESSAGE_ENCRYPT) == MESSAGE_QUERY["msg_signature"]
    message, receiver = crypto.wecom_decrypt(WECOM_KEY, MESSAGE_ENCRYPT)
    assert receiver == WECOM_CORP
    assert b"<FromUserName><![CDATA[mycreate]]></FromUserName>" in message
    assert b"<Content><![CDATA[hello]]></Content>" in message and b"<MsgId>4561255354251345929</MsgId>" in message


def test_our_encryption_is_the_vendors_inverse():
    plain = b'{"msgid":"x"}'
    encrypted = crypto.wecom_encrypt(WECOM_KEY, plain, WECOM_CORP)
    assert crypto.wecom_decrypt(WECOM_KEY, encrypted) == (plain, WECOM_CORP)
    assert crypto.feishu_decrypt("k", crypto.feishu_encrypt("k", plain)) == plain


@pytest.fixture
def wecom_sample_app(db, monkeypatch):
    # The samples were signed in 2014: the clock the timestamps are checked against goes back there.
    monkeypatch.setattr(base, "now", lambda: 1409659600.0)
    return create_integration({"name": "sample", "kind": "wecom", "config": {"receive_id": WECOM_CORP},
                               "secrets": {"token": WECOM_TOKEN, "encoding_aes_key": WECOM_KEY}}, actor=None)


def test_the_wecom_url_check_with_the_published_sample_answers_the_decrypted_echostr(client, wecom_sample_app):
    answer = client.get(f"{callback_url(wecom_sample_app)}?{urllib.parse.urlencode(VERIFY)}")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")
    assert answer.content == b"1616140317555161061"


def test_the_published_sample_message_is_verified_and_taken_as_not_for_the_desk(client, wecom_sample_app):
    # An app's one-to-one message (XML), not a smart robot's group message: verified, then ignored.
    answer = client.post(f"{callback_url(wecom_sample_app)}?{urllib.parse.urlencode(MESSAGE_QUERY)}",
                         data=MESSAGE_XML, content_type="text/xml")
    assert answer.status_code == 200 and answer.content == b""
    assert not Ticket.objects.exists() and not ChatMessage.objects.exists()


def test_the_published_sample_with_another_receiver_configured_is_refused(client, wecom_sample_app):
    wecom_sample_app.config = {"receive_id": ""}  # a smart robot expects "" (WeCom's documented receiveid)
    wecom_sample_app.save()
    answer = client.get(f"{callback_url(wecom_sample_app)}?{urllib.parse.urlencode(VERIFY)}")
    assert answer.status_code == 403 and answer.json() == {"detail": "The message was encrypted for another receiver."}


def test_the_sample_url_check_an_hour_later_is_refused_as_stale(client, wecom_sample_app, monkeypatch):
    monkeypatch.setattr(base, "now", lambda: 1409659589.0 + 3601)
    answer = client.get(f"{callback_url(wecom_sample_app)}?{urllib.parse.urlencode(VERIFY)}")
    assert answer.status_code == 401 and "timestamp" in answer.json()["detail"]
