"""A raw message → what the desk needs of it, without ever raising on what a sender wrote.

Python's `email` package does the MIME work; everything a header or a part
can break (undeclared 8-bit headers, GB2312 declared for GBK text, unknown charsets, a broken
multipart) is read through the tolerant helpers here. HTML is sanitised with nh3
(richtext.sanitize_html); plain text becomes escaped paragraphs."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message

from opsdesk.servicedesk.richtext import html_to_text, sanitize_html, text_to_html

# Chinese mail very often declares GB2312 and uses characters only GBK/GB18030 have; GB18030
# is a superset of both, so it decodes every such message right.
CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
                   "euc-cn": "gb18030", "hz-gb-2312": "hz", "big5": "big5hkscs", "ks_c_5601-1987": "cp949",
                   "us-ascii": "utf-8", "ascii": "utf-8", "unknown-8bit": "utf-8", "x-unknown": "utf-8"}
# Charsets to try, in order, for bytes that declare none or a wrong one.
FALLBACKS = ("utf-8", "gb18030", "big5hkscs")
MAX_HEADER_CHARS = 10_000  # of one header we read; the rest of a hostile header is dropped
MAX_REFERENCES = 50
MAX_PARTS = 500  # a message of more parts is broken or hostile: the rest is not read
MSGID = re.compile(r"<([^<>\s]{1,298})>")


@dataclass
class ParsedMail:
    message_id: str  # without angle brackets; the hash key when the message has none
    from_name: str
    from_address: str
    subject: str
    date: dt.datetime | None
    in_reply_to: list[str]
    references: list[str]
    html: str  # sanitised HTML of the body
    text: str  # the body as plain text (for previews and language guessing)
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, of the ones loops.py reads
    content_type: str = ""
    defects: list[str] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        """Ids of earlier messages, nearest first: In-Reply-To, then References from the end."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in the declared charset (mapped to what senders really use), else the fallbacks,
    else UTF-8 with replacement characters: never an exception."""
    names = []
    if charset:
        cs = charset.strip().strip('"').lower()
        names.append(CHARSET_ALIASES.get(cs, cs))
    names += [n for n in FALLBACKS if n not in names]
    for name in names:
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def decode_header(raw: str | None) -> str:
    """A header's text: RFC 2047 encoded-words in any charset, or raw 8-bit (a client that
    wrote GBK straight into the header), folded onto one line."""
    if raw is None:
        return ""
    raw = str(raw)[:MAX_HEADER_CHARS]
    if any("\udc80" <= ch <= "\udcff" for ch in raw):
        # The parser kept undeclared 8-bit bytes as surrogates: take the bytes back and decode them.
        raw = decode_bytes(raw.encode("ascii", "surrogateescape"), None)
    try:
        parts = email.header.decode_header(raw)
    except Exception:
        parts = [(raw, None)]
    text = "".join(p if isinstance(p, str) else decode_bytes(p, cs) for p, cs in parts)
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def raw_header(msg: Message, name: str) -> str | None:
    """The header's value as it came (no policy parsing, which raises on some bad headers)."""
    lname = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == lname:
            return value if isinstance(value, str) else str(value)
    return None


def _address(msg: Message, name: str) -> tuple[str, str]:
    value = decode_header(raw_header(msg, name))
    if not value:
        return "", ""
    try:
        pairs = email.utils.getaddresses([value])
    except Exception:
        pairs = []
    for display, addr in pairs:
        if "@" in addr:
            return display.strip()[:200], addr.strip().lower()[:254]
    found = re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", value)
    return "", (found.group(0).lower() if found else "")


def _ids(msg: Message, name: str) -> list[str]:
    value = raw_header(msg, name) or ""
    return MSGID.findall(value[:MAX_HEADER_CHARS])


def _date(msg: Message) -> dt.datetime | None:
    try:
        value = email.utils.parsedate_to_datetime(decode_header(raw_header(msg, "Date")))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC)
    # A clock years off (or a forged date) would misplace the entry in the timeline.
    if value.year < 1990 or value > now + dt.timedelta(days=1):
        return None
    return value.astimezone(dt.UTC)


def content_key(raw: bytes, msg: Message) -> str:
    """A stable key for a message without Message-ID: the hash of who, when, what and the body
    (not the transport headers, which differ between two deliveries of the same message)."""
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Date", "Subject"):
        digest.update((raw_header(msg, name) or "").encode("utf-8", "surrogateescape") + b"\0")
    head_end = raw.find(b"\r\n\r\n")
    head_end = head_end + 4 if head_end >= 0 else (raw.find(b"\n\n") + 2 if b"\n\n" in raw else len(raw))
    digest.update(raw[head_end:])
    return "sha256-" + digest.hexdigest()


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    return data


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        params = raw_header(part, "Content-Disposition") or raw_header(part, "Content-Type") or ""
        found = re.search(r'name\*?="?([^";]+)', params)
        name = found.group(1) if found else None
    return decode_header(name) if name else ""


