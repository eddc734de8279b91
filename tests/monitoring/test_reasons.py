"""Every result code a check can give has a sentence in the person's language, filled from the
parameters the check passes with it: the overview, the CI page and the check page show that
sentence, and the check's own technical message only as a fall-back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

from opsdesk.monitoring import panels, reasons
from opsdesk.monitoring.models import Check

pytestmark = pytest.mark.django_db

SOURCES = Path(reasons.__file__).parent
# result("critical", "auth_failed", ...) and outcome.problem("warning", "interface_down", ...)
CODE = re.compile(r'(?:result|problem)\(\s*"(?:critical|warning|unknown|ok)",\s*"([a-z_]+)"')


def codes_in_the_checks() -> set[str]:
    found: set[str] = set()
    for path in [*(SOURCES / "checks").glob("*.py"), *(SOURCES / "collector").glob("*.py")]:
        found.update(CODE.findall(path.read_text()))
    return found


def test_every_code_a_check_gives_has_a_sentence():
    codes = codes_in_the_checks()
    assert {"timeout", "auth_failed", "interface_down", "dns_nxdomain"} <= codes  # the scan finds them
    assert sorted(codes - set(reasons.REASONS)) == []


@pytest.mark.parametrize(("code", "params", "english", "chinese"), [
    ("http_status", {"status": 503}, "HTTP status 503 is not one of those expected", "503"),
    ("tls_expiring", {"days": 6.5, "threshold": 14}, "The TLS certificate expires in 6.5 days", "6.5 天"),
    ("interface_down", {"interface": "ge-0/0/1"}, "Interface ge-0/0/1 is not up", "ge-0/0/1"),
    ("dns_no_answer", {"record_type": "AAAA"}, "No AAAA record", "AAAA"),
    ("snmp_missing_oid", {"oid": "1.3.6.1.4.1.9.2"}, "OID 1.3.6.1.4.1.9.2 does not exist on the agent", "1.3.6"),
    ("auth_failed", {}, "Authentication failed", "认证失败"),
])
def test_a_reason_is_filled_from_the_checks_parameters_in_both_languages(code, params, english, chinese):
    check = Check(last_code=code, last_params=params, last_message="technical English")
    with translation.override("en"):
        assert panels.reason(check) == english
    with translation.override("zh-hans"):
        text = panels.reason(check)
    assert chinese in text and text != english and "technical English" not in text


def test_a_reason_missing_its_parameter_falls_back_to_the_checks_message():
    check = Check(last_code="interface_down", last_params={}, last_message="interface eth9 not found")
    assert panels.reason(check) == "interface eth9 not found"


def test_a_value_missing_falls_back_to_the_message_and_without_one_marks_the_gap():
    before_values_were_kept = Check(last_code="timeout", last_params={}, last_message="no answer within 10 s")
    assert panels.reason(before_values_were_kept) == "no answer within 10 s"
    with translation.override("en"):
        assert panels.reason(Check(last_code="timeout", last_params={}, last_message="")) == "No answer within ? s"
