"""Feishu / Lark custom bot (飞书自定义机器人): an interactive card, signed as Feishu checks it.

POST {base_url}/open-apis/bot/v2/hook/{token} with a JSON body holding `timestamp` (seconds, a
string) and `sign` = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) when a secret is
set. Lark (international) is the same with base_url https://open.larksuite.com. Feishu allows 100
requests a minute and 5 a second per bot (code 11232, or HTTP 429, when more come) and a request
body of at most 20 KB.
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
    retry_after_header,
    schema,
    setting,
    string,
    title_of,
    token,
    worst,
)

RATE_LIMITED = 11232  # "frequency limited"
RETRY_AFTER = 60.0
TEMPLATE = {"critical": "red", "major": "orange", "minor": "yellow", "info": "blue"}  # header colours

SCHEMA = schema({
    "token": string(gettext_noop("Webhook token (or the bot's webhook address)")),
    "secret": string(gettext_noop("Signing secret"), ""),
    "base_url": string(gettext_noop("Server address"), "https://open.feishu.cn", format="uri"),
}, required=["token"])


def sign(secret: str, timestamp: int) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def build(messages: Sequence[Message], omitted: int) -> dict:
    severity = worst(messages)
    single = len(messages) == 1 and not omitted
    elements: list[dict] = [{"tag": "markdown", "content": digest_markdown(messages, omitted, link=not single)}]
    if single and messages[0].url:
        elements.append({"tag": "action", "actions": [{
            "tag": "button", "type": "primary", "url": messages[0].url,
            "text": {"tag": "plain_text", "content": messages[0].url_label}}]})
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": title_of(messages, omitted)},
                   "template": TEMPLATE[severity]},
        "elements": elements}}


def send(config: dict, messages: list[Message], *, client: httpx.Client, now: float) -> SendResult:
    secret = config.get("secret") or ""
    timestamp = int(now)
    stamp = {"timestamp": str(timestamp), "sign": sign(secret, timestamp)} if secret else {}
    body, delivered = fit(messages, lambda items, omitted: {**stamp, **build(items, omitted)})
    hook = token(config["token"])
    base = str(setting(config, "base_url", SCHEMA)).rstrip("/")
    response = post(client, f"{base}/open-apis/bot/v2/hook/{urllib.parse.quote(hook, safe='')}", body,
                    hide=(secret, hook))
    if isinstance(response, SendResult):
        return response
    data = answer(response)
    code = data.get("code", data.get("StatusCode"))
    detail = str(data.get("msg", data.get("StatusMessage", "")))[:500]
    if response.status_code == 200 and code == 0:
        return SendResult(ok=True, status=200, vendor_code=0, detail=detail, delivered=delivered)
    limited = code == RATE_LIMITED or response.status_code == 429
    return SendResult(ok=False, status=response.status_code, vendor_code=code, detail=detail or response.reason_phrase,
                      retry_after=retry_after_header(response, RETRY_AFTER) if limited else None)


CHANNEL = ChannelType(
    name="feishu",
    label=gettext_noop("Feishu / Lark bot"),
    send=send,
    config_schema=SCHEMA,
    limits=(Window(100, 60.0), Window(5, 1.0)),
    destination=lambda config: fingerprint("feishu", token(config.get("token", ""))),
    secrets=("token", "secret"),
)
