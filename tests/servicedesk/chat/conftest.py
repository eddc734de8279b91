"""The chat vendors for the tests: a stand-in for their APIs on 127.0.0.1 (records each request,
answers by path), and callbacks built the way each vendor's documentation builds them — signed
and encrypted here with the standard library and `cryptography`, independently of opsdesk's code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from opsdesk.servicedesk.chat import feishu
from opsdesk.servicedesk.chat.services import create_integration

DINGTALK_SECRET = "gJhW7ZqS0x-AppSecret-of-the-robot_2Yk9"
FEISHU = {"app_secret": "feishu-app-secret-42", "verification_token": "l802sPhp2r1AMSPDTaJc5eYZOEnKyp",
          "encrypt_key": "feishu-encrypt-key-xyz"}
WECOM = {"token": "QDG6eK", "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}


@dataclass
class Request:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Vendor:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.replies: dict[str, list[tuple[int, dict]]] = {}
        self.lock = threading.Lock()
        self.base_url = ""

    def reply(self, path: str, status: int, body: dict) -> None:
        self.replies.setdefault(path, []).append((status, body))

    def answer(self, path: str) -> tuple[int, dict]:
        queued = self.replies.get(path)
        if queued:
            return queued.pop(0)
        if path.endswith("/tenant_access_token/internal"):
            return 200, {"code": 0, "msg": "ok", "tenant_access_token": "t-g1044ghJRUIJJ5ELPPHWTE5", "expire": 7200}
        return 200, {"code": 0, "msg": "success", "errcode": 0, "errmsg": "ok"}

    def posted(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture(scope="session")
def vendor_server():
    vendor = Vendor()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            path, _, raw_query = self.path.partition("?")
            with vendor.lock:
                vendor.requests.append(Request("POST", path, raw_query,
                                               {k.lower(): v for k, v in self.headers.items()}, body))
                status, answer = vendor.answer(path)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    vendor.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield vendor
    server.shutdown()
    server.server_close()


@pytest.fixture
def vendor(vendor_server):
    with vendor_server.lock:
        vendor_server.requests.clear()
        vendor_server.replies.clear()
    feishu.forget_tokens()
    return vendor_server


# --- integrations ------------------------------------------------------------------------------

def make_integration(kind: str, vendor: Vendor, customer=None, **extra):
    if kind == "dingtalk":
        config, secrets = {"api_base": vendor.base_url}, {"app_secret": DINGTALK_SECRET}
    elif kind == "feishu":
        config, secrets = {"app_id": "cli_9f5343c580712544", "api_base": vendor.base_url}, dict(FEISHU)
    else:
        config, secrets = {"api_base": vendor.base_url, "receive_id": ""}, dict(WECOM)
    config.update(extra.pop("config", {}))
    return create_integration({"name": f"{kind} bot {customer or ''}".strip(), "kind": kind, "customer": customer,
                               "config": config, "secrets": secrets, **extra}, actor=None)


def callback_url(integration) -> str:
    return f"/api/servicedesk/chat/{integration.kind}/{integration.url_token}/"


# --- DingTalk: POST JSON with the headers timestamp and sign ------------------------------------

def dingtalk_payload(vendor: Vendor, text: str, *, msg_id: str, conversation: str = "cidGroupA==",
                     title: str = "阿尔法运维群", at: bool = True, expires_ms: int | None = None,
                     conversation_type: str = "2") -> dict:
    return {
        "conversationId": conversation, "atUsers": [{"dingtalkId": "$:LWCP_v1:$robot"}],
        "chatbotCorpId": "dinge8a565a", "chatbotUserId": "$:LWCP_v1:$robot", "msgId": msg_id,
        "senderNick": "张三", "isAdmin": False, "senderStaffId": "manager4220",
        "sessionWebhookExpiredTime": expires_ms if expires_ms is not None else int(time.time() * 1000) + 5_400_000,
        "createAt": int(time.time() * 1000), "senderCorpId": "dinge8a565a", "conversationType": conversation_type,
        "senderId": "$:LWCP_v1:$sender", "conversationTitle": title, "isInAtList": at,
        "sessionWebhook": f"{vendor.base_url}/robot/sendBySession?session=c5e0b4f1", "text": {"content": f" {text}"},
        "robotCode": "dingrobot", "msgtype": "text"}


def dingtalk_headers(timestamp_ms: int | None = None, secret: str = DINGTALK_SECRET) -> dict:
    """DingTalk's documented computation: HmacSHA256 of "timestamp\\nappSecret" keyed with the
    appSecret, Base64-encoded."""
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    string_to_sign = f"{timestamp}\n{secret}"
    sign = base64.b64encode(hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"),
                                     digestmod=hashlib.sha256).digest()).decode()
    return {"HTTP_TIMESTAMP": timestamp, "HTTP_SIGN": sign}


def post_dingtalk(client, integration, payload: dict, **headers):
    return client.post(callback_url(integration), data=json.dumps(payload, ensure_ascii=False),
                       content_type="application/json", **(headers or dingtalk_headers()))


# --- Feishu: {"encrypt": base64(iv + AES-256-CBC(sha256(key)))} and X-Lark-* headers ----------

def feishu_encrypt(encrypt_key: str, plain: bytes) -> str:
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    iv = os.urandom(16)
    pad = 16 - len(plain) % 16
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()


def feishu_event(text: str, *, message_id: str, chat_id: str = "oc_5ce6d572455d361153b7cb51da133945",
                 token: str = FEISHU["verification_token"], chat_type: str = "group", mention: bool = True) -> dict:
    mentions = [{"key": "@_user_1", "id": {"open_id": "ou_bot", "union_id": "on_bot", "user_id": ""},
                 "name": "运维机器人", "tenant_key": "736588c9260f175e"}] if mention else []
    return {"schema": "2.0",
            "header": {"event_id": f"ev-{message_id}", "event_type": "im.message.receive_v1",
                       "create_time": "1608725989000", "token": token, "app_id": "cli_9f5343c580712544",
                       "tenant_key": "736588c9260f175e"},
            "event": {"sender": {"sender_id": {"union_id": "on_8ed6aa67826108097d9ee143816345",
                                               "user_id": "e33ggbyz", "open_id": "ou_84aad35d084aa403a838cf73ee18467"},
                                 "sender_type": "user", "tenant_key": "736588c9260f175e"},
                      "message": {"message_id": message_id, "create_time": "1609073151345", "chat_id": chat_id,
                                  "chat_type": chat_type, "message_type": "text",
                                  "content": json.dumps({"text": ("@_user_1 " if mention else "") + text},
                                                        ensure_ascii=False),
                                  "mentions": mentions}}}


def post_feishu(client, integration, event: dict, *, encrypt_key: str = FEISHU["encrypt_key"],
                timestamp: str | None = None, nonce: str = "cdd8ab8f-4e51", signature: str | None = None):
    body = json.dumps({"encrypt": feishu_encrypt(encrypt_key, json.dumps(event, ensure_ascii=False).encode())})
    timestamp = timestamp or str(int(time.time()))
    # Feishu's documented signature: sha256 of timestamp + nonce + encrypt_key + body, hex.
    expected = hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body.encode("utf-8")).hexdigest()
    return client.post(callback_url(integration), data=body, content_type="application/json",
                       HTTP_X_LARK_REQUEST_TIMESTAMP=timestamp, HTTP_X_LARK_REQUEST_NONCE=nonce,
                       HTTP_X_LARK_SIGNATURE=signature or expected)


# --- WeCom: ?msg_signature&timestamp&nonce and {"encrypt": …} -------------------------------------

def wecom_encrypt(encoding_aes_key: str, message: bytes, receive_id: str) -> str:
    key = base64.b64decode(encoding_aes_key + "=")
    plain = os.urandom(16) + len(message).to_bytes(4, "big") + message + receive_id.encode()
    pad = 32 - len(plain) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()


def wecom_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def wecom_message(vendor: Vendor, text: str, *, msgid: str, chatid: str = "wrkSFfCgAAtMQKg4xqDatM5C9IDHFpTw",
                  chattype: str = "group") -> dict:
    return {"msgid": msgid, "aibotid": "AIBOTID", "chatid": chatid, "chattype": chattype,
            "from": {"userid": "zhangsan"}, "response_url": f"{vendor.base_url}/cgi-bin/aibot/response?code=r{msgid}",
            "msgtype": "text", "text": {"content": f"@运维机器人 {text}"}}


def post_wecom(client, integration, message: dict, *, receive_id: str = "", timestamp: str | None = None,
               nonce: str = "1372623149", token: str = WECOM["token"], signature: str | None = None):
    encrypted = wecom_encrypt(WECOM["encoding_aes_key"], json.dumps(message, ensure_ascii=False).encode(), receive_id)
    timestamp = timestamp or str(int(time.time()))
    query = urllib.parse.urlencode({"msg_signature": signature or wecom_signature(token, timestamp, nonce, encrypted),
                                    "timestamp": timestamp, "nonce": nonce})
    return client.post(f"{callback_url(integration)}?{query}", data=json.dumps({"encrypt": encrypted}),
                       content_type="application/json")
