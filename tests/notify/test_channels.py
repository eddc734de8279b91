"""Each channel sends one exact request, signed as the vendor checks it (the reference signatures
are written here the way the vendors' documentation shows them, independently of the senders)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from opsdesk.notify import channels
from opsdesk.notify.channels import Message

NOW = 1718000000.123  # wall clock passed to send()
ROOT = Path(__file__).resolve().parents[2]


def alert(i: int = 1, severity: str = "critical", text: str = "CPU 97% for 5 minutes", **extra) -> Message:
    return Message(title=f"web-{i:02d} CPU high", text=text, severity=severity,
                   url=f"https://ops.example.com/alerts/{i}/ack", **extra)


# --- registry --------------------------------------------------------------------------------

def test_the_registry_knows_each_channel_and_names_the_known_ones_for_an_unknown():
    assert set(channels.CHANNELS) == {"dingtalk", "wecom", "feishu", "webhook", "email", "apprise", "aliyun_sms",
                                      "aliyun_voice", "tencent_sms"}
    assert channels.get("feishu").name == "feishu"
    with pytest.raises(KeyError, match="unknown channel type 'sms'.*aliyun_sms, aliyun_voice, apprise, dingtalk, "
                                       "email, feishu, tencent_sms, webhook, wecom"):
        channels.get("sms")
    for channel in channels.CHANNELS.values():
        assert channel.config_schema["type"] == "object" and channel.label


def test_a_message_refuses_an_unknown_severity():
    with pytest.raises(ValueError, match="severity"):
        Message(title="x", text="y", severity="fatal")


def test_the_channels_import_nothing_of_django():
    code = ("import sys, opsdesk.notify.channels, opsdesk.notify.channels.limiter; "
            "bad = [m for m in sys.modules if m == 'django' or m.startswith(('django.', 'rest_framework', 'celery'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --- DingTalk ----------------------------------------------------------------------------------

def test_dingtalk_sends_a_markdown_message_signed_as_dingtalk_checks_it(vendor, client):
    secret = "SEC0123456789abcdef+/=secret"
    config = {"access_token": "tok123", "secret": secret, "base_url": vendor.base_url}
    result = channels.get("dingtalk").send(config, [alert()], client=client, now=NOW)
    assert result.ok and result.status == 200 and result.vendor_code == 0 and result.delivered == 1

    [request] = vendor.requests
    assert request.method == "POST" and request.path == "/robot/send"
    assert request.headers["content-type"].startswith("application/json")
    # DingTalk's documented Python example:
    timestamp = str(round(NOW * 1000))
    secret_enc = secret.encode("utf-8")
    string_to_sign = "{}\n{}".format(timestamp, secret)  # noqa: UP032 (as the vendor writes it)
    string_to_sign_enc = string_to_sign.encode("utf-8")
    hmac_code = hmac.new(secret_enc, string_to_sign_enc, digestmod=hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(hmac_code))
    assert request.raw_query == f"access_token=tok123&timestamp={timestamp}&sign={sign}"
    assert timestamp == "1718000000123"

    body = request.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "🔴 web-01 CPU high"
    assert body["markdown"]["text"] == ("**🔴 web-01 CPU high**\n\nCPU 97% for 5 minutes\n\n"
                                        "[Acknowledge](https://ops.example.com/alerts/1/ack)")


def test_dingtalk_takes_the_token_from_a_pasted_webhook_address_and_signs_nothing_without_a_secret(vendor, client):
    pasted = "https://oapi.dingtalk.com/robot/send?access_token=abc%2Fdef"
    config = {"access_token": pasted, "base_url": vendor.base_url}
    assert channels.get("dingtalk").send(config, [alert()], client=client, now=NOW).ok
    assert vendor.requests[0].raw_query == "access_token=abc%2Fdef"


def test_dingtalk_130101_blocks_the_robot_for_ten_minutes_and_other_errors_carry_the_vendors_message(vendor, client):
    config = {"access_token": "tok", "secret": "SECx", "base_url": vendor.base_url}
    vendor.reply(200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
    vendor.reply(200, {"errcode": 310000, "errmsg": "sign not match"})
    limited = channels.get("dingtalk").send(config, [alert()], client=client, now=NOW)
    assert not limited.ok and limited.vendor_code == 130101 and limited.retry_after == 600
    failed = channels.get("dingtalk").send(config, [alert()], client=client, now=NOW)
    assert (failed.ok, failed.vendor_code, failed.detail, failed.retry_after) == (False, 310000, "sign not match", None)


def test_an_unreachable_server_is_a_failure_that_names_no_secret(client):
    config = {"access_token": "tok-secret-value", "secret": "SECx", "base_url": "http://127.0.0.1:9"}
    result = channels.get("dingtalk").send(config, [alert()], client=client, now=NOW)
    assert not result.ok and result.status == 0 and "tok-secret-value" not in result.detail


def test_a_digest_goes_in_one_request_and_one_too_large_is_cut_with_and_n_more(vendor, client):
    config = {"access_token": "tok", "base_url": vendor.base_url}
    few = [alert(i, severity) for i, severity in enumerate(["minor", "critical", "info"], 1)]
    assert channels.get("dingtalk").send(config, few, client=client, now=NOW).delivered == 3
    body = vendor.requests[0].json()["markdown"]
    assert body["title"] == "🔴 3 notifications"
    assert body["text"].count("\n\n---\n\n") == 2 and "web-03" in body["text"] and "more" not in body["text"]

    many = [alert(i, text="x" * 900) for i in range(1, 61)]  # ~60 KB of text
    result = channels.get("dingtalk").send(config, many, client=client, now=NOW)
    assert result.ok and 0 < result.delivered < 60
    request = vendor.requests[1]
    assert len(request.body) <= 20_000
    text = request.json()["markdown"]["text"]
    assert text.endswith(f"… and {60 - result.delivered} more")
    assert f"web-{result.delivered:02d}" in text and f"web-{result.delivered + 1:02d}" not in text

    huge = [alert(1, text="y" * 50_000), alert(2)]
    result = channels.get("dingtalk").send(config, huge, client=client, now=NOW)
    assert result.ok and result.delivered == 1
    assert len(vendor.requests[2].body) <= 20_000
    assert vendor.requests[2].json()["markdown"]["text"].endswith("…\n\n[Acknowledge](https://ops.example.com/alerts/1/ack)"
                                                                 "\n\n… and 1 more")


# --- Feishu ------------------------------------------------------------------------------------

def test_feishu_sends_a_card_signed_as_feishu_checks_it(vendor, client):
    vendor.reset({"code": 0, "msg": "success", "data": {}})
    secret = "feishu-secret"
    config = {"token": "hook-uuid-1", "secret": secret, "base_url": vendor.base_url}
    message = alert(severity="major", fields={"host": "web-01", "value": "97%"})
    result = channels.get("feishu").send(config, [message], client=client, now=NOW)
    assert result.ok and result.vendor_code == 0

    [request] = vendor.requests
    assert request.path == "/open-apis/bot/v2/hook/hook-uuid-1" and request.raw_query == ""
    body = request.json()
    # Feishu's documented Python example:
    timestamp = int(NOW)
    string_to_sign = "{}\n{}".format(timestamp, secret)  # noqa: UP032 (as the vendor writes it)
    hmac_code = hmac.new(string_to_sign.encode("utf-8"), digestmod=hashlib.sha256).digest()
    sign = base64.b64encode(hmac_code).decode("utf-8")
    assert body["timestamp"] == "1718000000" and body["sign"] == sign
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"] == {"title": {"tag": "plain_text", "content": "🟠 web-01 CPU high"}, "template": "orange"}
    assert card["elements"][0] == {"tag": "markdown", "content": "**🟠 web-01 CPU high**\n\nCPU 97% for 5 minutes\n\n"
                                                                  "- **host**: web-01\n- **value**: 97%"}
    button = card["elements"][1]["actions"][0]
    assert button["url"] == "https://ops.example.com/alerts/1/ack" and button["text"]["content"] == "Acknowledge"


@pytest.mark.parametrize(("status", "answer", "headers", "retry_after"), [
    (400, {"code": 11232, "msg": "frequency limited"}, {}, 60.0),
    (429, {"code": 99991400, "msg": "too many requests"}, {"Retry-After": "3"}, 3.0),
    (400, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}, {}, None),
])
def test_feishu_failures(vendor, client, status, answer, headers, retry_after):
    vendor.reply(status, answer, headers)
    config = {"token": "t", "secret": "s", "base_url": vendor.base_url}
    result = channels.get("feishu").send(config, [alert()], client=client, now=NOW)
    assert (result.ok, result.status, result.vendor_code, result.retry_after) == (False, status, answer["code"],
                                                                                  retry_after)
    assert result.detail == answer["msg"]


# --- WeCom -------------------------------------------------------------------------------------

def test_wecom_sends_markdown_with_the_key_as_its_only_secret(vendor, client):
    config = {"key": "693a91f6-7xxx", "base_url": vendor.base_url}
    assert channels.get("wecom").send(config, [alert()], client=client, now=NOW).ok
    [request] = vendor.requests
    assert request.path == "/cgi-bin/webhook/send" and request.raw_query == "key=693a91f6-7xxx"
    assert request.json() == {"msgtype": "markdown", "markdown": {"content": (
        "**🔴 web-01 CPU high**\n\nCPU 97% for 5 minutes\n\n[Acknowledge](https://ops.example.com/alerts/1/ack)")}}


def test_wecom_rate_limit_and_its_4096_byte_content_cap(vendor, client):
    config = {"key": "k", "base_url": vendor.base_url}
    vendor.reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"})
    result = channels.get("wecom").send(config, [alert()], client=client, now=NOW)
    assert (result.ok, result.vendor_code, result.retry_after) == (False, 45009, 60.0)
    many = [alert(i, text="告警" * 200) for i in range(1, 11)]
    result = channels.get("wecom").send(config, many, client=client, now=NOW)
    content = vendor.requests[1].json()["markdown"]["content"]
    assert result.ok and len(content.encode()) <= 4096
    assert content.startswith("**🔴 10 notifications**") and content.endswith(f"… and {10 - result.delivered} more")


# --- generic webhook ----------------------------------------------------------------------------

def test_the_generic_webhook_signs_timestamp_dot_body(vendor, client):
    vendor.reset({})
    config = {"url": vendor.base_url + "/hooks/opsdesk", "secret": "whsec"}
    assert channels.get("webhook").send(config, [alert()], client=client, now=NOW).ok
    [request] = vendor.requests
    assert request.path == "/hooks/opsdesk"
    ts = request.headers["x-opsdesk-timestamp"]
    assert ts == "1718000000"
    expected = hmac.new(b"whsec", f"{ts}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-opsdesk-signature"], f"sha256={expected}")
    assert request.json() == {"omitted": 0, "messages": [{
        "title": "web-01 CPU high", "text": "CPU 97% for 5 minutes", "severity": "critical",
        "url": "https://ops.example.com/alerts/1/ack", "fields": {}}]}


def test_the_generic_webhook_without_a_secret_is_unsigned_and_429_asks_to_wait(vendor, client):
    config = {"url": vendor.base_url + "/h"}
    vendor.reply(429, {}, {"Retry-After": "30"})
    result = channels.get("webhook").send(config, [alert()], client=client, now=NOW)
    assert (result.ok, result.status, result.retry_after) == (False, 429, 30.0)
    assert "x-opsdesk-signature" not in vendor.requests[0].headers
