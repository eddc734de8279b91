"""Attachment downloads, for the portal and the desk alike: `/servicedesk/attachments/<id>/`.

Attachments live under MEDIA_ROOT and are never served statically: this view answers only to
someone who may view the ticket (404 otherwise, as if there were no such file), and a customer
user only for attachments of the public conversation (not of internal notes).

What a person uploads is not trusted: its stored type is the uploader's word. Only raster images
are shown inline (with their own type); everything else, HTML and SVG above all, comes as a
download of type application/octet-stream, with nosniff and a sandboxing CSP, so a file can never
run as a page of opsdesk.
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404

from opsdesk.core.permissions import CUSTOMER, can
from opsdesk.servicedesk.models import Attachment

MAX_ID = 2**63 - 1
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
INLINE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "webp"})


def _inline_type(attachment: Attachment) -> str | None:
    """The type to show the file inline with, or None to send it as a download."""
    extension = attachment.name.rsplit(".", 1)[-1].lower() if "." in attachment.name else ""
    kind = (attachment.content_type or "").split(";")[0].strip().lower()
    return kind if kind in INLINE_TYPES and extension in INLINE_EXTENSIONS else None


def may_download(user, attachment: Attachment) -> bool:
    if not can(user, "view", attachment.ticket):
        return False
    if getattr(user, "role", None) == CUSTOMER and attachment.entry_id is not None and not attachment.entry.public:
        return False
    return True


def disposition(kind: str, name: str) -> str:
    """`Content-Disposition` naming the file: an ASCII stand-in for old clients and the real
    name in RFC 5987's `filename*` (a Chinese name arrives intact)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name) or "attachment"
    if fallback == name:
        return f'{kind}; filename="{name}"'
    return f"{kind}; filename=\"{fallback}\"; filename*=utf-8''{quote(name, safe='')}"


@login_required
def attachment(request: HttpRequest, pk: int) -> FileResponse:
    if not 0 < pk <= MAX_ID:
        raise Http404
    found = get_object_or_404(Attachment.objects.select_related("ticket", "entry"), pk=pk)
    if not may_download(request.user, found):
        raise Http404
    try:
        handle = found.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    inline = _inline_type(found) if request.GET.get("download") != "1" else None
    response = FileResponse(handle, as_attachment=inline is None, filename=found.name,
                            content_type=inline or "application/octet-stream")
    response["Content-Disposition"] = disposition("inline" if inline else "attachment", found.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cache-Control"] = "private, no-cache"
    return response
