"""snmp: an SNMP v1, v2c or v3 agent with pysnmp (asyncio): the system group, the interface table
with per-interface traffic rates, and custom OIDs.

Secrets: v1 and v2c `community`; v3 `user` (or `username`), `auth_protocol` (MD5, SHA, SHA224, SHA256,
SHA384, SHA512; default SHA), `auth_key` (or `password`), `priv_protocol` (DES, 3DES, AES, AES192,
AES256, AES192C, AES256C; default AES) and `priv_key`. Secrets that name a user make it v3 even
where `version` says 2c (a template's check applied with an SNMPv3 credential).

SNMPv1 (`version` "1", for old devices: UPSes, printers, PDUs, early switches) has no GETBULK and
no 64-bit counters: the interface table is walked with GETNEXT, a row a request, and its rates
come from the 32-bit ifInOctets/ifOutOctets (wrap-safe as below). A v1 agent answers a request
naming an object it lacks with noSuchName for the whole request: that object is set aside (a
custom OID reported missing, a table column ended) and the request asked again without it.

Samples:
  snmp_info{sys_name, sys_descr} 1, snmp_uptime_seconds (sysUpTime);
  per interface (labels interface = ifName or ifDescr, index = ifIndex): snmp_if_oper_status and
  snmp_if_admin_status (1 up, 2 down, ...), snmp_if_speed_bits_per_second (ifHighSpeed),
  snmp_if_in_bits_per_second / snmp_if_out_bits_per_second from ifHCInOctets/ifHCOutOctets, or the
  32-bit ifInOctets/ifOutOctets where the agent has no 64-bit counters;
  custom OIDs: snmp_<name> for a gauge, snmp_<name>_per_second for a counter.
Rates need two runs; a counter that went down gives no rate (a reset), unless it wrapped from the
top of its 32- or 64-bit range; an agent whose sysUpTime went back (a restart) starts afresh.
Thresholds: per custom OID, `warning` / `critical` on its value (above, or below with `below`).
`expect_up`: interfaces that must be up (critical "interface_down" otherwise).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import time
import weakref
from typing import Any

from .base import (
    CheckResult,
    CheckSpec,
    CheckType,
    Outcome,
    array,
    boolean,
    counter_rate,
    failure,
    forget_counters,
    gettext_noop,
    integer,
    number,
    param,
    preload,
    result,
    schema,
    string,
)

SYSTEM = {"sys_descr": "1.3.6.1.2.1.1.1.0", "sys_uptime": "1.3.6.1.2.1.1.3.0", "sys_name": "1.3.6.1.2.1.1.5.0"}
IF_COLUMNS = {
    "descr": (1, 3, 6, 1, 2, 1, 2, 2, 1, 2),
    "admin": (1, 3, 6, 1, 2, 1, 2, 2, 1, 7),
    "oper": (1, 3, 6, 1, 2, 1, 2, 2, 1, 8),
    "in32": (1, 3, 6, 1, 2, 1, 2, 2, 1, 10),
    "out32": (1, 3, 6, 1, 2, 1, 2, 2, 1, 16),
    "name": (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1),
    "in64": (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6),
    "out64": (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 10),
    "high_speed": (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15),
}
AUTH_FAILURES = {"UnknownUserName", "WrongDigest", "DecryptionError", "AuthenticationFailure", "AuthenticationError",
                 "UnknownSecurityName", "UnsupportedSecurityLevel", "NotInTimeWindow", "UnknownCommunityName"}

SCHEMA = schema({
    "version": string(gettext_noop("SNMP version"), "2c", enum=["1", "2c", "3"]),
    "port": integer(gettext_noop("Port"), 161, 1, 65535),
    "retries": integer(gettext_noop("Retries"), 1, 0, 5),
    "interfaces": boolean(gettext_noop("Read the interface table"), True),
    "interface_include": string(gettext_noop("Interfaces to keep (regular expression on the name)"), "",
                                format="regex"),
    "max_interfaces": integer(gettext_noop("At most this many interfaces"), 1000, 1, 100_000),
    "expect_up": array(gettext_noop("Interfaces that must be up"), {"type": "string"}, []),
    "oids": array(gettext_noop("Custom OIDs"), {
        "type": "object", "required": ["name", "oid"], "additionalProperties": False,
        "properties": {
            "name": string(gettext_noop("Name"), None, pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$"),
            "oid": string(gettext_noop("OID"), None, pattern=r"^\.?[0-9]+(\.[0-9]+)+$"),
            "kind": string(gettext_noop("Kind"), "gauge", enum=["gauge", "counter"]),
            "warning": number(gettext_noop("Warning threshold")),
            "critical": number(gettext_noop("Critical threshold")),
            "below": boolean(gettext_noop("Alert below the threshold (instead of above)"), False),
        }}, []),
})

AUTH_PROTOCOLS = {"MD5": "USM_AUTH_HMAC96_MD5", "SHA": "USM_AUTH_HMAC96_SHA", "SHA1": "USM_AUTH_HMAC96_SHA",
                  "SHA224": "USM_AUTH_HMAC128_SHA224", "SHA256": "USM_AUTH_HMAC192_SHA256",
                  "SHA384": "USM_AUTH_HMAC256_SHA384", "SHA512": "USM_AUTH_HMAC384_SHA512"}
PRIV_PROTOCOLS = {"DES": "USM_PRIV_CBC56_DES", "3DES": "USM_PRIV_CBC168_3DES", "AES": "USM_PRIV_CFB128_AES",
                  "AES128": "USM_PRIV_CFB128_AES", "AES192": "USM_PRIV_CFB192_AES_BLUMENTHAL",
                  "AES256": "USM_PRIV_CFB256_AES_BLUMENTHAL", "AES192C": "USM_PRIV_CFB192_AES",
                  "AES256C": "USM_PRIV_CFB256_AES"}
MAX_ENGINES = 64


class SnmpFailure(Exception):
    def __init__(self, outcome: CheckResult) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


# --- Engines --------------------------------------------------------------------------------
# Creating an SnmpEngine costs about 70 ms of CPU (it compiles MIB modules), so one is kept per
# event loop and credential set and shared by the runs that use it: pysnmp matches answers to
# requests by request id. Keyed by credentials because pysnmp keeps one entry per v3 user name:
# two devices with the same user name and different keys would otherwise replace each other's.
_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()


def _engine(credentials_key: str) -> tuple[Any, bool]:
    """The shared engine for these credentials, and whether it is shared (else close it after use)."""
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

    per_loop = _engines.setdefault(asyncio.get_running_loop(), {})
    if credentials_key in per_loop:
        return per_loop[credentials_key], True
    if len(per_loop) >= MAX_ENGINES:
        return SnmpEngine(), False
    per_loop[credentials_key] = SnmpEngine()
    return per_loop[credentials_key], True


def _auth(spec: CheckSpec) -> tuple[Any, str]:
    """pysnmp's authentication data and a key naming the credentials (a digest, not the secrets)."""
    from pysnmp.hlapi.v3arch import asyncio as hlapi

    secrets = spec.secrets
    user = secrets.get("user") or secrets.get("username")
    if version(spec) in ("1", "2c"):
        v1 = version(spec) == "1"
        return hlapi.CommunityData(secrets.get("community") or "public", mpModel=0 if v1 else 1), \
            "v1" if v1 else "v2c"
    if not user:
        raise SnmpFailure(result("unknown", "bad_params", "SNMP v3 needs a user in the credentials"))
    # A v3 credential kept as a plain secret holds the authentication pass phrase.
    auth_key = secrets.get("auth_key") or secrets.get("password") or ""
    priv_key = secrets.get("priv_key") or ""
    auth_name = (secrets.get("auth_protocol") or ("SHA" if auth_key else "")).upper()
    priv_name = (secrets.get("priv_protocol") or ("AES" if priv_key else "")).upper() if priv_key else ""
    if auth_name and auth_name not in AUTH_PROTOCOLS or priv_name and priv_name not in PRIV_PROTOCOLS:
        raise SnmpFailure(result("unknown", "bad_params", f"unknown SNMP v3 protocol {auth_name}/{priv_name}"))
    data = hlapi.UsmUserData(
        user, authKey=auth_key or None, privKey=priv_key or None,
        authProtocol=getattr(hlapi, AUTH_PROTOCOLS[auth_name]) if auth_name else None,
        privProtocol=getattr(hlapi, PRIV_PROTOCOLS[priv_name]) if priv_name else None)
    digest = hashlib.sha256(repr((user, auth_name, auth_key, priv_name, priv_key)).encode()).hexdigest()
    return data, f"v3:{digest}"


