"""Tickets from customers' chat groups: one module per vendor (dingtalk, feishu, wecom) behind
this small registry, the intake that turns a verified message into a ticket or a reply, the
outbox that answers the group, and the listener that sends the desk's public replies back.

Nothing outside this package imports a vendor module; callers use `get(kind)`."""

from __future__ import annotations

from . import dingtalk, feishu, wecom
from .base import Vendor

VENDORS: dict[str, Vendor] = {module.VENDOR.kind: module.VENDOR for module in (dingtalk, feishu, wecom)}


def get(kind: str) -> Vendor:
    try:
        return VENDORS[kind]
    except KeyError:
        raise KeyError(f"unknown chat vendor {kind!r}; the known ones are {', '.join(sorted(VENDORS))}") from None
