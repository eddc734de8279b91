"""What SMS and voice channels share: the template parameters a message (or a digest) becomes.

SMS and voice vendors send only approved templates; opsdesk fills their variables. `params` in a
channel's config names them, comma-separated, in the template's order (Tencent's {1}, {2}… are
positional; Aliyun's ${name} are by name). A name is one of

    title     the message's title; for a digest "N notifications, worst: <title of the worst>"
    severity  the worst severity, in the template's language (严重 / 一般 / 轻微 / 信息)
    count     how many messages the SMS stands for
    text      the worst message's text, Markdown marks taken out
    any other the worst message's field of that name (case-insensitive), e.g. `customer`
              (the fields "customer", "Customer" and "客户" all answer to it)

Each value is cut to the vendor's per-variable maximum (`param_max_length`), since the vendor
refuses the whole SMS when one variable is too long. A digest is always ONE short SMS: it
stands for all its messages (delivered = all of them), the details are behind the link.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .base import SEVERITY_RANK, Message, gettext_noop

# The template is approved in one language, so the words that fill it are chosen per channel
# (config `language`), not per reader: these are the seed's own level names.
SEVERITY_WORDS = {
    "zh-hans": {"critical": "严重", "major": "一般", "minor": "轻微", "info": "信息"},
    "en": {"critical": "critical", "major": "major", "minor": "minor", "info": "info"},
}
DIGEST = {"zh-hans": "{count}条通知，最严重：{title}", "en": "{count} notifications, worst: {title}"}
LANGUAGES = tuple(SEVERITY_WORDS)
FIELD_ALIASES = {"customer": ("customer", "客户"), "ci": ("ci", "配置项")}
DEFAULT_PARAMS = "title,severity,customer"
_MARKS = re.compile(r"\*\*|__|`|^#+\s*|^\s*[-*]\s+|\[([^\]]*)\]\([^)]*\)", re.MULTILINE)

PARAMS_TITLE = gettext_noop("Template variables, in order (title, severity, count, text or a field name)")
LANGUAGE_TITLE = gettext_noop("Language of the template")
MAX_LENGTH_TITLE = gettext_noop("Longest value of one variable (characters)")


def worst_first(messages: Sequence[Message]) -> Message:
    """The worst message; among equals, the first."""
    return max(messages, key=lambda m: SEVERITY_RANK[m.severity])


def plain(text: str) -> str:
    return " ".join(_MARKS.sub(lambda m: m.group(1) or "", text).split())


def cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: max(0, limit - 1)] + "…"


def names(config: dict, default: str = DEFAULT_PARAMS) -> list[str]:
    return [n.strip() for n in str(config.get("params") or default).split(",") if n.strip()]


def field(message: Message, name: str) -> str:
    wanted = {a.casefold() for a in FIELD_ALIASES.get(name.casefold(), ())} | {name.casefold()}
    return next((value for key, value in message.fields.items() if key.casefold() in wanted), "")


def parameters(config: dict, messages: Sequence[Message], default_max: int,
               default_params: str = DEFAULT_PARAMS) -> list[tuple[str, str]]:
    """(name, value) for each template variable the config names, in order."""
    if not messages:
        raise ValueError("nothing to send")
    language = config.get("language") or "zh-hans"
    if language not in SEVERITY_WORDS:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    limit = int(config.get("param_max_length") or default_max)
    first = worst_first(messages)
    title = plain(first.title) if len(messages) == 1 else DIGEST[language].format(count=len(messages),
                                                                                 title=plain(first.title))
    known = {"title": title, "severity": SEVERITY_WORDS[language][first.severity], "count": str(len(messages)),
             "text": plain(first.text)}
    return [(name, cut(known[name] if name in known else field(first, name), limit))
            for name in names(config, default_params)]
