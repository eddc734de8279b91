"""Compiles the .po catalogues into .mo with polib, so starting opsdesk needs no GNU gettext."""

from __future__ import annotations

from pathlib import Path

import polib
from django.conf import settings


def catalogues() -> list[Path]:
    found: list[Path] = []
    for base in settings.LOCALE_PATHS:
        found.extend(sorted(Path(base).glob("*/LC_MESSAGES/*.po")))
    return found


def compile_translations(force: bool = False) -> list[str]:
    compiled = []
    for po_path in catalogues():
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        compiled.append(po_path.parent.parent.name)
    return compiled
