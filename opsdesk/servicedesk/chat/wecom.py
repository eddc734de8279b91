"""WeCom (企业微信): a smart robot (智能机器人, API mode) in the customer's group chat.

WeCom's documented way for a bot to be @-mentioned in a group and receive the message is the
smart robot: the group's @-mentions (and one-to-one chats) are posted to the robot's URL. (A
self-built app receives only what is sent to the app itself, and a group robot's webhook only
sends.) The callback is WeCom's usual scheme:
- URL check: GET ?msg_signature&timestamp&nonce&echostr; the answer is echostr decrypted.
- Messages: POST ?msg_signature&timestamp&nonce with the JSON body {"encrypt": …} (a self-built
  app's XML <Encrypt> is read too).
- msg_signature = sha1(''.join(sorted([token, timestamp, nonce, encrypt]))); AES-256-CBC with
  key = base64decode(EncodingAESKey + "="), iv = key[:16], PKCS#7 to 32 bytes; the plaintext is
  random16 + 4-byte big-endian length + msg + receiveid, and the receiveid must be the configured
  one ("" for an internal smart robot, as WeCom documents; the corp id for an app).
The message (JSON) holds msgid, aibotid, chatid, chattype ("group" / "single"), from.userid,
msgtype, text.content ("@robot …") and response_url: a URL that takes one answer within an hour.

Answers: the acknowledgement goes to response_url (POST {"msgtype": "markdown", …}); the desk's
later replies go through the group's own robot (a notify channel of type wecom, its webhook key),
because a response_url serves once."""

from __future__ import annotations

import json
import re
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
from .crypto import CryptoError, same, wecom_decrypt, wecom_key, wecom_signature

RESPONSE_URL_SECONDS = 3600  # a response_url is valid for an hour
RATE_LIMITED = 45009
_ENCRYPT_XML = re.compile(rb"<Encrypt>\s*<!\[CDATA\[([A-Za-z0-9+/=]+)\]\]>\s*</Encrypt>")
_LEADING_MENTION = re.compile(r"^\s*@\S+\s*")


def _verified(settings: Mapping[str, str], callback: Callback, encrypted: str) -> bytes:
    signature = callback.query.get("msg_signature", "")
    timestamp, nonce = callback.query.get("timestamp", ""), callback.query.get("nonce", "")
    if not (signature and timestamp and nonce and encrypted):
        raise Refused(401, "msg_signature, timestamp, nonce and the encrypted message are required.")
    try:
        check_skew(float(timestamp), callback.now)
    except ValueError:
        raise Refused(401, "The timestamp is not a number of seconds.") from None
    if not same(signature, wecom_signature(settings["token"], timestamp, nonce, encrypted)):
        raise Refused(401, "msg_signature does not match.")
    try:
        message, receive_id = wecom_decrypt(settings["encoding_aes_key"], encrypted)
    except CryptoError:
        raise Refused(401, "The message cannot be decrypted with the EncodingAESKey.") from None
    if not same(receive_id, settings.get("receive_id", "")):
        raise Refused(403, "The message was encrypted for another receiver.")
    return message


def receive(settings: Mapping[str, str], callback: Callback) -> Incoming | Handshake | Ignored:
    if callback.method == "GET":
        return Handshake("text/plain", _verified(settings, callback, callback.query.get("echostr", "")))
    body = callback.body.strip()
    if body.startswith(b"<"):
        found = _ENCRYPT_XML.search(body)
        encrypted = found.group(1).decode("ascii") if found else ""
    else:
        try:
            outer = json.loads(body)
        except ValueError:
            raise Refused(400, "The body is neither JSON nor XML.") from None
        encrypted = outer.get("encrypt") if isinstance(outer, dict) and isinstance(outer.get("encrypt"), str) else ""
    plain = _verified(settings, callback, encrypted)
    if plain.lstrip().startswith(b"<"):
        return Ignored("an app message, not a smart robot's")
    try:
        data = json.loads(plain)
    except ValueError:
        raise Refused(400, "The decrypted message is not JSON.") from None
    if not isinstance(data, dict) or not data.get("msgid"):
        raise Refused(400, "The message has no msgid.")
    if data.get("msgtype") == "event":
        return Ignored("event")
    sender = data.get("from") if isinstance(data.get("from"), dict) else {}
    text = data.get("text") if isinstance(data.get("text"), dict) else {}
    is_group = data.get("chattype") == "group"
    user = str(sender.get("userid") or "")
    return Incoming(
        message_id=str(data["msgid"]), conversation_id=str(data.get("chatid") or user),
        text=_LEADING_MENTION.sub("", str(text.get("content") or ""), count=1).strip() if is_group
        else str(text.get("content") or "").strip(),
        # A smart robot receives a group's messages only when @-mentioned.
        is_group=is_group, addressed=True, sender_id=user, sender_name=user,
        reply_url=str(data.get("response_url") or ""),
        reply_url_expires_at=callback.now + RESPONSE_URL_SECONDS, kind=str(data.get("msgtype") or ""))


def send(settings: Mapping[str, str], target: Target, text: str, *, key: str, client: httpx.Client) -> SendResult:
    if not target.reply_url:
        return SendResult(ok=False, detail="no response_url")
    response = post(client, target.reply_url, {"msgtype": "markdown", "markdown": {"content": text}},
                    hide=(target.reply_url,))
    if isinstance(response, SendResult):
        return response
    data = answer_json(response)
    code = data.get("errcode")
    detail = f"[{code}] {data.get('errmsg', '')}"[:500] if code is not None else response.reason_phrase
    if response.status_code == 200 and code == 0:
        return SendResult(ok=True, status=200, detail=detail)
    return SendResult(ok=False, status=response.status_code, detail=detail,
                      retry_after=60.0 if code == RATE_LIMITED else None)


def check(settings: Mapping[str, str]) -> dict[str, str]:
    try:
        wecom_key(settings.get("encoding_aes_key", ""))
    except CryptoError:
        return {"encoding_aes_key": "43"}
    return {}


VENDOR = Vendor(kind="wecom", secrets=("token", "encoding_aes_key"),
                settings={"receive_id": "", "api_base": "https://qyapi.weixin.qq.com"},
                required=("token", "encoding_aes_key"), receive=receive, send=send, check=check,
                reply_url_single_use=True, empty_answer=True)
