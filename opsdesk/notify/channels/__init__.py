"""The notification channel types, one module each, known by name through CHANNELS.

Each module declares one `CHANNEL = ChannelType(...)` (see base.py): its label, config schema,
vendor rate limits and `send(config, messages, *, client, now)`, which sends ONE request (several
messages become one digest). Nothing outside this package imports a concrete channel; callers use
`get(kind)`. Plain Python + httpx: no Django here.
"""

from __future__ import annotations

from . import dingtalk, feishu, webhook, wecom
from .base import SEVERITIES, ChannelType, Message, SendResult, Window

_MODULES = (dingtalk, wecom, feishu, webhook)
CHANNELS: dict[str, ChannelType] = {module.CHANNEL.name: module.CHANNEL for module in _MODULES}


def get(kind: str) -> ChannelType:
    try:
        return CHANNELS[kind]
    except KeyError:
        raise KeyError(f"unknown channel type {kind!r}; the known types are {', '.join(sorted(CHANNELS))}") from None


__all__ = ["CHANNELS", "SEVERITIES", "ChannelType", "Message", "SendResult", "Window", "get"]
