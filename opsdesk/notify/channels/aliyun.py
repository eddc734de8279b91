"""Aliyun's RPC-style API call, signed as the SMS (Dysms) and voice (Dyvms) documentation shows it.

Those two APIs are RPC style, and their "签名机制" pages document signature version 1.0
(HMAC-SHA1) with a worked SendSms example (AccessKeyId testId, secret testSecret, …, Signature
zJDF+Lrzhj/ThnlvIToysFRq6t4=), which tests/notify/test_aliyun_channels.py reproduces byte for
byte. The newer ACS3-HMAC-SHA256 is accepted too, but the per-product pages show this one.

    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params))   # Signature excluded
    string_to_sign = "GET&" + enc("/") + "&" + enc(canonical)
    Signature = base64(HMAC-SHA1(key=AccessKeySecret + "&", msg=string_to_sign))

where enc is RFC 3986 percent-encoding in UTF-8 (A-Z a-z 0-9 - _ . ~ kept, a space as %20). The
request is `GET {endpoint}/?Signature=…&{canonical}`, as in the documented example.

Why not the SDK: alibabacloud_dysmsapi20170525 + dyvmsapi20170525 would add 19 packages to this
project's venv (aiohttp and six helpers of it, aiofiles, APScheduler, websocket-client, the Tea
framework and Aliyun's credential providers), 28 MB installed, to sign one GET request; measured
with `pip install --dry-run` here and an install into a fresh venv.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import urllib.parse
import uuid

import httpx

from .base import TIMEOUT, SendResult, answer, scrub

SIGNATURE_METHOD = "HMAC-SHA1"
SIGNATURE_VERSION = "1.0"
MINUTE, HOUR = 60.0, 3600.0
CHINA = 8 * 3600  # Aliyun's daily limits restart at midnight Beijing time (UTC+8)


def encode(value: str) -> str:
    """RFC 3986 percent-encoding: what Aliyun's "percentEncode" yields."""
    return urllib.parse.quote(value, safe="~")


def canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: dict[str, str]) -> str:
    return f"{method}&{encode('/')}&{encode(canonical_query(params))}"


def signature(secret: str, method: str, params: dict[str, str]) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def timestamp(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_url(endpoint: str, access_key_id: str, secret: str, action: str, version: str, params: dict[str, str],
               *, now: float, nonce: str | None = None, region: str = "cn-hangzhou", fmt: str = "JSON") -> str:
    """The GET URL of one call, the common parameters added and signed."""
    full = {"AccessKeyId": access_key_id, "Action": action, "Format": fmt, "RegionId": region,
            "SignatureMethod": SIGNATURE_METHOD, "SignatureNonce": nonce or str(uuid.uuid4()),
            "SignatureVersion": SIGNATURE_VERSION, "Timestamp": timestamp(now), "Version": version, **params}
    return f"{endpoint.rstrip('/')}/?Signature={encode(signature(secret, 'GET', full))}&{canonical_query(full)}"


def call(client: httpx.Client, url: str, *, hide: tuple[str, ...]) -> httpx.Response | SendResult:
    try:
        return client.get(url, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return SendResult(ok=False, status=0, detail=scrub(f"{type(exc).__name__}: {exc}", hide))


def retry_after(code: str, message: str, now: float) -> float | None:
    """How long the vendor refuses more for this number, from its error code and message.

    isv.BUSINESS_LIMIT_CONTROL names the window it hit: 触发分钟级流控 (a minute), 触发小时级流控
    (an hour) or 触发天级流控 (until midnight Beijing time); isv.DAY_LIMIT_CONTROL is the
    account's daily cap; Throttling.* is the API's own rate (a minute is ample)."""
    if code in ("isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL"):
        lowered = message.lower()
        if code == "isv.DAY_LIMIT_CONTROL" or "天级" in message or "day" in lowered:
            return float(86400 - (int(now) + CHINA) % 86400)
        if "小时级" in message or "hour" in lowered:
            return HOUR
        return MINUTE
    if code.startswith("Throttling"):
        return MINUTE
    return None


def result(response: httpx.Response, delivered: int, now: float, *, hide: tuple[str, ...]) -> SendResult:
    """Aliyun answers `{"Code": "OK", …}` on success; any other Code is a failure, its Message kept."""
    data = answer(response)
    code = str(data.get("Code", ""))
    message = scrub(str(data.get("Message", "")), hide)
    if response.status_code == 200 and code == "OK":
        reference = data.get("BizId") or data.get("CallId") or ""
        return SendResult(ok=True, status=200, vendor_code=code, detail=str(reference), delivered=delivered)
    return SendResult(ok=False, status=response.status_code, vendor_code=code or None,
                      detail=message or scrub(response.text[:200], hide) or response.reason_phrase,
                      retry_after=retry_after(code, message, now))


def send(config: dict, schema: dict, action: str, version: str, params: dict[str, str], *, client: httpx.Client,
         now: float, messages: int) -> SendResult:
    """One signed call of a Dysms/Dyvms action for `config["to"]`: what SendSms and
    SingleCallByTts share once their own parameters are made."""
    from .base import setting

    if not str(config.get("to") or "").strip():
        return SendResult(ok=False, status=0, detail="no phone number (config['to'])")
    secret = str(config["access_key_secret"])
    url = signed_url(str(setting(config, "endpoint", schema)), str(config["access_key_id"]), secret, action,
                     version, params, now=now, region=str(setting(config, "region", schema)))
    response = call(client, url, hide=(secret,))
    if isinstance(response, SendResult):
        return response
    return result(response, messages, now, hide=(secret,))
