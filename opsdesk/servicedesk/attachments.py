"""Attachments: checked against the size and type limits before anything is written, stored
under the data directory by content hash (opsdesk.settings MEDIA_ROOT)."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Sequence

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from opsdesk.servicedesk.models import Attachment


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def check_files(files: Sequence, field: str = "files") -> dict[str, list[str]]:
    """The errors of a set of uploads (Django UploadedFile or (name, bytes, content_type)), naming
    each refused file with the limit it broke; empty when all may be kept."""
    errors: list[str] = []
    limit = settings.OPSDESK_ATTACHMENT_MAX_BYTES
    files = list(files)
    if len(files) > settings.OPSDESK_ATTACHMENT_MAX_FILES:
        errors.append(_("At most %(count)d files at a time.") % {"count": settings.OPSDESK_ATTACHMENT_MAX_FILES})
    for upload in files:
        name, size = _name_and_size(upload)
        if _extension(name) in settings.OPSDESK_ATTACHMENT_FORBIDDEN_EXTENSIONS:
            errors.append(_("%(name)s: files of type .%(ext)s are not accepted.")
                          % {"name": name, "ext": _extension(name)})
        elif size > limit:
            errors.append(_("%(name)s is %(size)s; the limit is %(limit)s.")
                          % {"name": name, "size": filesizeformat(size), "limit": filesizeformat(limit)})
    return {field: errors} if errors else {}


def _name_and_size(upload) -> tuple[str, int]:
    if isinstance(upload, tuple):
        return str(upload[0] or "attachment"), len(upload[1])
    return str(getattr(upload, "name", "") or "attachment"), int(upload.size)


def _content(upload) -> tuple[str, bytes, str]:
    if isinstance(upload, tuple):
        name, data, content_type = (list(upload) + [""])[:3]
    else:
        name, data, content_type = upload.name, b"".join(upload.chunks()), getattr(upload, "content_type", "")
    name = (str(name or "attachment").replace("/", "_").replace("\\", "_"))[-255:]
    content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return name, data, content_type


def store(ticket, files: Sequence, *, entry=None, actor=None) -> list[Attachment]:
    """Write the files (already checked) and their rows, in the caller's transaction."""
    stored = []
    for upload in files:
        name, data, content_type = _content(upload)
        digest = hashlib.sha256(data).hexdigest()
        attachment = Attachment(ticket=ticket, entry=entry, name=name, content_type=content_type[:100],
                                size=len(data), sha256=digest,
                                uploaded_by=actor if actor is not None and actor.pk else None)
        attachment.file.save(name, ContentFile(data), save=False)
        attachment.save()
        stored.append(attachment)
    return stored