def _walk(msg: Message, out: list[Message], depth: int = 0) -> None:
    """The leaves of the MIME tree, an attached message (message/rfc822) kept whole as one leaf."""
    if len(out) >= MAX_PARTS or depth > 20:
        return
    if msg.is_multipart() and msg.get_content_maintype() == "multipart":
        payload = msg.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, Message):
                _walk(sub, out, depth + 1)
        return
    out.append(msg)


def _body_and_files(msg: Message) -> tuple[str, str, list[tuple[str, bytes, str]]]:
    html_body = plain = ""
    files: list[tuple[str, bytes, str]] = []
    leaves: list[Message] = []
    _walk(msg, leaves)
    for part in leaves:
        ctype = part.get_content_type()
        try:
            disposition = part.get_content_disposition()
        except Exception:
            disposition = None
        name = _filename(part)
        if ctype == "message/rfc822":
            inner = part.get_payload()
            data = inner[0].as_bytes() if isinstance(inner, list) and inner else _payload(part)
            files.append((name or "attached-message.eml", data, "message/rfc822"))
        elif name or disposition == "attachment" or ctype.split("/")[0] not in ("text", "multipart"):
            files.append((name or "attachment", _payload(part), ctype))
        elif ctype == "text/html" and not html_body:
            html_body = decode_bytes(_payload(part), part.get_content_charset())
        elif ctype == "text/plain" and not plain:
            plain = decode_bytes(_payload(part), part.get_content_charset())
    return html_body, plain, files


def parse(raw: bytes) -> ParsedMail:
    """Parse a message. Raises only when the bytes are not a message at all (empty, or not one
    header): the caller quarantines those with the reason."""
    if not raw or not raw.strip():
        raise ValueError("empty message")
    # compat32: headers stay raw strings until read through the tolerant helpers here, which is
    # both what a hostile message needs and three times faster than policy.default's objects.
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not msg.keys():
        raise ValueError("no mail headers")
    ids = _ids(msg, "Message-ID")
    message_id = ids[0] if ids else content_key(raw, msg)
    from_name, from_address = _address(msg, "From")
    if not from_address:
        from_name, from_address = _address(msg, "Sender")
    html_body, plain, files = _body_and_files(msg)
    if html_body:
        safe = sanitize_html(html_body)
    else:
        safe = text_to_html(plain)
    text = plain or html_to_text(safe)
    headers = {}
    for name in ("Auto-Submitted", "Precedence", "X-Autoreply", "X-Autorespond", "X-Autoresponder",
                 "X-Auto-Response-Suppress", "Return-Path", "X-Failed-Recipients", "List-Id", "X-Loop",
                 "X-Opsdesk-Instance"):
        value = raw_header(msg, name)
        if value is not None:
            headers[name.lower()] = decode_header(value)[:500]
    defects = [type(d).__name__ for d in getattr(msg, "defects", [])][:20]
    return ParsedMail(
        message_id=message_id[:300], from_name=from_name, from_address=from_address,
        subject=decode_header(raw_header(msg, "Subject"))[:1000], date=_date(msg),
        in_reply_to=_ids(msg, "In-Reply-To")[:MAX_REFERENCES], references=_ids(msg, "References")[-MAX_REFERENCES:],
        html=safe, text=text, attachments=files, headers=headers, content_type=msg.get_content_type(),
        defects=defects)


# --- quoted history ----------------------------------------------------------------------------------

# Where a reply's own words end: the quoting line of the common clients (Outlook, Gmail, Apple
# Mail, Thunderbird, Foxmail, QQ Mail, NetEase), in English and Chinese.
_QUOTE_MARKERS = [
    r"-{2,}\s*Original Message\s*-{2,}", r"-{2,}\s*原始邮件\s*-{2,}", r"-{2,}\s*回复的原邮件\s*-{2,}",
    r"On .{1,200}wrote:", r"在\s*.{1,200}写道[:：]", r"^\s*(From|发件人)\s*[:：].{1,300}$",
]
_QUOTE = re.compile("|".join(f"(?:{m})" for m in _QUOTE_MARKERS), re.MULTILINE | re.IGNORECASE)
_HTML_QUOTE_STARTS = [
    r'<div[^>]*class="[^"]*gmail_quote', r'<blockquote[^>]*type="cite"', r'<div[^>]*id="divRplyFwdMsg"',
    r'<div[^>]*id="appendonsend"', r'<div[^>]*class="[^"]*moz-cite-prefix',
]


def strip_quoted_html(safe_html: str) -> str:
    """The reply without the history it quotes, where the client marked or worded it plainly;
    the whole text when that would leave nothing."""
    cut = len(safe_html)
    for pattern in _HTML_QUOTE_STARTS:
        found = re.search(pattern, safe_html, re.IGNORECASE)
        if found:
            cut = min(cut, found.start())
    found = _QUOTE.search(safe_html)
    if found:
        # Cut at the start of the paragraph or line that holds the marker.
        start = max(safe_html.rfind("<p", 0, found.start()), safe_html.rfind("<div", 0, found.start()),
                    safe_html.rfind("<br", 0, found.start()))
        cut = min(cut, start if start >= 0 else found.start())
    head = safe_html[:cut]
    if not re.sub(r"<[^>]*>|\s|&nbsp;", "", head):
        return safe_html
    return sanitize_html(head)  # closes what the cut left open
