"""Aliyun SMS (SendSms) and voice (SingleCallByTts): the documented signature example reproduced
byte for byte, the exact signed request a local receiver gets (its signature recomputed here the
way Aliyun's documentation writes it, independently of opsdesk.notify.channels.aliyun), and the
vendor's error answers."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opsdesk.notify import channels
from opsdesk.notify.channels import Message, aliyun
from opsdesk.notify.channels.limiter import Digester, RateLimiter, deliver

NOW = 1718000000.0  # 2024-06-10T06:13:20Z
SMS = channels.get("aliyun_sms")
VOICE = channels.get("aliyun_voice")


# --- the documented example ----------------------------------------------------------------------

DOCUMENTED_URL = (
    "http://dysmsapi.aliyuncs.com/?Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D&AccessKeyId=testId&Action=SendSms"
    "&Format=XML&OutId=123&PhoneNumbers=15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F"
    "%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-"
    "8c85-2956eda1b466&SignatureVersion=1.0&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D"
    "&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25")


def test_the_documented_sendsms_example_signs_byte_for_byte():
    """Aliyun's SMS signature page: testId / testSecret, nonce 45e25e9b-…, 2017-07-12T02:42:19Z."""
    params = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
              "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
              "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}',
              "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25"}
    assert aliyun.string_to_sign("GET", params).startswith(
        "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001")
    assert aliyun.signature("testSecret", "GET", params) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="

    now = dt.datetime(2017, 7, 12, 2, 42, 19, tzinfo=dt.UTC).timestamp()
    url = aliyun.signed_url("http://dysmsapi.aliyuncs.com", "testId", "testSecret", "SendSms", "2017-05-25",
                            {"OutId": "123", "PhoneNumbers": "15300000001", "SignName": "阿里云短信测试专用",
                             "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}'},
                            now=now, nonce="45e25e9b-0a6f-4070-8c85-2956eda1b466", fmt="XML")
    assert url == DOCUMENTED_URL


def documented_signature(secret: str, params: dict[str, str]) -> str:
    """The documentation's own steps (its Java sample's specialUrlEncode), written apart from aliyun.py."""
    def special_url_encode(value: str) -> str:
        return urllib.parse.quote_plus(value).replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    sorted_query = "&".join(special_url_encode(k) + "=" + special_url_encode(params[k]) for k in sorted(params))
    string_to_sign = "GET" + "&" + special_url_encode("/") + "&" + special_url_encode(sorted_query)
    digest = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# --- a local receiver that answers as Aliyun does ------------------------------------------------------

class Aliyun:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str, dict[str, str]]] = []  # method, path, raw query, query
        self.replies: list[tuple[int, dict]] = []
        self.base_url = ""

    def reply(self, status: int, body: dict) -> None:
        self.replies.append((status, body))


@pytest.fixture(scope="module")
def aliyun_server():
    server_state = Aliyun()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path, _, raw = self.path.partition("?")
            server_state.requests.append(("GET", path, raw, dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))))
            status, body = server_state.replies.pop(0) if server_state.replies else (
                200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "F655A8D5"})
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server_state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server_state
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver(aliyun_server):
    aliyun_server.requests.clear()
    aliyun_server.replies.clear()
    return aliyun_server


@pytest.fixture(scope="module")
def client():
    import httpx

    with httpx.Client() as c:
        yield c


def alert(i: int = 1, severity: str = "critical", title: str = "", **extra) -> Message:
    return Message(title=title or f"核心交换机 sw-{i:02d} 宕机", text="**Ping** 100% 丢包", severity=severity,
                   url=f"https://ops.example.com/alerts/{i}/ack", fields={"客户": "华东物流", "CI": f"sw-{i:02d}"},
                   **extra)


def sms_config(receiver, **extra) -> dict:
    return {"access_key_id": "LTAI5tExampleId", "access_key_secret": "ExampleSecret/Value+1",
            "sign_name": "运维平台", "template_code": "SMS_465960001", "endpoint": receiver.base_url,
            "to": "13800138000", **extra}


