"""Tencent Cloud SMS (腾讯云短信): SendSms of API 3.0 (version 2021-01-11), through Tencent's own SDK.

The SDK (tencentcloud-sdk-python-sms + -common) is light: it adds two packages, 1.4 MB, on top of
`requests`, which Apprise already brings (measured with `pip install --dry-run` and an install
into a fresh venv). So the vendor's code signs the request (TC3-HMAC-SHA256: canonical request →
string to sign → keys derived date → service → "tc3_request"); the test reproduces Tencent's
documented example signature and recomputes the signature of each request it receives.

POST {endpoint}/ with the X-TC-Action/-Version/-Region/-Timestamp headers, the Authorization
header, and {"PhoneNumberSet": ["+86…"], "SmsSdkAppId", "SignName", "TemplateId",
"TemplateParamSet": [...]}. The template's {1}, {2}… are filled in order as sms.py says.

The SDK takes its own clock and HTTP session (`now` and `client` are not used) and is imported
when a message is sent, not when the channel registry loads (it costs 0.16 s to import).

Tencent's default frequency limits per phone number: one SMS in 30 seconds, five an hour, ten a
day (LimitExceeded.PhoneNumberThirtySecondLimit / OneHourLimit / DailyLimit when more come).
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

import httpx

from . import sms
from .base import (
    TIMEOUT,
    ChannelType,
    Message,
    SendResult,
    Window,
    fingerprint,
    gettext_noop,
    schema,
    scrub,
    setting,
    string,
)

if TYPE_CHECKING:
    from tencentcloud.sms.v20210111.sms_client import SmsClient

VERSION = "2021-01-11"
PARAM_MAX_LENGTH = 6  # characters: Tencent's limit for a variable of a notification template
CHINA = 8 * 3600  # the daily limits restart at midnight Beijing time
WAIT = {"LimitExceeded.PhoneNumberThirtySecondLimit": 30.0, "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
        "LimitExceeded.DeliveryFrequencyLimit": 60.0, "RequestLimitExceeded": 60.0}
UNTIL_MIDNIGHT = ("LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.PhoneNumberSameContentDailyLimit",
                  "LimitExceeded.DailyLimit")

SCHEMA = schema({
    "secret_id": string(gettext_noop("SecretId")),
    "secret_key": string(gettext_noop("SecretKey")),
    "sdk_app_id": string(gettext_noop("SMS application ID (SmsSdkAppId)")),
    "sign_name": string(gettext_noop("SMS signature")),
    "template_id": string(gettext_noop("Template ID")),
    "params": string(sms.PARAMS_TITLE, sms.DEFAULT_PARAMS),
    "language": string(sms.LANGUAGE_TITLE, "zh-hans", enum=list(sms.LANGUAGES)),
    "param_max_length": {"type": "integer", "minimum": 1, "default": PARAM_MAX_LENGTH, "title": sms.MAX_LENGTH_TITLE},
    "region": string(gettext_noop("Region"), "ap-guangzhou"),
    "endpoint": string(gettext_noop("Server address"), "https://sms.tencentcloudapi.com", format="uri"),
}, required=["secret_id", "secret_key", "sdk_app_id", "sign_name", "template_id"])


def phone(number: str) -> str:
    """E.164 as Tencent wants it; a number without a country code is a mainland China number."""
    number = "".join(number.split())
    return number if number.startswith("+") else f"+86{number}"


def retry_after(code: str, now: float) -> float | None:
    if code in UNTIL_MIDNIGHT:
        return float(86400 - (int(now) + CHINA) % 86400)
    return WAIT.get(code)


def _client(config: dict) -> SmsClient:
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111 import sms_client

    endpoint = urllib.parse.urlsplit(str(setting(config, "endpoint", SCHEMA)))
    http = HttpProfile(protocol=endpoint.scheme or "https", endpoint=endpoint.netloc or endpoint.path,
                       reqTimeout=int(TIMEOUT))
    profile = ClientProfile(signMethod="TC3-HMAC-SHA256", httpProfile=http)
    return sms_client.SmsClient(credential.Credential(str(config["secret_id"]), str(config["secret_key"])),
                                str(setting(config, "region", SCHEMA)), profile)


def send(config: dict, messages: list[Message], *, client: httpx.Client | None = None, now: float) -> SendResult:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.sms.v20210111 import models

    if not str(config.get("to") or "").strip():
        return SendResult(ok=False, status=0, detail="no phone number (config['to'])")
    hide = (str(config.get("secret_key") or ""),)
    request = models.SendSmsRequest()
    request.PhoneNumberSet = [phone(str(config["to"]))]
    request.SmsSdkAppId = str(config["sdk_app_id"])
    request.SignName = str(config["sign_name"])
    request.TemplateId = str(config["template_id"])
    request.TemplateParamSet = [value for _, value in sms.parameters(config, messages, PARAM_MAX_LENGTH)]
    try:
        response = _client(config).SendSms(request)
    except TencentCloudSDKException as exc:
        code = str(exc.get_code() or "")
        # ClientNetworkError: no answer; ServerNetworkError: an answer other than 200, whose status
        # the SDK does not hand out (its body is the detail). Any other code came in a 200 answer.
        status = 0 if code in ("ClientNetworkError", "ServerNetworkError") else 200
        return SendResult(ok=False, status=status, vendor_code=code or None,
                          detail=scrub(str(exc.get_message() or ""), hide), retry_after=retry_after(code, now))
    [result] = response.SendStatusSet or [None]
    if result is None:
        return SendResult(ok=False, status=200, detail="no SendStatusSet in the answer")
    code, message = str(result.Code), scrub(str(result.Message or ""), hide)
    if code == "Ok":
        return SendResult(ok=True, status=200, vendor_code=code, detail=str(result.SerialNo or ""),
                          delivered=len(messages))
    return SendResult(ok=False, status=200, vendor_code=code, detail=message, retry_after=retry_after(code, now))


CHANNEL = ChannelType(
    name="tencent_sms",
    label=gettext_noop("Tencent Cloud SMS"),
    send=send,
    config_schema=SCHEMA,
    limits=(Window(1, 30.0), Window(5, 3600.0), Window(10, 86400.0)),
    destination=lambda config: fingerprint("tencent_sms", f"{config.get('sdk_app_id', '')}|{config.get('to', '')}"),
    secrets=("secret_key",),
)
