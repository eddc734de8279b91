"""The vendors' callback cryptography, written from their documentation (each function names
its source) with the `cryptography` package's AES.

- DingTalk: sign = base64(HMAC-SHA256(key=appSecret, msg=f"{timestamp}\\n{appSecret}")).
- Feishu / Lark: key = SHA-256(Encrypt Key); body = base64(iv16 + AES-256-CBC(PKCS#7));
  X-Lark-Signature = sha256_hex(timestamp + nonce + Encrypt Key + raw body).
- WeCom: key = base64decode(EncodingAESKey + "="), iv = key[:16], AES-256-CBC with PKCS#7 padding
  to 32 bytes; plaintext = random16 + 4-byte big-endian length + msg + receiveid;
  msg_signature = sha1(''.join(sorted([token, timestamp, nonce, encrypt]))).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class CryptoError(ValueError):
    """The ciphertext is not one this key made (wrong key, cut, or tampered with)."""


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("not base64") from None


def _cbc(key: bytes, iv: bytes, data: bytes, *, decrypt: bool) -> bytes:
    if not data or len(data) % 16:
        raise CryptoError("the ciphertext is not a whole number of AES blocks")
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    worker = cipher.decryptor() if decrypt else cipher.encryptor()
    return worker.update(data) + worker.finalize()


def _unpad(data: bytes, block: int) -> bytes:
    pad = data[-1] if data else 0
    if not 1 <= pad <= block or pad > len(data) or data[-pad:] != bytes([pad]) * pad:
        raise CryptoError("bad padding")
    return data[:-pad]


def _pad(data: bytes, block: int) -> bytes:
    pad = block - len(data) % block
    return data + bytes([pad]) * pad


# --- DingTalk -----------------------------------------------------------------------------------

def dingtalk_sign(timestamp: str, app_secret: str) -> str:
    """The `sign` header of a robot's callback (DingTalk, 企业内部机器人接收消息: the same
    computation as a custom robot's signature, without URL encoding)."""
    digest = hmac.new(app_secret.encode("utf-8"), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


# --- Feishu / Lark ------------------------------------------------------------------------------

def feishu_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """X-Lark-Signature (Feishu 事件订阅 安全校验; the SDK's EventDispatcherHandler._verify_sign)."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()


def _feishu_key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode("utf-8")).digest()


def feishu_decrypt(encrypt_key: str, encrypted: str) -> bytes:
    raw = _b64decode(encrypted)
    if len(raw) < 32:
        raise CryptoError("too short")
    return _unpad(_cbc(_feishu_key(encrypt_key), raw[:16], raw[16:], decrypt=True), 16)


def feishu_encrypt(encrypt_key: str, plain: bytes, iv: bytes | None = None) -> str:
    """What Feishu sends (for tests and tools: opsdesk itself only decrypts)."""
    iv = iv or os.urandom(16)
    return base64.b64encode(iv + _cbc(_feishu_key(encrypt_key), iv, _pad(plain, 16), decrypt=False)).decode()


# --- WeCom --------------------------------------------------------------------------------------

WECOM_BLOCK = 32  # WeCom pads to 32 bytes (its PKCS7Encoder.block_size), not AES's 16


def wecom_key(encoding_aes_key: str) -> bytes:
    """The AES key of an EncodingAESKey (43 characters of base64 without its "=")."""
    if len(encoding_aes_key) != 43:
        raise CryptoError("an EncodingAESKey has 43 characters")
    key = _b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise CryptoError("an EncodingAESKey decodes to 32 bytes")
    return key


def wecom_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """msg_signature (WeCom 加解密方案说明; WXBizMsgCrypt's SHA1.getSHA1)."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode("utf-8")).hexdigest()


def wecom_decrypt(encoding_aes_key: str, encrypted: str) -> tuple[bytes, str]:
    """The message and the receiveid it was encrypted for (WXBizMsgCrypt's Prpcrypt.decrypt)."""
    key = wecom_key(encoding_aes_key)
    plain = _unpad(_cbc(key, key[:16], _b64decode(encrypted), decrypt=True), WECOM_BLOCK)
    if len(plain) < 20:
        raise CryptoError("too short")
    length = int.from_bytes(plain[16:20], "big")
    if 20 + length > len(plain):
        raise CryptoError("the length field is longer than the message")
    try:
        receive_id = plain[20 + length:].decode("utf-8")
    except UnicodeDecodeError:
        raise CryptoError("the receiver id is not text") from None
    return plain[20:20 + length], receive_id


def wecom_encrypt(encoding_aes_key: str, message: bytes, receive_id: str, random16: bytes | None = None) -> str:
    """What WeCom sends (for tests and tools; also the shape of an encrypted passive reply)."""
    key = wecom_key(encoding_aes_key)
    random16 = random16 or os.urandom(16)
    plain = random16 + len(message).to_bytes(4, "big") + message + receive_id.encode("utf-8")
    return base64.b64encode(_cbc(key, key[:16], _pad(plain, WECOM_BLOCK), decrypt=False)).decode("ascii")
