"""Feishu / Lark: an app with a bot, subscribed to im.message.receive_v1 (event subscription 2.0).

With an Encrypt Key (opsdesk requires one: without it nothing is signed) Feishu posts
{"encrypt": base64(iv16 + AES-256-CBC(key=SHA-256(Encrypt Key), PKCS#7))} and the headers
X-Lark-Request-Timestamp, X-Lark-Request-Nonce and X-Lark-Signature =
sha256_hex(timestamp + nonce + Encrypt Key + raw body). Inside, the Verification Token is
`header.token` (schema 2.0) or `token` (1.0). The URL check is {"type": "url_verification",
"challenge": …, "token": …}, answered with {"challenge": …} (the token and the decryption
authenticate it; Feishu's own SDK checks no signature there either).

A message's `content` is JSON text ({"text": "@_user_1 hello"}); `mentions` maps each
"@_user_N" to who was mentioned. A bot receives a group's messages only when @-mentioned,
unless the app may read all of them; with `bot_open_id` set, opsdesk takes only messages
that mention that bot.

Answers: POST {api_base}/open-apis/im/v1/messages/{message_id}/reply with a tenant_access_token
from POST /open-apis/auth/v3/tenant_access_token/internal {app_id, app_secret}, kept in memory
until five minutes before it expires. The outbox row's key goes as `uuid` (Feishu sends one
message per uuid within an hour, so a retry after a lost answer does not post twice)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping

import httpx

from .base import (
    Callback,
    Handshake,
    Ignored,
    Incoming,
    Refused,
    SendResult,
    Target,
    Vendor,
    answer_json,
    check_skew,
    post,
)
from .base import header as header_of
from .crypto import CryptoError, feishu_decrypt, feishu_signature, same

RATE_LIMITED = (11232, 230020)  # frequency limited (robot / chat)
TOKEN_INVALID = (99991663, 99991661, 99991668)

_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def _json(raw: bytes) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        raise Refused(400, "The body is not JSON.") from None
    if not isinstance(data, dict):
        raise Refused(400, "The body is not a JSON object.")
    return data


def receive(settings: Mapping[str, str], callback: Callback) -> Incoming | Handshake | Ignored:
    if callback.method != "POST":
        raise Refused(400, "Feishu calls back with POST.")
    outer = _json(callback.body)
    if not isinstance(outer.get("encrypt"), str):
        raise Refused(401, "The body is not encrypted with the Encrypt Key.")
    try:
        plain = _json(feishu_decrypt(settings["encrypt_key"], outer["encrypt"]))
    except CryptoError:
        raise Refused(401, "The body cannot be decrypted with the Encrypt Key.") from None
    head = plain.get("header") if isinstance(plain.get("header"), dict) else {}
    token = str(head.get("token") if plain.get("schema") else plain.get("token") or "")
    if not same(token, settings["verification_token"]):
        raise Refused(401, "The verification token does not match.")
    if plain.get("type") == "url_verification":
        return Handshake("application/json", json.dumps({"challenge": str(plain.get("challenge", ""))}).encode())
    timestamp, nonce = header_of(callback, "X-Lark-Request-Timestamp"), header_of(callback, "X-Lark-Request-Nonce")
    signature = header_of(callback, "X-Lark-Signature")
    if not (timestamp and nonce and signature):
        raise Refused(401, "The X-Lark-Request-Timestamp, X-Lark-Request-Nonce and X-Lark-Signature headers are "
                           "required.")
    try:
        check_skew(float(timestamp), callback.now)
    except ValueError:
        raise Refused(401, "X-Lark-Request-Timestamp is not a number of seconds.") from None
    if not same(signature, feishu_signature(timestamp, nonce, settings["encrypt_key"], callback.body)):
        raise Refused(401, "X-Lark-Signature does not match.")
    if head.get("event_type") != "im.message.receive_v1":
        return Ignored(f"event {head.get('event_type') or plain.get('type') or '?'}")
    return _message(settings, plain.get("event") if isinstance(plain.get("event"), dict) else {})


def _message(settings: Mapping[str, str], event: dict) -> Incoming:
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
    ids = sender.get("sender_id") if isinstance(sender.get("sender_id"), dict) else {}
    if not message.get("message_id") or not message.get("chat_id"):
        raise Refused(400, "The message has no message_id or chat_id.")
    mentions = [m for m in message.get("mentions") or [] if isinstance(m, dict)]
    bot = settings.get("bot_open_id", "")

    def is_bot(mention: dict) -> bool:
        mentioned = mention.get("id") if isinstance(mention.get("id"), dict) else {}
        return bool(bot) and mentioned.get("open_id") == bot

    text = ""
    if message.get("message_type") == "text":
        try:
            content = json.loads(message.get("content") or "{}")
        except ValueError:
            content = {}
        text = str(content.get("text", "")) if isinstance(content, dict) else ""
        # "@_user_1" stands for a mention: the bot's own goes, people keep their name.
        for mention in mentions:
            key = str(mention.get("key") or "")
            if key:
                text = text.replace(key, "" if is_bot(mention) or not bot else f"@{mention.get('name', '')}")
    return Incoming(
        message_id=str(message["message_id"]), conversation_id=str(message["chat_id"]), text=text.strip(),
        is_group=message.get("chat_type") == "group",
        addressed=any(is_bot(m) for m in mentions) if bot else bool(mentions),
        sender_id=str(ids.get("user_id") or ids.get("open_id") or ""), sender_name="",
        kind=str(message.get("message_type") or ""))


def tenant_token(settings: Mapping[str, str], client: httpx.Client) -> str | SendResult:
    base = settings["api_base"].rstrip("/")
    cache_key = (base, settings["app_id"])
    with _tokens_lock:
        cached = _tokens.get(cache_key)
    if cached and cached[1] > time.time():
        return cached[0]
    response = post(client, f"{base}/open-apis/auth/v3/tenant_access_token/internal",
                    {"app_id": settings["app_id"], "app_secret": settings["app_secret"]},
                    hide=(settings["app_secret"],))
    if isinstance(response, SendResult):
        return response
    data = answer_json(response)
    token = data.get("tenant_access_token")
    if response.status_code != 200 or data.get("code") != 0 or not isinstance(token, str):
        return SendResult(ok=False, status=response.status_code,
                          detail=f"tenant_access_token: [{data.get('code')}] {data.get('msg', '')}"[:500])
    expire = data.get("expire") if isinstance(data.get("expire"), int) else 7200
    with _tokens_lock:
        _tokens[cache_key] = (token, time.time() + max(60, expire - 300))
    return token


def forget_tokens() -> None:
    with _tokens_lock:
        _tokens.clear()


def send(settings: Mapping[str, str], target: Target, text: str, *, key: str, client: httpx.Client) -> SendResult:
    token = tenant_token(settings, client)
    if isinstance(token, SendResult):
        return token
    base = settings["api_base"].rstrip("/")
    response = post(client, f"{base}/open-apis/im/v1/messages/{target.message_id}/reply",
                    {"msg_type": "text", "content": json.dumps({"text": text}, ensure_ascii=False), "uuid": key[:50]},
                    headers={"Authorization": f"Bearer {token}"}, hide=(token,))
    if isinstance(response, SendResult):
        return response
    data = answer_json(response)
    code = data.get("code")
    detail = f"[{code}] {data.get('msg', '')}"[:500] if code is not None else response.reason_phrase
    if response.status_code == 200 and code == 0:
        return SendResult(ok=True, status=200, detail=detail)
    if code in TOKEN_INVALID:
        forget_tokens()
    limited = code in RATE_LIMITED or response.status_code == 429
    return SendResult(ok=False, status=response.status_code, detail=detail, retry_after=60.0 if limited else None)


def check(settings: Mapping[str, str]) -> dict[str, str]:
    return {} if settings.get("app_id") else {"app_id": "cli_…"}


VENDOR = Vendor(kind="feishu", secrets=("app_secret", "verification_token", "encrypt_key"),
                settings={"app_id": "", "api_base": "https://open.feishu.cn", "bot_open_id": ""},
                required=("app_secret", "verification_token", "encrypt_key"), receive=receive, send=send,
                check=check, replies_by_message_id=True)