def check_signed(query: dict[str, str], *, action: str, secret: str = "ExampleSecret/Value+1") -> None:
    """What Aliyun checks: the common parameters, the timestamp, and the signature over the rest."""
    params = {k: v for k, v in query.items() if k != "Signature"}
    assert query["Signature"] == documented_signature(secret, params)
    assert {k: params[k] for k in ("AccessKeyId", "Action", "Format", "RegionId", "SignatureMethod",
                                   "SignatureVersion", "Timestamp", "Version")} == {
        "AccessKeyId": "LTAI5tExampleId", "Action": action, "Format": "JSON", "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "Timestamp": "2024-06-10T06:13:20Z",
        "Version": "2017-05-25"}
    assert len(params["SignatureNonce"]) == 36


# --- SMS -----------------------------------------------------------------------------------------

def test_an_sms_is_the_exact_signed_sendsms_request(receiver, client):
    result = SMS.send(sms_config(receiver), [alert()], client=client, now=NOW)
    assert (result.ok, result.status, result.vendor_code, result.delivered) == (True, 200, "OK", 1)
    assert result.detail == "900619746936498440^0"  # the BizId, to look the SMS up in Aliyun's console

    [(method, path, raw, query)] = receiver.requests
    assert (method, path) == ("GET", "/")
    assert raw.startswith("Signature=") and "+" not in raw  # RFC 3986: a space would be %20
    check_signed(query, action="SendSms")
    assert {k: query[k] for k in ("PhoneNumbers", "SignName", "TemplateCode")} == {
        "PhoneNumbers": "13800138000", "SignName": "运维平台", "TemplateCode": "SMS_465960001"}
    assert json.loads(query["TemplateParam"]) == {"title": "核心交换机 sw-01 宕机", "severity": "严重",
                                                  "customer": "华东物流"}
    assert query["TemplateParam"] == '{"title":"核心交换机 sw-01 宕机","severity":"严重","customer":"华东物流"}'


def test_a_digest_is_one_short_sms_whose_values_fit_the_variable_limit(receiver, client):
    messages = [alert(1, "minor"), alert(2, "critical", title="数据库 db-primary-shanghai-01 主从复制延迟超过 300 秒"),
                alert(3, "major")]
    config = sms_config(receiver, params="count,title,severity,CI", language="zh-hans")
    result = SMS.send(config, messages, client=client, now=NOW)
    assert result.ok and result.delivered == 3
    [(_, _, _, query)] = receiver.requests
    params = json.loads(query["TemplateParam"])
    assert list(params) == ["count", "title", "severity", "CI"]
    assert params["count"] == "3" and params["severity"] == "严重" and params["CI"] == "sw-02"
    assert params["title"] == "3条通知，最严重：数据库 db-primary-shanghai-0…"
    assert len(params["title"]) == 35

    SMS.send(sms_config(receiver, language="en", param_max_length=20), messages, client=client, now=NOW)
    params = json.loads(receiver.requests[1][3]["TemplateParam"])
    assert params == {"title": "3 notifications, wo…", "severity": "critical", "customer": "华东物流"}