def version(spec: CheckSpec) -> str:
    """"3" when asked for, or when the credential names a user (an SNMPv3 credential applied to a
    check that says 2c or 1, as a template's does); else "1" when asked for, and "2c"."""
    asked = param(spec, "version", SCHEMA)
    if asked == "3" or spec.secrets.get("user") or spec.secrets.get("username"):
        return "3"
    return "1" if asked == "1" else "2c"


def _no_such_name(status: Any) -> bool:
    """SNMPv1's error for a request naming an object the agent lacks (v2c and v3 answer per object)."""
    return bool(status) and str(status.prettyPrint()) == "noSuchName"


# --- Requests -------------------------------------------------------------------------------

class Session:
    def __init__(self, spec: CheckSpec, engine: Any, auth: Any, transport: Any) -> None:
        self.spec, self.engine, self.auth, self.transport = spec, engine, auth, transport

    def _check(self, indication: Any, status: Any, index: Any, what: str) -> None:
        if indication:
            kind = type(indication).__name__
            where = f"{self.spec.target}:{param(self.spec, 'port', SCHEMA)}"
            if kind == "RequestTimedOut":
                hint = "the community is not accepted" if version(self.spec) != "3" \
                    else "the credentials are not accepted"
                raise SnmpFailure(result("critical", "timeout", f"no SNMP answer from {where} ({what}): the agent "
                                         f"is down, unreachable, or {hint}", timeout=self.spec.timeout))
            if kind in AUTH_FAILURES:
                raise SnmpFailure(result("critical", "auth_failed", f"SNMP authentication failed at {where}: "
                                         f"{indication}", error=kind))
            raise SnmpFailure(result("critical", "snmp_error", f"SNMP error from {where} ({what}): {indication}",
                                     error=kind))
        if status:
            name = str(status.prettyPrint())
            if name in ("authorizationError", "noAccess"):
                raise SnmpFailure(result("critical", "auth_failed", f"the agent refused access ({name}, {what}): "
                                         "the user or community may not read this", error=name))
            raise SnmpFailure(result("unknown", "snmp_error", f"the agent answered {name} at index {int(index)} "
                                     f"({what})", error=name))

    async def get(self, oids: list[str], what: str) -> list[tuple[tuple[int, ...], Any]]:
        answers: list[tuple[tuple[int, ...], Any]] = []
        for start in range(0, len(oids), 20):  # agents answer tooBig to very long requests
            answers += await self._get(oids[start:start + 20], what)
        return answers

    async def _get(self, oids: list[str], what: str) -> list[tuple[tuple[int, ...], Any]]:
        """The values of `oids`, in order; one an SNMPv1 agent lacks is answered NoSuchObject, as
        v2c and v3 agents answer it themselves."""
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, get_cmd
        from pysnmp.proto.rfc1905 import noSuchObject

        asked = list(range(len(oids)))
        while asked:
            indication, status, index, varbinds = await get_cmd(
                self.engine, self.auth, self.transport, ContextData(),
                *[ObjectType(ObjectIdentity(oids[i])) for i in asked], lookupMib=False)
            if not indication and _no_such_name(status) and 0 < int(index) <= len(asked):
                del asked[int(index) - 1]
                continue
            self._check(indication, status, index, what)
            found = {i: (tuple(name), value) for i, (name, value) in zip(asked, varbinds, strict=True)}
            break
        else:
            found = {}
        return [found.get(i) or (tuple(int(part) for part in oid.split(".")), noSuchObject)
                for i, oid in enumerate(oids)]

    async def walk(self, columns: dict[str, tuple[int, ...]], max_rows: int) -> dict[str, dict[tuple, Any]]:
        """Reads table columns side by side with GETBULK (GETNEXT, a row a request, on SNMPv1):
        {column: {index: value}}."""
        from pysnmp.hlapi.v3arch.asyncio import ContextData, ObjectIdentity, ObjectType, bulk_cmd, next_cmd
        from pysnmp.proto.rfc1905 import EndOfMibView

        v1 = version(self.spec) == "1"
        tables: dict[str, dict[tuple, Any]] = {name: {} for name in columns}
        cursors = dict(columns)
        while cursors:
            names = list(cursors)
            asked = [ObjectType(ObjectIdentity(".".join(map(str, cursors[n])))) for n in names]
            if v1:
                indication, status, index, varbinds = await next_cmd(
                    self.engine, self.auth, self.transport, ContextData(), *asked, lookupMib=False)
                if not indication and _no_such_name(status) and 0 < int(index) <= len(names):
                    del cursors[names[int(index) - 1]]  # that column runs to the end of the agent's MIB
                    continue
            else:
                repetitions = max(2, min(25, 60 // len(names)))
                indication, status, index, varbinds = await bulk_cmd(
                    self.engine, self.auth, self.transport, ContextData(), 0, repetitions, *asked, lookupMib=False)
            self._check(indication, status, index, "interface table")
            active = set(names)
            for position, (name, value) in enumerate(varbinds):
                column = names[position % len(names)]
                if column not in active:
                    continue
                oid = tuple(name)
                prefix = columns[column]
                # Past the column, at the end of the MIB, or not increasing (a broken agent): done.
                if isinstance(value, EndOfMibView) or oid[:len(prefix)] != prefix or oid <= cursors[column] \
                        or len(tables[column]) >= max_rows:
                    active.discard(column)
                    continue
                tables[column][oid[len(prefix):]] = value
                cursors[column] = oid
            if not varbinds:
                break
            cursors = {n: cursors[n] for n in names if n in active}
        return tables


def _number(value: Any) -> float | None:
    from pysnmp.proto.rfc1902 import Bits, IpAddress, ObjectIdentifier, OctetString

    if value is None or isinstance(value, (IpAddress, ObjectIdentifier, Bits)) or not value.isValue:
        return None
    if isinstance(value, OctetString):
        try:
            return float(value.prettyPrint())
        except ValueError:
            return None
    try:
        return float(int(value))
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    from pysnmp.proto.rfc1905 import NoSuchInstance, NoSuchObject

    if value is None or isinstance(value, (NoSuchObject, NoSuchInstance)):
        return ""
    return value.prettyPrint()


def _counter_bits(value: Any) -> int | None:
    from pysnmp.proto.rfc1902 import Counter32, Counter64

    return 64 if isinstance(value, Counter64) else 32 if isinstance(value, Counter32) else None


# --- The check ------------------------------------------------------------------------------

async def run(spec: CheckSpec, memo: dict) -> CheckResult:
    from pysnmp.hlapi.v3arch.asyncio import Udp6TransportTarget, UdpTransportTarget

    try:
        auth, credentials_key = _auth(spec)
    except SnmpFailure as exc:
        return exc.outcome
    retries = param(spec, "retries", SCHEMA)
    # Several requests share the run's time: each (with its retries) gets at most half of it.
    per_request = max(0.3, spec.timeout / 2 / (retries + 1))
    try:
        is_v6 = ipaddress.ip_address(spec.target).version == 6
    except ValueError:
        is_v6 = False
    engine, shared = _engine(credentials_key)
    try:
        target_class = Udp6TransportTarget if is_v6 else UdpTransportTarget
        transport = await target_class.create((spec.target, param(spec, "port", SCHEMA)), timeout=per_request,
                                              retries=retries)
        session = Session(spec, engine, auth, transport)
        return await _collect(spec, memo, session)
    except SnmpFailure as exc:
        return exc.outcome
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what=f"snmp {spec.target}")
    finally:
        if not shared:
            engine.close_dispatcher()


async def _collect(spec: CheckSpec, memo: dict, session: Session) -> CheckResult:
    outcome = Outcome()
    now = time.monotonic()
    system = dict(zip(SYSTEM, [v for _, v in await session.get(list(SYSTEM.values()), "system group")],
                      strict=True))
    uptime_ticks = _number(system["sys_uptime"])
    if uptime_ticks is not None:
        outcome.sample("snmp_uptime_seconds", uptime_ticks / 100)
        previous = memo.get("sys_uptime")
        if previous is not None and uptime_ticks < previous:
            memo.pop("counters", None)  # the agent restarted: its counters started again from zero
            outcome.note("the agent restarted since the last run")
        memo["sys_uptime"] = uptime_ticks
    sys_name, sys_descr = _text(system["sys_name"]), _text(system["sys_descr"])
    outcome.sample("snmp_info", 1, sys_name=sys_name, sys_descr=sys_descr[:200])

    seen: list[Any] = []
    summary = ""
    if param(spec, "interfaces", SCHEMA):
        summary = _interfaces(spec, memo, outcome, await session.walk(IF_COLUMNS, param(spec, "max_interfaces",
                                                                                      SCHEMA)), now, seen)
    await _custom(spec, memo, outcome, session, now, seen)
    forget_counters(memo, seen)
    uptime = f", up {_duration(uptime_ticks / 100)}" if uptime_ticks is not None else ""
    return outcome.result(f"{sys_name or spec.target}{uptime}{summary}", sys_name=sys_name)


def _interfaces(spec: CheckSpec, memo: dict, outcome: Outcome, table: dict[str, dict[tuple, Any]], now: float,
                seen: list[Any]) -> str:
    include = param(spec, "interface_include", SCHEMA)
    pattern = re.compile(include) if include else None
    names: dict[str, int] = {}
    up = total = 0
    for index in sorted(set(table["descr"]) | set(table["name"])):
        label = _text(table["name"].get(index)) or _text(table["descr"].get(index)) or ".".join(map(str, index))
        if pattern and not pattern.search(label):
            continue
        total += 1
        labels = {"interface": label, "index": ".".join(map(str, index))}
        oper = _number(table["oper"].get(index))
        names[label] = int(oper) if oper is not None else 0
        up += oper == 1
        outcome.sample("snmp_if_oper_status", oper, **labels)
        outcome.sample("snmp_if_admin_status", _number(table["admin"].get(index)), **labels)
        speed = _number(table["high_speed"].get(index))
        outcome.sample("snmp_if_speed_bits_per_second", speed * 1_000_000 if speed is not None else None, **labels)
        for direction in ("in", "out"):
            # The 64-bit counter where the agent has one; a 32-bit one wraps in 34 s at 1 Gbit/s.
            value = table[f"{direction}64"].get(index)
            if _number(value) is None:
                value = table[f"{direction}32"].get(index)
            octets = _number(value)
            if octets is None:
                continue
            key = ("if", index, direction, _counter_bits(value))
            seen.append(key)
            rate = _rate(memo, key, octets, now, value)
            outcome.sample(f"snmp_if_{direction}_bits_per_second", rate * 8 if rate is not None else None, **labels)
    for wanted in param(spec, "expect_up", SCHEMA):
        if wanted not in names:
            outcome.problem("critical", "interface_down", f"interface {wanted} not found", interface=wanted)
        elif names[wanted] != 1:
            outcome.problem("critical", "interface_down", f"interface {wanted} is not up (ifOperStatus "
                            f"{names[wanted]})", interface=wanted)
    return f", {total} interfaces ({up} up)"


def _rate(memo: dict, key: Any, value: float, now: float, raw: Any) -> float | None:
    return counter_rate(memo, key, value, now, bits=_counter_bits(raw))


async def _custom(spec: CheckSpec, memo: dict, outcome: Outcome, session: Session, now: float,
                  seen: list[Any]) -> None:
    from pysnmp.proto.rfc1905 import NoSuchInstance, NoSuchObject

    oids = param(spec, "oids", SCHEMA)
    if not oids:
        return
    answers = await session.get([o["oid"].lstrip(".") for o in oids], "custom OIDs")
    for item, (_, raw) in zip(oids, answers, strict=True):
        name = item["name"]
        if isinstance(raw, (NoSuchObject, NoSuchInstance)):
            outcome.problem("warning", "snmp_missing_oid", f"{name} ({item['oid']}): no such object on the agent",
                            oid=item["oid"])
            continue
        number_ = _number(raw)
        if number_ is None:
            outcome.problem("warning", "snmp_not_numeric", f"{name} ({item['oid']}) is not a number: "
                            f"{_text(raw)[:60]!r}", oid=item["oid"])
            continue
        if item.get("kind", "gauge") == "counter":
            key = ("oid", item["oid"], _counter_bits(raw))
            seen.append(key)
            value = _rate(memo, key, number_, now, raw)
            metric = f"snmp_{name}_per_second"
        else:
            value, metric = number_, f"snmp_{name}"
        outcome.sample(metric, value)
        outcome.threshold(value, item.get("warning"), item.get("critical"), what=name, below=item.get("below", False))


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days} d {hours} h" if days else f"{hours} h {rest // 60} min"


def prepare() -> None:
    preload("pysnmp.hlapi.v3arch.asyncio")


CHECK = CheckType(name="snmp", label=gettext_noop("SNMP device"), run=run, params_schema=SCHEMA,
                  default_interval=60.0,
                  needs_secrets=("community", "user", "username", "auth_protocol", "auth_key", "priv_protocol",
                                 "priv_key", "password"))
