"""DingTalk: the robot of an internal app (企业内部应用机器人), receiving group @-mentions by HTTP.

A callback is POST JSON with the headers `timestamp` (milliseconds) and `sign` =
base64(HMAC-SHA256(key=appSecret, msg=f"{timestamp}\\n{appSecret}")). It is refused when the
timestamp is more than an hour from now or the sign differs (constant-time compare). The sign
covers the timestamp only, not the body, so a sign already used for another message is a replay
(the intake refuses it). The body holds msgId, conversationId, conversationType ("1" one-to-one,
"2" group), conversationTitle, senderNick, senderStaffId / senderId, text.content, isInAtList,
and sessionWebhook + sessionWebhookExpiredTime (ms): the URL that posts into the conversation
without further signing, until it expires.

Answers: POST {"msgtype": "text", "text": {"content": …}} to the session webhook while it is
valid; after that, through the group's own robot (a notify channel of type dingtalk)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from .base import (
    Callback,
    Ignored,
    Incoming,
    Refused,
    SendResult,
    Target,
    Vendor,
    answer_json,
    check_skew,
    header,
    post,
)
from .crypto import dingtalk_sign, same

RATE_LIMITED = 130101  # "send too fast": the robot is blocked for 10 minutes
BLOCKED_FOR = 600.0


def receive(settings: Mapping[str, str], callback: Callback) -> Incoming | Ignored:
    if callback.method != "POST":
        raise Refused(400, "DingTalk calls back with POST.")
    timestamp, sign = header(callback, "timestamp"), header(callback, "sign")
    if not timestamp or not sign:
        raise Refused(401, "The timestamp and sign headers are required.")
    try:
        millis = int(timestamp)
    except ValueError:
        raise Refused(401, "The timestamp header is not a number of milliseconds.") from None
    check_skew(millis / 1000, callback.now)
    if not same(sign, dingtalk_sign(timestamp, settings["app_secret"])):
        raise Refused(401, "The sign header does not match.")
    try:
        data = json.loads(callback.body)
    except ValueError:
        raise Refused(400, "The body is not JSON.") from None
    if not isinstance(data, dict) or not data.get("msgId") or not data.get("conversationId"):
        raise Refused(400, "The body has no msgId or conversationId.")
    msgtype = str(data.get("msgtype") or "text")
    text = data.get("text") if isinstance(data.get("text"), dict) else {}
    expires = data.get("sessionWebhookExpiredTime")
    return Incoming(
        message_id=str(data["msgId"]), conversation_id=str(data["conversationId"]),
        conversation_title=str(data.get("conversationTitle") or ""), text=str(text.get("content") or "").strip(),
        is_group=str(data.get("conversationType")) == "2",
        # In a group the robot is only called when @-mentioned; isInAtList says so explicitly.
        addressed=data.get("isInAtList") is not False,
        sender_id=str(data.get("senderStaffId") or data.get("senderId") or ""),
        sender_name=str(data.get("senderNick") or ""), signature=sign,
        reply_url=str(data.get("sessionWebhook") or ""),
        reply_url_expires_at=int(expires) / 1000 if isinstance(expires, int | str) and str(expires).isdigit()
        else None, kind=msgtype)


def send(settings: Mapping[str, str], target: Target, text: str, *, key: str, client: httpx.Client) -> SendResult:
    if not target.reply_url:
        return SendResult(ok=False, detail="no session webhook")
    response = post(client, target.reply_url, {"msgtype": "text", "text": {"content": text}},
                    hide=(target.reply_url,))
    if isinstance(response, SendResult):
        return response
    data = answer_json(response)
    code = data.get("errcode")
    detail = f"[{code}] {data.get('errmsg', '')}"[:500] if code is not None else response.reason_phrase
    if response.status_code == 200 and code == 0:
        return SendResult(ok=True, status=200, detail=detail)
    return SendResult(ok=False, status=response.status_code, detail=detail,
                      retry_after=BLOCKED_FOR if code == RATE_LIMITED else None)


def check(settings: Mapping[str, str]) -> dict[str, str]:
    base = settings.get("api_base", "")
    return {} if base.startswith(("https://", "http://")) else {"api_base": "https://…"}


VENDOR = Vendor(kind="dingtalk", secrets=("app_secret",), settings={"api_base": "https://oapi.dingtalk.com"},
                required=("app_secret",), receive=receive, send=send, check=check)