@pytest.mark.parametrize(("message", "retry_after"), [
    ("触发分钟级流控Permits:1", 60.0),
    ("触发小时级流控Permits:5", 3600.0),
    # 06:13:20 UTC is 14:13:20 in Beijing: 9 h 46 min 40 s to midnight there.
    ("触发天级流控Permits:10", 35200.0),
])
def test_business_limit_control_waits_for_the_window_it_names(receiver, client, message, retry_after):
    receiver.reply(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": message, "RequestId": "A1"})
    result = SMS.send(sms_config(receiver), [alert()], client=client, now=NOW)
    assert (result.ok, result.status, result.vendor_code, result.detail, result.retry_after) == (
        False, 200, "isv.BUSINESS_LIMIT_CONTROL", message, retry_after)


def test_other_errors_keep_the_vendors_code_and_message_and_ask_no_wait(receiver, client):
    receiver.reply(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": "A2"})
    receiver.reply(400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched with our "
                                                                     "calculation. server string to sign is:GET&%2F&…"})
    illegal = SMS.send(sms_config(receiver, to="123"), [alert()], client=client, now=NOW)
    assert (illegal.ok, illegal.vendor_code, illegal.detail, illegal.retry_after) == (
        False, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", None)
    mismatch = SMS.send(sms_config(receiver), [alert()], client=client, now=NOW)
    assert (mismatch.ok, mismatch.status, mismatch.vendor_code) == (False, 400, "SignatureDoesNotMatch")


def test_no_number_no_server_and_no_secret_in_the_result(client):
    config = {"access_key_id": "id", "access_key_secret": "s3cr3t-value", "sign_name": "x", "template_code": "y",
              "endpoint": "http://127.0.0.1:9"}
    assert SMS.send(config, [alert()], client=client, now=NOW).detail == "no phone number (config['to'])"
    result = SMS.send({**config, "to": "13800138000"}, [alert()], client=client, now=NOW)
    assert (result.ok, result.status) == (False, 0) and "s3cr3t-value" not in result.detail


def test_the_limits_hold_per_phone_number_and_what_waits_goes_as_one_digest(receiver, client):
    assert [(w.count, w.seconds) for w in SMS.limits] == [(1, 60.0), (5, 3600.0), (10, 86400.0)]
    clock = [1000.0]
    digester = Digester(RateLimiter(clock=lambda: clock[0]))
    first, second = sms_config(receiver, to="13800138000"), sms_config(receiver, to="13900139000")
    digester.add("aliyun_sms", first, alert(1))
    digester.add("aliyun_sms", second, alert(2))
    assert len(deliver(digester, client, wall=lambda: NOW)) == 2  # two numbers: two SMS at once
    for i in (3, 4, 5):
        digester.add("aliyun_sms", first, alert(i))
    assert deliver(digester, client, wall=lambda: NOW) == []  # the first number had its one this minute
    assert digester.next_due() == 1060.0
    clock[0] = 1060.0
    [(batch, result)] = deliver(digester, client, wall=lambda: NOW)
    assert result.ok and result.delivered == 3 and len(receiver.requests) == 3
    assert json.loads(receiver.requests[2][3]["TemplateParam"])["title"].startswith("3条通知")
    assert "13800138000" not in SMS.destination(first) and SMS.secrets == ("access_key_secret",)


# --- voice ---------------------------------------------------------------------------------------

def test_a_voice_call_is_the_exact_signed_singlecallbytts_request(receiver, client):
    receiver.reply(200, {"Code": "OK", "Message": "OK", "CallId": "116012354148^10281378", "RequestId": "B1"})
    config = {"access_key_id": "LTAI5tExampleId", "access_key_secret": "ExampleSecret/Value+1",
              "tts_code": "TTS_171000001", "called_show_number": "057188773344", "endpoint": receiver.base_url,
              "to": "13800138000"}
    result = VOICE.send(config, [alert()], client=client, now=NOW)
    assert (result.ok, result.vendor_code, result.detail, result.delivered) == (True, "OK", "116012354148^10281378", 1)

    [(method, path, _, query)] = receiver.requests
    assert (method, path) == ("GET", "/")
    check_signed(query, action="SingleCallByTts")
    assert {k: query[k] for k in ("CalledNumber", "CalledShowNumber", "TtsCode", "PlayTimes", "TtsParam")} == {
        "CalledNumber": "13800138000", "CalledShowNumber": "057188773344", "TtsCode": "TTS_171000001",
        "PlayTimes": "2", "TtsParam": '{"title":"核心交换机 sw-01 宕机","severity":"严重"}'}


def test_a_voice_call_without_a_shown_number_and_its_errors(receiver, client):
    receiver.reply(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"})
    config = {"access_key_id": "LTAI5tExampleId", "access_key_secret": "ExampleSecret/Value+1",
              "tts_code": "TTS_171000001", "endpoint": receiver.base_url, "to": "13800138000", "play_times": 3}
    result = VOICE.send(config, [alert()], client=client, now=NOW)
    assert (result.ok, result.vendor_code, result.retry_after) == (False, "isv.BUSINESS_LIMIT_CONTROL", 60.0)
    query = receiver.requests[0][3]
    assert "CalledShowNumber" not in query and query["PlayTimes"] == "3"
    check_signed(query, action="SingleCallByTts")


def test_the_registry_knows_the_person_reaching_channels_by_contact_kind():
    assert {"email", "apprise", "aliyun_sms", "aliyun_voice", "tencent_sms"} <= set(channels.CHANNELS)
    assert channels.CONTACT_KINDS == {"email": ("email",), "sms": ("aliyun_sms", "tencent_sms"),
                                      "voice": ("aliyun_voice",)}
    for kinds in channels.CONTACT_KINDS.values():
        for kind in kinds:
            assert channels.get(kind).config_schema["type"] == "object"
