"""DingTalk group robot (钉钉自定义机器人): a Markdown message, signed as DingTalk checks it.

POST {base_url}/robot/send?access_token=…&timestamp=…&sign=… with
sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp in ms}\\n{secret}"))).
Without a secret (a robot secured by keywords or IP addresses) timestamp and sign are left out.
DingTalk allows 20 messages a minute per robot and blocks it for 10 minutes (errcode 130101)
when more come.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Sequence

import httpx

from .base import (
    ChannelType,
    Message,
    SendResult,
    Window,
    answer,
    digest_markdown,
    fingerprint,
    fit,
    gettext_noop,
    post,
    schema,
    setting,
    string,
    title_of,
    token,
)

RATE_LIMITED = 130101  # "send too fast, exceed 20 times per minute": the robot is blocked 10 minutes
BLOCKED_FOR = 600.0

SCHEMA = schema({
    "access_token": string(gettext_noop("Access token (or the robot's webhook address)")),
    "secret": string(gettext_noop("Signing secret (SEC…)"), ""),
    "base_url": string(gettext_noop("Server address"), "https://oapi.dingtalk.com", format="uri"),
}, required=["access_token"])


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature, already URL-encoded for the query string."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def build(messages: Sequence[Message], omitted: int) -> dict:
    return {"msgtype": "markdown",
            "markdown": {"title": title_of(messages, omitted), "text": digest_markdown(messages, omitted)}}


def url(config: dict, now: float) -> str:
    base = str(setting(config, "base_url", SCHEMA)).rstrip("/")
    query = "access_token=" + urllib.parse.quote(token(config["access_token"], "access_token"), safe="")
    if config.get("secret"):
        timestamp = int(round(now * 1000))
        query += f"&timestamp={timestamp}&sign={sign(config['secret'], timestamp)}"
    return f"{base}/robot/send?{query}"


def send(config: dict, messages: list[Message], *, client: httpx.Client, now: float) -> SendResult:
    body, delivered = fit(messages, build)
    hide = (config.get("secret", ""), token(config["access_token"], "access_token"))
    response = post(client, url(config, now), body, hide=hide)
    if isinstance(response, SendResult):
        return response
    data = answer(response)
    code = data.get("errcode")
    detail = str(data.get("errmsg", ""))[:500]
    if response.status_code == 200 and code == 0:
        return SendResult(ok=True, status=200, vendor_code=0, detail=detail, delivered=delivered)
    if code == RATE_LIMITED:
        return SendResult(ok=False, status=response.status_code, vendor_code=code, detail=detail,
                          retry_after=BLOCKED_FOR)
    return SendResult(ok=False, status=response.status_code, vendor_code=code,
                      detail=detail or response.reason_phrase)


CHANNEL = ChannelType(
    name="dingtalk",
    label=gettext_noop("DingTalk robot"),
    send=send,
    config_schema=SCHEMA,
    limits=(Window(20, 60.0),),
    destination=lambda config: fingerprint("dingtalk", token(config.get("access_token", ""), "access_token")),
    secrets=("access_token", "secret"),
)
