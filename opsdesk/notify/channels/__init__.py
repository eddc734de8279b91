"""The notification channel types, one module each, known by name through CHANNELS.

Each module declares one `CHANNEL = ChannelType(...)` (see base.py): its label, config schema,
vendor rate limits and `send(config, messages, *, client, now)`, which sends ONE request (several
messages become one digest). Nothing outside this package imports a concrete channel; callers use
`get(kind)`. Plain Python + httpx: no Django here.
"""

from __future__ import annotations

from . import aliyun_sms, aliyun_voice, apprise_channel, dingtalk, email, feishu, tencent_sms, webhook, wecom
from .base import SEVERITIES, ChannelType, Message, SendResult, Window

_MODULES = (dingtalk, wecom, feishu, webhook, email, apprise_channel, aliyun_sms, aliyun_voice, tencent_sms)
CHANNELS: dict[str, ChannelType] = {module.CHANNEL.name: module.CHANNEL for module in _MODULES}
# The channel types that reach a person at their own address (config["to"], merged in by the
# delivery engine), by the kind of contact method (notify.models.ContactKind) they serve.
CONTACT_KINDS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "sms": ("aliyun_sms", "tencent_sms"),
    "voice": ("aliyun_voice",),
}


def get(kind: str) -> ChannelType:
    try:
        return CHANNELS[kind]
    except KeyError:
        raise KeyError(f"unknown channel type {kind!r}; the known types are {', '.join(sorted(CHANNELS))}") from None


__all__ = ["CHANNELS", "CONTACT_KINDS", "SEVERITIES", "ChannelType", "Message", "SendResult", "Window", "get"]
