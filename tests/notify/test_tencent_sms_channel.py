"""Tencent Cloud SMS: the documented TC3-HMAC-SHA256 example reproduced byte for byte, the exact
signed request the local receiver (conftest.vendor) gets, its signature recomputed here from the
documented algorithm, and Tencent's error answers."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

import pytest
from tencentcloud.common.sign import Sign

from opsdesk.notify import channels
from opsdesk.notify.channels import Message

NOW = 1718000000.0  # 2024-06-10T06:13:20Z (14:13:20 in Beijing)
TENCENT = channels.get("tencent_sms")
OK = {"Response": {"RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279", "SendStatusSet": [{
    "SerialNo": "5000:1045710669157053657849499619", "PhoneNumber": "+8613800138000", "Fee": 1, "SessionContext": "",
    "Code": "Ok", "Message": "send success", "IsoCode": "CN"}]}}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tc3_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    """The documentation's steps: SecretDate = HMAC("TC3" + key, date), SecretService, SecretSigning."""
    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    secret_date = sign(("TC3" + secret_key).encode("utf-8"), date)
    secret_service = sign(secret_date, service)
    secret_signing = sign(secret_service, "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def test_the_documented_example_signs_byte_for_byte():
    """Tencent's "Signature v3" page: DescribeInstances of cvm at 1551113065 (2019-02-25)."""
    payload = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    canonical_request = ("POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n"
                         f"content-type;host\n{sha256_hex(payload.encode())}")
    assert sha256_hex(canonical_request.encode()) == "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    string_to_sign = ("TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
                      "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
    expected = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    assert tc3_signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "2019-02-25", "cvm", string_to_sign) == expected
    # …and the SDK that signs the channel's requests derives the same bytes.
    assert Sign.sign_tc3("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "2019-02-25", "cvm", string_to_sign) == expected


AUTHORIZATION = re.compile(r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d\d-\d\d)/(?P<service>\w+)"
                           r"/tc3_request, SignedHeaders=(?P<signed>[\w;-]+), Signature=(?P<signature>[0-9a-f]{64})$")


def check_signed(request, secret_key: str = "SecretKeyExample+/0123") -> None:
    """What Tencent checks, recomputed from the request as received."""
    auth = AUTHORIZATION.match(request.headers["authorization"])
    assert auth, request.headers["authorization"]
    assert (auth["id"], auth["service"], auth["signed"]) == ("AKIDExampleSecretId", "sms", "content-type;host")
    timestamp = int(request.headers["x-tc-timestamp"])
    assert auth["date"] == dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
    # Each signed header as "name:value\n", both lower-cased and trimmed, in SignedHeaders' order.
    signed = auth["signed"].split(";")
    canonical_headers = "".join(f"{name}:{request.headers[name].strip().lower()}\n" for name in signed)
    canonical_request = "\n".join(["POST", "/", request.raw_query, canonical_headers, auth["signed"],
                                   sha256_hex(request.body)])
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), f"{auth['date']}/sms/tc3_request",
                                sha256_hex(canonical_request.encode())])
    assert auth["signature"] == tc3_signature(secret_key, auth["date"], "sms", string_to_sign)


def config(vendor, **extra) -> dict:
    return {"secret_id": "AKIDExampleSecretId", "secret_key": "SecretKeyExample+/0123", "sdk_app_id": "1400006666",
            "sign_name": "运维平台", "template_id": "1110", "endpoint": vendor.base_url, "to": "13800138000", **extra}


def alert(i: int = 1, severity: str = "critical") -> Message:
    return Message(title=f"主机 web-{i:02d} 宕机", text="无响应", severity=severity, fields={"客户": "华东物流"})


