"""Text people write, made safe to show: plain text becomes HTML paragraphs, and HTML from mail
or chat keeps its structure and loses everything that could run (nh3, Rust's ammonia)."""

from __future__ import annotations

import html
import re

import nh3

# What a reply may keep of the HTML it came with: structure and emphasis, links and tables; no
# scripts, styles, forms, frames, event handlers or remote images that would track the reader.
ALLOWED_TAGS = {"p", "br", "div", "span", "b", "strong", "i", "em", "u", "s", "code", "pre", "blockquote",
                "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "h1", "h2", "h3", "h4",
                "h5", "h6", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


def sanitize_html(raw: str) -> str:
    return nh3.clean(raw or "", tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


def text_to_html(text: str) -> str:
    """Plain text as paragraphs (blank lines) and line breaks, every character escaped."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        return ""
    paragraphs = re.split(r"\n\s*\n", text)
    return "".join("<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)


def html_to_text(raw: str) -> str:
    """The words of an HTML body, for previews, search and the plain part of a mail."""
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>|</h\d>", "\n", raw or "")
    text = nh3.clean(text, tags=set())
    return re.sub(r"\n{3,}", "\n\n", html.unescape(text)).strip()
