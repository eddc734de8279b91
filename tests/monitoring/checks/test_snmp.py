"""snmp against a real snmpd: v1, v2c and v3 (SHA/AES), the system group, interface rates, a custom
counter that resets and wraps, and wrong credentials."""

from __future__ import annotations

import time

import pytest

from .conftest import COUNTER_OID, SYS_NAME
from .peers import run_check, samples, value

pytestmark = pytest.mark.xdist_group("monitoring-checks")


def _v2c(agent, **params):
    return run_check("snmp", "127.0.0.1", secrets={"community": agent.community}, port=agent.port, **params)


def _v3(agent, auth_key=None, **params):
    secrets = {"user": agent.user, "auth_protocol": "SHA", "auth_key": auth_key or agent.auth_key,
               "priv_protocol": "AES", "priv_key": agent.priv_key}
    return run_check("snmp", "127.0.0.1", secrets=secrets, version="3", port=agent.port, **params)


def test_v2c_reads_the_system_group_and_interfaces(snmp_agent):
    memo: dict = {}
    first = _v2c(snmp_agent, memo=memo)
    assert (first.state, first.code) == ("ok", "ok"), first.message
    info = samples(first, "snmp_info")[0]
    assert info.labels["sys_name"] == SYS_NAME
    assert info.labels["sys_descr"].startswith("Linux")
    assert first.params["sys_name"] == SYS_NAME and SYS_NAME in first.message
    assert value(first, "snmp_uptime_seconds") >= 0
    assert value(first, "snmp_if_oper_status", interface="lo") == 1
    # Rates need a second run; the loopback's 64-bit counters give them.
    assert not samples(first, "snmp_if_in_bits_per_second")
    time.sleep(0.3)
    second = _v2c(snmp_agent, memo=memo)
    rate = value(second, "snmp_if_in_bits_per_second", interface="lo")
    assert rate >= 0  # snmpd's own traffic on lo, at least
    assert all(s.value >= 0 for s in samples(second, "snmp_if_out_bits_per_second"))
    kept = _v2c(snmp_agent, interface_include="^lo$", expect_up=["lo"])
    assert {s.labels["interface"] for s in samples(kept, "snmp_if_oper_status")} == {"lo"}
    assert kept.state == "ok"
    missing = _v2c(snmp_agent, interfaces=True, expect_up=["eth-none"])
    assert (missing.state, missing.code) == ("critical", "interface_down")


def test_v1_walks_the_interfaces_with_getnext_and_rates_from_32_bit_counters(snmp_agent):
    memo: dict = {}
    first = _v2c(snmp_agent, memo=memo, version="1", interface_include="^lo$")
    assert (first.state, first.code) == ("ok", "ok"), first.message
    assert samples(first, "snmp_info")[0].labels["sys_name"] == SYS_NAME
    assert value(first, "snmp_if_oper_status", interface="lo") == 1
    # SNMPv1 has no Counter64: the loopback's rate comes from the 32-bit ifInOctets.
    assert ("if", (1,), "in", 32) in memo["counters"]
    assert not any(key[-1] == 64 for key in memo["counters"])
    time.sleep(0.3)
    second = _v2c(snmp_agent, memo=memo, version="1", interface_include="^lo$")
    assert value(second, "snmp_if_in_bits_per_second", interface="lo") >= 0


def test_v1_reports_a_missing_oid_and_still_reads_the_others(snmp_agent):
    """A v1 agent refuses a whole GET naming an object it lacks (noSuchName)."""
    oids = [{"name": "nothing", "oid": "1.3.6.1.4.1.99998.1.0"},
            {"name": "uptime_ticks", "oid": "1.3.6.1.2.1.1.3.0", "critical": 1}]
    result = _v2c(snmp_agent, version="1", interfaces=False, oids=oids)
    assert (result.state, result.code) == ("critical", "threshold"), result.message
    assert value(result, "snmp_uptime_ticks") > 1
    assert "nothing (1.3.6.1.4.1.99998.1.0): no such object" in result.message


