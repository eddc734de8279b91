"""WeCom group robot (企业微信群机器人): a Markdown message. There is no signature: the webhook key
is the secret.

POST {base_url}/cgi-bin/webhook/send?key=…; WeCom allows 20 messages a minute per robot (errcode
45009 when more come) and Markdown content of at most 4,096 bytes.
"""

from __future__ import annotations

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

RATE_LIMITED = 45009  # "api freq out of limit"
RETRY_AFTER = 60.0
MAX_CONTENT = 4096  # bytes of markdown.content, UTF-8

SCHEMA = schema({
    "key": string(gettext_noop("Webhook key (or the robot's webhook address)")),
    "base_url": string(gettext_noop("Server address"), "https://qyapi.weixin.qq.com", format="uri"),
}, required=["key"])


def build(messages: Sequence[Message], omitted: int) -> dict:
    # WeCom's Markdown has no separate title: it leads the content.
    content = f"**{title_of(messages, omitted)}**\n\n" if len(messages) + omitted > 1 else ""
    return {"msgtype": "markdown", "markdown": {"content": content + digest_markdown(messages, omitted)}}


def _content_size(payload: dict, body: bytes) -> int:
    content = len(payload["markdown"]["content"].encode("utf-8"))
    return len(body) if content <= MAX_CONTENT else 10**9


def send(config: dict, messages: list[Message], *, client: httpx.Client, now: float) -> SendResult:
    body, delivered = fit(messages, build, measure=_content_size)
    key = token(config["key"], "key")
    base = str(setting(config, "base_url", SCHEMA)).rstrip("/")
    response = post(client, f"{base}/cgi-bin/webhook/send?key={urllib.parse.quote(key, safe='')}", body, hide=(key,))
    if isinstance(response, SendResult):
        return response
    data = answer(response)
    code = data.get("errcode")
    detail = str(data.get("errmsg", ""))[:500]
    if response.status_code == 200 and code == 0:
        return SendResult(ok=True, status=200, vendor_code=0, detail=detail, delivered=delivered)
    return SendResult(ok=False, status=response.status_code, vendor_code=code, detail=detail or response.reason_phrase,
                      retry_after=RETRY_AFTER if code == RATE_LIMITED else None)


CHANNEL = ChannelType(
    name="wecom",
    label=gettext_noop("WeCom group robot"),
    send=send,
    config_schema=SCHEMA,
    limits=(Window(20, 60.0),),
    destination=lambda config: fingerprint("wecom", token(config.get("key", ""), "key")),
    secrets=("key",),
)
