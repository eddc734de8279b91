"""One channel for whatever Apprise covers (Slack, Telegram, Microsoft Teams, Mattermost, ntfy,
Discord, Gotify…): the config is an Apprise URL such as `slack://T1/B1/secret` or
`tgram://bottoken/chatid`, which holds the service's tokens and so is a secret.

The digest's title and Markdown body go through `Apprise.notify(..., body_format=markdown)`;
Apprise converts the Markdown for services that take HTML or plain text and splits or cuts
bodies to each service's own maximum. The severity becomes Apprise's notify type (the colour
Slack or Teams shows). Apprise is run synchronously, with its persistent store in memory (no
files written) and opsdesk's name instead of its own, and without an icon URL (an intranet
install must not point chat clients at github.com).

The module is named apprise_channel so that it never stands where the `apprise` package is
imported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from .base import (
    ChannelType,
    Message,
    SendResult,
    digest_markdown,
    fingerprint,
    fit,
    gettext_noop,
    schema,
    scrub,
    string,
    title_of,
    worst,
)

# Apprise's notify types (apprise.NotifyType values), by severity.
if TYPE_CHECKING:
    from apprise import Apprise

NOTIFY_TYPE = {"critical": "failure", "major": "failure", "minor": "warning", "info": "info"}
HTTP_ERROR = re.compile(r"error=(\d{3})")  # how Apprise's plugins log the HTTP status they got

SCHEMA = schema({
    "url": string(gettext_noop("Apprise URL (e.g. slack://…, tgram://…, msteams://…)")),
}, required=["url"])


def build(messages: Sequence[Message], omitted: int) -> dict:
    return {"title": title_of(messages, omitted), "body": digest_markdown(messages, omitted)}


def _apprise() -> Apprise:
    # Imported here, not with the registry: Apprise loads its plugins on import (about a second on
    # a busy machine), which every process that lists channel types would pay.
    import apprise

    asset = apprise.AppriseAsset(async_mode=False, storage_mode="memory", app_id="opsdesk",
                                 app_desc="opsdesk", app_url="", image_url_mask="")
    return apprise.Apprise(asset=asset)


def send(config: dict, messages: list[Message], *, client: httpx.Client | None = None, now: float) -> SendResult:
    url = str(config.get("url") or "").strip()
    hide = (url, *_url_parts(url))
    body, delivered = fit(messages, build)
    payload = json.loads(body)
    notifier = _apprise()
    if not notifier.add(url):
        return SendResult(ok=False, status=0, detail="not an address Apprise knows (check the scheme and tokens)")
    logs: list[str] = []
    result = notifier.notify(body=payload["body"], title=payload["title"], body_format="markdown",
                             notify_type=NOTIFY_TYPE[worst(messages[:delivered])],
                             log_callback=lambda entry, plugin: logs.append(str(entry.message)))
    if result:
        return SendResult(ok=True, status=200, delivered=delivered)
    detail = scrub(" ".join(logs) or "Apprise could not send the notification", hide)
    found = HTTP_ERROR.search(detail)
    return SendResult(ok=False, status=int(found.group(1)) if found else 0, detail=detail)


def _url_parts(url: str) -> list[str]:
    """The tokens inside an Apprise URL (path segments, user, password), none of which may be logged."""
    rest = url.partition("://")[2]
    parts = re.split(r"[/@:?&=]", rest)
    return [p for p in parts if len(p) >= 6]


CHANNEL = ChannelType(
    name="apprise",
    label=gettext_noop("Apprise (Slack, Telegram, Teams, …)"),
    send=send,
    config_schema=SCHEMA,
    destination=lambda config: fingerprint("apprise", str(config.get("url", ""))),
    secrets=("url",),
)
