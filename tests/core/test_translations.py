"""zh-Hans is complete: every msgid in the code is in the catalogue, and every one is translated."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "opsdesk/locale/zh_Hans/LC_MESSAGES/django.po"


def test_every_entry_is_translated_and_none_is_fuzzy():
    catalogue = polib.pofile(str(PO))
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert not untranslated, f"untranslated in {PO.name}: {untranslated[:20]}"
    assert not fuzzy, f"fuzzy in {PO.name}: {fuzzy[:20]}"


def test_placeholders_survive_translation():
    for entry in polib.pofile(str(PO)):
        if "python-format" in entry.flags:
            for placeholder in ("%(", "%s", "%d"):
                assert entry.msgid.count(placeholder) == entry.msgstr.count(placeholder) or entry.msgid_plural, \
                    entry.msgid


@pytest.mark.skipif(shutil.which("xgettext") is None,
                    reason="GNU gettext (xgettext) is not installed; make test installs it")
def test_the_catalogue_has_every_msgid_of_the_code(tmp_path):
    """Extract the messages from a copy of the code and compare: a new string without a
    translation fails here."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "opsdesk", copy / "opsdesk", ignore=shutil.ignore_patterns("vendor", "__pycache__", "*.mo"))
    env = {**os.environ, "OPSDESK_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(copy)}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "django", "makemessages", "--settings=opsdesk.settings", "-l", "zh_Hans",
                    "--no-obsolete", "--no-location"], cwd=copy, env=env, check=True, capture_output=True)
    extracted = {(e.msgctxt, e.msgid) for e in polib.pofile(str(copy / "opsdesk/locale/zh_Hans/LC_MESSAGES/django.po"))}
    present = {(e.msgctxt, e.msgid) for e in polib.pofile(str(PO)) if not e.obsolete}
    missing = sorted(m for _c, m in extracted - present)
    assert not missing, f"run `make messages` and translate: {missing[:20]}"


def test_translation_functions_keep_names_makemessages_reads():
    """xgettext finds gettext(), _() and the lazy and plural forms by name: a string marked through
    another alias (`gettext as _g`) is never extracted, and stays English in every language."""
    alias = re.compile(r"from django\.utils\.translation import[^\n]*\b(\w*gettext\w*) as (\w+)")
    wrong = []
    for path in (ROOT / "opsdesk").rglob("*.py"):
        for function, name in alias.findall(path.read_text()):
            if name != "_":
                wrong.append(f"{path.relative_to(ROOT)}: {function} as {name}")
    assert not wrong, wrong
