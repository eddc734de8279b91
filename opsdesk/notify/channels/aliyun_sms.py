"""Aliyun SMS (阿里云短信服务, Dysms): SendSms with an approved template, signed as aliyun.py shows.

GET {endpoint}/?Signature=…&AccessKeyId=…&Action=SendSms&…&PhoneNumbers=…&SignName=…
&TemplateCode=…&TemplateParam={"title":"…","severity":"…","customer":"…"}&Version=2017-05-25.

The phone number is `config["to"]` (merged in by the delivery engine). The template variables are
filled as sms.py says; a digest is one SMS ("3条通知，最严重：…"). Aliyun's default business limit
control allows one SMS a minute, five an hour and ten a day to one number (isv.BUSINESS_LIMIT_CONTROL
when more come): these are the channel's limits per phone number, so what waits goes as one digest.
"""

from __future__ import annotations

import json

import httpx

from . import aliyun, sms
from .base import ChannelType, Message, SendResult, Window, fingerprint, gettext_noop, schema, string

ACTION, VERSION = "SendSms", "2017-05-25"
PARAM_MAX_LENGTH = 35  # characters: Aliyun's limit for a notification template's "other" variable

SCHEMA = schema({
    "access_key_id": string(gettext_noop("AccessKey ID")),
    "access_key_secret": string(gettext_noop("AccessKey secret")),
    "sign_name": string(gettext_noop("SMS signature")),
    "template_code": string(gettext_noop("Template code (e.g. SMS_123456789)")),
    "params": string(sms.PARAMS_TITLE, sms.DEFAULT_PARAMS),
    "language": string(sms.LANGUAGE_TITLE, "zh-hans", enum=list(sms.LANGUAGES)),
    "param_max_length": {"type": "integer", "minimum": 1, "default": PARAM_MAX_LENGTH, "title": sms.MAX_LENGTH_TITLE},
    "region": string(gettext_noop("Region"), "cn-hangzhou"),
    "endpoint": string(gettext_noop("Server address"), "https://dysmsapi.aliyuncs.com", format="uri"),
}, required=["access_key_id", "access_key_secret", "sign_name", "template_code"])


def request_params(config: dict, messages: list[Message]) -> dict[str, str]:
    variables = dict(sms.parameters(config, messages, PARAM_MAX_LENGTH))
    return {"PhoneNumbers": str(config["to"]).strip(), "SignName": str(config["sign_name"]),
            "TemplateCode": str(config["template_code"]),
            "TemplateParam": json.dumps(variables, ensure_ascii=False, separators=(",", ":"))}


def send(config: dict, messages: list[Message], *, client: httpx.Client, now: float) -> SendResult:
    if not str(config.get("to") or "").strip():
        return SendResult(ok=False, status=0, detail="no phone number (config['to'])")
    return aliyun.send(config, SCHEMA, ACTION, VERSION, request_params(config, messages), client=client, now=now,
                       messages=len(messages))


CHANNEL = ChannelType(
    name="aliyun_sms",
    label=gettext_noop("Aliyun SMS"),
    send=send,
    config_schema=SCHEMA,
    limits=(Window(1, 60.0), Window(5, 3600.0), Window(10, 86400.0)),
    destination=lambda config: fingerprint("aliyun_sms", f"{config.get('access_key_id', '')}|{config.get('to', '')}"),
    secrets=("access_key_secret",),
)
