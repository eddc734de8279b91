"""Aliyun voice notification (阿里云语音服务, Dyvms): SingleCallByTts, a call that reads an approved
text-to-speech template, for the 严重 level that must wake someone. Signed as aliyun.py shows.

GET {endpoint}/?Signature=…&Action=SingleCallByTts&CalledNumber=…&CalledShowNumber=…&TtsCode=…
&TtsParam={"title":"…","severity":"…"}&PlayTimes=…&Version=2017-05-25.

The number called is `config["to"]`. A digest is one call that reads the digest's title. One call
a minute per number at most: a second call while the first may still ring would only be noise
(this is opsdesk's limit; the vendor's own flow control answers isv.BUSINESS_LIMIT_CONTROL too).
"""

from __future__ import annotations

import json

import httpx

from . import aliyun, sms
from .base import ChannelType, Message, SendResult, Window, fingerprint, gettext_noop, schema, setting, string

ACTION, VERSION = "SingleCallByTts", "2017-05-25"
DEFAULT_PARAMS = "title,severity"  # a call reads every variable aloud: two keep it short
PARAM_MAX_LENGTH = 20  # characters per variable: a TTS call reads slowly; kept short and configurable

SCHEMA = schema({
    "access_key_id": string(gettext_noop("AccessKey ID")),
    "access_key_secret": string(gettext_noop("AccessKey secret")),
    "tts_code": string(gettext_noop("Text-to-speech template code (e.g. TTS_123456789)")),
    "called_show_number": string(gettext_noop("Calling number shown (empty: the vendor's public number)"), ""),
    "play_times": {"type": "integer", "minimum": 1, "maximum": 3, "default": 2,
                   "title": gettext_noop("Times the message is read")},
    "params": string(sms.PARAMS_TITLE, DEFAULT_PARAMS),
    "language": string(sms.LANGUAGE_TITLE, "zh-hans", enum=list(sms.LANGUAGES)),
    "param_max_length": {"type": "integer", "minimum": 1, "default": PARAM_MAX_LENGTH, "title": sms.MAX_LENGTH_TITLE},
    "region": string(gettext_noop("Region"), "cn-hangzhou"),
    "endpoint": string(gettext_noop("Server address"), "https://dyvmsapi.aliyuncs.com", format="uri"),
}, required=["access_key_id", "access_key_secret", "tts_code"])


def request_params(config: dict, messages: list[Message]) -> dict[str, str]:
    variables = dict(sms.parameters(config, messages, PARAM_MAX_LENGTH, DEFAULT_PARAMS))
    params = {"CalledNumber": str(config["to"]).strip(), "TtsCode": str(config["tts_code"]),
              "TtsParam": json.dumps(variables, ensure_ascii=False, separators=(",", ":")),
              "PlayTimes": str(setting(config, "play_times", SCHEMA))}
    if config.get("called_show_number"):
        params["CalledShowNumber"] = str(config["called_show_number"])
    return params


def send(config: dict, messages: list[Message], *, client: httpx.Client, now: float) -> SendResult:
    if not str(config.get("to") or "").strip():
        return SendResult(ok=False, status=0, detail="no phone number (config['to'])")
    return aliyun.send(config, SCHEMA, ACTION, VERSION, request_params(config, messages), client=client, now=now,
                       messages=len(messages))


CHANNEL = ChannelType(
    name="aliyun_voice",
    label=gettext_noop("Aliyun voice call"),
    send=send,
    config_schema=SCHEMA,
    limits=(Window(1, 60.0),),
    destination=lambda config: fingerprint("aliyun_voice", f"{config.get('access_key_id', '')}|{config.get('to', '')}"),
    secrets=("access_key_secret",),
)