def test_an_sms_is_the_exact_signed_sendsms_request(vendor, client):
    vendor.reset(OK)
    result = TENCENT.send(config(vendor), [alert()], client=client, now=NOW)
    assert (result.ok, result.status, result.vendor_code, result.delivered) == (True, 200, "Ok", 1)
    assert result.detail == "5000:1045710669157053657849499619"

    [request] = vendor.requests
    assert (request.method, request.path, request.raw_query) == ("POST", "/", "")
    assert request.headers["host"] == vendor.base_url.removeprefix("http://")
    assert request.headers["content-type"] == "application/json"
    assert {k: request.headers[k] for k in ("x-tc-action", "x-tc-version", "x-tc-region")} == {
        "x-tc-action": "SendSms", "x-tc-version": "2021-01-11", "x-tc-region": "ap-guangzhou"}
    check_signed(request)
    assert request.json() == {"PhoneNumberSet": ["+8613800138000"], "SmsSdkAppId": "1400006666",
                              "SignName": "运维平台", "TemplateId": "1110",
                              "TemplateParamSet": ["主机 we…", "严重", "华东物流"]}


def test_a_digest_is_one_sms_and_the_variables_come_in_the_configured_order(vendor, client):
    vendor.reset(OK)
    settings = config(vendor, params="count,severity,title", param_max_length=12, to="+85251234567")
    result = TENCENT.send(settings, [alert(1, "minor"), alert(2, "major")], client=client, now=NOW)
    assert result.ok and result.delivered == 2
    body = vendor.requests[0].json()
    assert body["PhoneNumberSet"] == ["+85251234567"]
    assert body["TemplateParamSet"] == ["2", "一般", "2条通知，最严重：主机…"]
    check_signed(vendor.requests[0])


@pytest.mark.parametrize(("code", "retry_after"), [
    ("LimitExceeded.PhoneNumberThirtySecondLimit", 30.0),
    ("LimitExceeded.PhoneNumberOneHourLimit", 3600.0),
    ("LimitExceeded.PhoneNumberDailyLimit", 35200.0),  # to midnight in Beijing
    ("InvalidParameterValue.IncorrectPhoneNumber", None),
])
def test_a_send_status_other_than_ok_is_a_failure_with_the_vendors_code(vendor, client, code, retry_after):
    vendor.reset({"Response": {"RequestId": "r1", "SendStatusSet": [{
        "SerialNo": "", "PhoneNumber": "+8613800138000", "Fee": 0, "Code": code, "Message": f"{code} message"}]}})
    result = TENCENT.send(config(vendor), [alert()], client=client, now=NOW)
    assert (result.ok, result.status, result.vendor_code, result.detail, result.retry_after) == (
        False, 200, code, f"{code} message", retry_after)


def test_a_response_error_is_a_failure_with_the_vendors_code_and_message(vendor, client):
    vendor.reset({"Response": {"RequestId": "r2", "Error": {
        "Code": "AuthFailure.SignatureFailure", "Message": "The provided credentials could not be validated."}}})
    result = TENCENT.send(config(vendor), [alert()], client=client, now=NOW)
    assert (result.ok, result.vendor_code, result.detail, result.retry_after) == (
        False, "AuthFailure.SignatureFailure", "The provided credentials could not be validated.", None)


def test_no_server_and_no_number_are_failures_that_name_no_secret(client):
    settings = {"secret_id": "AKIDx", "secret_key": "very-secret-key", "sdk_app_id": "1", "sign_name": "s",
                "template_id": "1", "endpoint": "http://127.0.0.1:9"}
    assert TENCENT.send(settings, [alert()], client=client, now=NOW).detail == "no phone number (config['to'])"
    result = TENCENT.send({**settings, "to": "13800138000"}, [alert()], client=client, now=NOW)
    assert (result.ok, result.status, result.vendor_code) == (False, 0, "ClientNetworkError")
    assert "very-secret-key" not in result.detail


def test_limits_and_secrets():
    assert [(w.count, w.seconds) for w in TENCENT.limits] == [(1, 30.0), (5, 3600.0), (10, 86400.0)]
    assert TENCENT.secrets == ("secret_key",)
    one, other = ({"sdk_app_id": "1", "to": number} for number in ("138", "139"))
    assert TENCENT.destination(one) != TENCENT.destination(other)
