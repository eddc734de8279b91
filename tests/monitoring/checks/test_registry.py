"""The registry, the parameter schemas, the translations list, and base.py's helpers (counter
rates, thresholds, failures, the guard and the redaction of secrets): no peer needed."""

from __future__ import annotations

import asyncio
import errno
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from opsdesk.monitoring import checks
from opsdesk.monitoring.checks.base import (
    STATES,
    CheckResult,
    CheckSpec,
    CheckType,
    Outcome,
    counter_rate,
    execute,
    failure,
    login,
    result,
)

CHECKS_DIR = Path(checks.__file__).parent


def test_every_type_is_registered_with_a_valid_schema():
    assert set(checks.CHECK_TYPES) == {"ping", "tcp", "http", "dns", "snmp", "postgresql", "mysql", "redis",
                                       "prometheus", "zabbix"}
    for name, check_type in checks.CHECK_TYPES.items():
        assert check_type.name == name and check_type.label and check_type.default_interval > 0
        schema = check_type.params_schema
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        for key, prop in schema["properties"].items():
            assert prop.get("title"), f"{name}.{key} has no title"
        # The defaults, with the required parameters filled in, are valid parameters.
        defaults = {k: p["default"] for k, p in schema["properties"].items() if "default" in p}
        defaults.update({k: 80 for k in schema["required"]})
        assert not list(Draft202012Validator(schema).iter_errors(defaults)), name


def test_an_unknown_type_is_a_clear_key_error():
    with pytest.raises(KeyError, match="unknown check type 'telnet'; the known types are dns, http"):
        checks.get("telnet")
    assert checks.get("http") is checks.CHECK_TYPES["http"]


def test_the_checks_and_the_collector_import_nothing_of_django():
    code = ("import sys, opsdesk.monitoring.checks, opsdesk.monitoring.collector\n"
            "from opsdesk.monitoring.checks import prepare\n"
            "prepare(opsdesk.monitoring.checks.CHECK_TYPES)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'celery')\n"
            "             or m.startswith('opsdesk.') and not m.startswith(('opsdesk.monitoring.checks',\n"
            "             'opsdesk.monitoring.collector')) and m != 'opsdesk.monitoring')\n"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_counter_rates_are_safe_across_resets_and_wraps():
    memo: dict = {}
    assert counter_rate(memo, "c", 100, 0.0) is None  # first sample
    assert counter_rate(memo, "c", 300, 2.0) == 100
    assert counter_rate(memo, "c", 300, 2.0) is None  # no time passed
    assert counter_rate(memo, "c", 50, 3.0) is None  # went down: a reset, not -250/s
    assert counter_rate(memo, "c", 150, 4.0) == 100  # and counts again from the new value
    top = 2 ** 32
    memo = {}
    counter_rate(memo, "w", top - 100, 0.0, bits=32)
    assert counter_rate(memo, "w", 900, 1.0, bits=32) == 1000  # wrapped through 2**32
    counter_rate(memo, "m", top // 2, 0.0, bits=32)
    assert counter_rate(memo, "m", 10, 1.0, bits=32) is None  # from mid-range: a reset, not a wrap
    counter_rate(memo, "h", 2 ** 64 - 10, 0.0, bits=64)
    assert counter_rate(memo, "h", 10, 2.0, bits=64) == 10


def test_thresholds_name_value_and_limit():
    outcome = Outcome()
    outcome.threshold(250.0, 200, 500, what="response time", unit=" ms")
    warning = outcome.result("fine")
    assert (warning.state, warning.code) == ("warning", "threshold")
    assert warning.message == "response time 250 ms is above the warning threshold 200 ms"
    assert warning.params == {"value": 250.0, "threshold": 200, "what": "response time", "unit": "ms"}
    below = Outcome()
    below.threshold(3.5, 14, 7, what="days left", below=True)
    assert below.result("").state == "critical"
    quiet = Outcome()
    quiet.threshold(None, 1, 2, what="nothing")
    quiet.threshold(5, None, None, what="no limits")
    assert quiet.result("all good").state == "ok"


def test_the_worst_problem_wins_and_others_are_named():
    outcome = Outcome()
    outcome.problem("warning", "threshold", "a is high")
    outcome.problem("critical", "http_status", "HTTP 500", status=500)
    outcome.note("1 line unreadable")
    combined = outcome.result("ignored")
    assert (combined.state, combined.code, combined.params) == ("critical", "http_status", {"status": 500})
    assert combined.message == "HTTP 500; a is high; 1 line unreadable"


def test_samples_are_finite_and_well_named():
    outcome = Outcome()
    outcome.sample("ok_metric", 1, name="label called name", value="and value")
    outcome.sample("nan_metric", float("nan"))
    outcome.sample("none_metric", None)
    assert [(s.name, s.labels) for s in outcome.samples] == [
        ("ok_metric", {"name": "label called name", "value": "and value"})]
    with pytest.raises(ValueError):
        outcome.sample("bad-name", 1)


@pytest.mark.parametrize(("exc", "code"), [
    (TimeoutError(), "timeout"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "refused"),
    (socket.gaierror(-2, "Name or service not known"), "resolve_error"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), "unreachable"),
    (ConnectionResetError(errno.ECONNRESET, "reset"), "reset"),
])
def test_failures_are_classified_along_the_cause_chain(exc, code):
    try:
        try:
            raise exc
        except Exception as inner:
            raise RuntimeError("wrapped by a driver") from inner
    except RuntimeError as outer:
        assert failure(outer, timeout=3).code == code
    assert failure(exc).state == "critical"


def test_the_guard_turns_bugs_into_unknown_and_hides_secrets():
    async def boom(spec, memo):
        raise ValueError(f"could not log in with {spec.secrets['password']}")

    async def wrong_shape(spec, memo):
        return {"state": "ok"}

    async def leaky(spec, memo):
        return result("critical", "auth_failed", f"password {spec.secrets['password']} refused", echo="x-pw-123-x")

    spec = CheckSpec(id=1, type="boom", target="h", params={}, secrets={"password": "pw-123"})
    kind = {name: CheckType(name, name, run, {}, 60.0, ("password",))
            for name, run in (("boom", boom), ("shape", wrong_shape), ("leaky", leaky))}
    crashed = asyncio.run(execute(kind["boom"], spec, {}))
    assert (crashed.state, crashed.code) == ("unknown", "error") and crashed.state in STATES
    assert "pw-123" not in crashed.message and "***" in crashed.message
    assert asyncio.run(execute(kind["shape"], spec, {})).state == "unknown"
    leaked = asyncio.run(execute(kind["leaky"], spec, {}))
    assert isinstance(leaked, CheckResult)
    assert "pw-123" not in leaked.message and "pw-123" not in leaked.params["echo"]


def test_the_login_comes_from_params_then_the_credential():
    schema = checks.get("postgresql").params_schema
    spec = CheckSpec(id=1, type="postgresql", target="h", params={}, secrets={"username": "monitor"})
    assert login(spec, "user", schema) == "monitor"
    assert login(CheckSpec(1, "postgresql", "h", {"user": "ops"}, secrets={"username": "monitor"}), "user",
                 schema) == "ops"
    assert login(CheckSpec(1, "postgresql", "h", {}), "user", schema) == "postgres"