def test_v3_with_sha_and_aes(snmp_agent):
    result = _v3(snmp_agent, interfaces=False)
    assert (result.state, result.code) == ("ok", "ok"), result.message
    assert samples(result, "snmp_info")[0].labels["sys_name"] == SYS_NAME
    wrong = _v3(snmp_agent, auth_key="not-the-key-000", interfaces=False)
    assert (wrong.state, wrong.code) == ("critical", "auth_failed"), wrong.message
    assert "not-the-key-000" not in wrong.message and snmp_agent.priv_key not in wrong.message


def test_credentials_as_the_server_gives_them_choose_the_version(snmp_agent):
    """opsdesk.monitoring.local.secrets_of: a community credential has no user name; an SNMPv3 one
    names its user, with its keys in a JSON object, or its pass phrase as a plain secret."""
    v2c = run_check("snmp", "127.0.0.1", port=snmp_agent.port, interfaces=False,
                    secrets={"username": "", "password": snmp_agent.community, "community": snmp_agent.community})
    assert v2c.state == "ok", v2c.message
    v3 = run_check("snmp", "127.0.0.1", port=snmp_agent.port, interfaces=False, version="2c",
                   secrets={"username": snmp_agent.user, "auth_key": snmp_agent.auth_key,
                            "priv_key": snmp_agent.priv_key, "auth_protocol": "SHA", "priv_protocol": "AES"})
    assert v3.state == "ok", v3.message
    # The agent's user needs privacy: authentication alone (a plain pass phrase) is refused.
    no_priv = run_check("snmp", "127.0.0.1", port=snmp_agent.port, interfaces=False, timeout=1.0, retries=0,
                        secrets={"username": snmp_agent.user, "password": snmp_agent.auth_key,
                                 "community": snmp_agent.auth_key})
    assert (no_priv.state, no_priv.code) == ("critical", "auth_failed"), no_priv.message
    assert snmp_agent.auth_key not in no_priv.message


def test_a_wrong_community_gets_no_answer(snmp_agent):
    result = run_check("snmp", "127.0.0.1", secrets={"community": "not-this-one"}, port=snmp_agent.port,
                       retries=0, timeout=1.0)
    assert (result.state, result.code) == ("critical", "timeout")
    assert "community" in result.message and "not-this-one" not in result.message


def test_a_custom_counter_that_resets_gives_no_negative_rate(snmp_agent):
    oids = [{"name": "test_counter", "oid": COUNTER_OID, "kind": "counter"}]
    memo: dict = {}

    def run(counter: int):
        snmp_agent.counter_file.write_text(f"{counter}\n")
        result = _v2c(snmp_agent, memo=memo, interfaces=False, oids=oids)
        assert result.state == "ok", result.message
        time.sleep(0.2)
        return samples(result, "snmp_test_counter_per_second")

    assert run(1000) == []  # the first run only remembers
    grown = run(3000)
    assert len(grown) == 1 and 2000 / 2 < grown[0].value < 2000 / 0.2
    assert run(10) == []  # went down from the middle of the range: a reset, no rate
    near_top = 2 ** 32 - 500
    run(near_top)
    wrapped = run(700)  # from the top quarter to the bottom: a 32-bit wrap of 1,200
    assert len(wrapped) == 1 and 1200 / 2 < wrapped[0].value < 1200 / 0.2


def test_custom_gauge_thresholds_and_a_missing_oid(snmp_agent):
    oids = [{"name": "uptime_ticks", "oid": "1.3.6.1.2.1.1.3.0", "warning": 1, "critical": 10 ** 12},
            {"name": "nothing", "oid": "1.3.6.1.4.1.99998.1.0"}]
    result = _v2c(snmp_agent, interfaces=False, oids=oids)
    assert (result.state, result.code) == ("warning", "threshold"), result.message
    assert "uptime_ticks" in result.message and "nothing" in result.message
    assert value(result, "snmp_uptime_ticks") > 1


def test_snmp_refused_port_times_out(closed_port):
    # UDP has no refusal a client sees: a closed port looks like an agent that does not answer.
    result = run_check("snmp", "127.0.0.1", secrets={"community": "public"}, port=closed_port, retries=0,
                       timeout=0.6)
    assert result.state == "critical" and result.code in ("timeout", "snmp_error")
