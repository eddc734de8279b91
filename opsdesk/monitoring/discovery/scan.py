"""Scan an address range: who answers ICMP echo, which TCP ports accept a connection, what SNMP
says about itself (sysDescr, sysName), and the reverse DNS name. No Django here: the worker calls
`run_scan` and keeps the result as rows (discovery/services.py).

Each phase is its own asyncio run, so the caller can write its progress between them (Django's
ORM refuses to be called from inside a running event loop).

ICMP uses icmplib's unprivileged sockets where the kernel allows them (sysctl
net.ipv4.ping_group_range), raw sockets when the process may open them, and otherwise nothing:
the TCP phase then tells which hosts are up, a refused connection counting as an answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MAX_ADDRESSES = 1024
MAX_PORTS = 64
SNMP_PORT = 161
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"

# Ports that say what a host is (first match wins in `propose_kind`).
DATABASE_PORTS = {5432: "postgresql", 3306: "mysql", 6379: "redis", 1433: "sqlserver", 1521: "oracle",
                  27017: "mongodb", 5236: "dameng", 54321: "kingbase", 2881: "oceanbase", 4000: "tidb"}
SERVER_PORTS = {22, 3389, 5985, 5986, 135, 445, 9100, 9182}
WEB_PORTS = {80, 443, 8080, 8443}
# Words of a network device's sysDescr (switches, routers, firewalls of the usual vendors).
NETWORK_WORDS = ("cisco", "catalyst", "nexus", "huawei", "vrp", "h3c", "comware", "juniper", "junos", "arista",
                 "routeros", "mikrotik", "fortigate", "fortios", "procurve", "aruba", "ruijie", "zte", "netgear",
                 "tp-link", "ubiquiti", "edgeos", "pan-os", "palo alto", "brocade", "extreme networks",
                 "dell networking", "switch", "router", "firewall", "sangfor", "hillstone", "maipu")
SERVER_WORDS = ("linux", "windows", "freebsd", "sunos", "aix", "hp-ux", "darwin", "vmware esxi")


class ScanError(ValueError):
    """Bad input, with a code and the values a message needs (the caller words it)."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code, self.params = code, params


@dataclass(frozen=True)
class Ports:
    tcp: tuple[int, ...]
    snmp: tuple[int, ...]  # UDP ports an SNMP agent is asked on (161 unless "N/udp" says otherwise)


@dataclass(frozen=True)
class SnmpAuth:
    """v2c (or v1) with a community, or v3 with a user (authNoPriv or authPriv when keys are given)."""

    version: str  # "1", "2c" or "3"
    community: str = ""
    user: str = ""
    auth_key: str = ""
    priv_key: str = ""
    auth_protocol: str = "sha"
    priv_protocol: str = "aes"


@dataclass
class Host:
    address: str
    answered: set[str] = field(default_factory=set)  # "icmp", "tcp", "snmp"
    open_ports: list[int] = field(default_factory=list)
    hostname: str = ""
    sys_descr: str = ""
    sys_name: str = ""
    snmp_version: str = ""  # the version its SNMP agent answered ("1", "2c", "3")

    @property
    def found(self) -> bool:
        return bool(self.answered)


def addresses(network: str) -> list[str]:
    """The host addresses of a network in CIDR notation (a single address is a /32 or /128)."""
    text = (network or "").strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ScanError("network_invalid", network=text) from None
    if net.num_addresses > MAX_ADDRESSES:
        raise ScanError("network_too_large", network=text, count=net.num_addresses, limit=MAX_ADDRESSES)
    return [str(a) for a in net.hosts()] or [str(net.network_address)]


def parse_ports(text: str) -> Ports:
    """"22,80,443,161,5432" or "22, 16161/udp": TCP ports, and UDP ports for SNMP (161 written
    alone means SNMP too, as nothing else answers on 161)."""
    tcp: list[int] = []
    snmp: list[int] = []
    for raw in (text or "").replace(";", ",").replace(" ", ",").split(","):
        token = raw.strip().lower()
        if not token:
            continue
        number, _slash, proto = token.partition("/")
        if proto not in ("", "tcp", "udp") or not number.isdigit() or not 1 <= int(number) <= 65535:
            raise ScanError("port_invalid", port=raw.strip())
        port = int(number)
        target = snmp if proto == "udp" or (proto == "" and port == SNMP_PORT) else tcp
        if port not in target:
            target.append(port)
    if len(tcp) + len(snmp) > MAX_PORTS:
        raise ScanError("too_many_ports", limit=MAX_PORTS)
    return Ports(tuple(tcp), tuple(snmp))


# --- the phases --------------------------------------------------------------------------------

async def _icmp_mode(probe: str) -> bool | None:
    """False: unprivileged ICMP works; True: raw sockets work; None: no ICMP for this process."""
    from icmplib import async_ping
    from icmplib.exceptions import ICMPLibError, SocketPermissionError

    for privileged in (False, True):
        try:
            await async_ping(probe, count=1, timeout=0.2, privileged=privileged)
            return privileged
        except SocketPermissionError:
            continue
        except (ICMPLibError, OSError):
            return privileged  # the socket opened; the address just could not be pinged
    return None


async def ping_all(addrs: list[str], *, timeout: float = 1.0, concurrency: int = 128) -> tuple[set[str], bool]:
    """(addresses that answered ICMP echo, whether ICMP could be used at all)."""
    from icmplib import async_multiping

    if not addrs:
        return set(), False
    mode = await _icmp_mode(addrs[0])
    if mode is None:
        return set(), False
    hosts = await async_multiping(addrs, count=2, interval=0.2, timeout=timeout, concurrent_tasks=concurrency,
                                  privileged=mode)
    return {h.address for h in hosts if h.is_alive}, True


async def _connect(address: str, port: int, timeout: float) -> str:
    """"open", "refused" (the host is there) or "" (no answer)."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except ConnectionRefusedError:
        return "refused"
    except (TimeoutError, OSError):
        return ""
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 0.5)
    except (TimeoutError, OSError):
        pass
    return "open"


async def probe_ports(addrs: list[str], ports: Iterable[int], *, timeout: float = 1.0,
                      concurrency: int = 256) -> dict[str, tuple[list[int], bool]]:
    """address -> (open ports, whether the host answered at all)."""
    ports = list(ports)
    gate = asyncio.Semaphore(concurrency)
    found: dict[str, tuple[list[int], bool]] = {}

    async def one(address: str, port: int) -> None:
        async with gate:
            state = await _connect(address, port, timeout)
        if state:
            open_ports, _alive = found.get(address, ([], True))
            if state == "open":
                open_ports.append(port)
            found[address] = (open_ports, True)

    await asyncio.gather(*(one(a, p) for a in addrs for p in ports))
    return {a: (sorted(o), alive) for a, (o, alive) in found.items()}


def _snmp_auth(auth: SnmpAuth):
    from pysnmp.hlapi.v3arch.asyncio import CommunityData, UsmUserData
    from pysnmp.hlapi.v3arch.asyncio import auth as protocols

    if auth.version != "3":
        return CommunityData(auth.community, mpModel=0 if auth.version == "1" else 1)
    auth_protocols = {"md5": protocols.USM_AUTH_HMAC96_MD5, "sha": protocols.USM_AUTH_HMAC96_SHA,
                      "sha224": protocols.USM_AUTH_HMAC128_SHA224, "sha256": protocols.USM_AUTH_HMAC192_SHA256,
                      "sha384": protocols.USM_AUTH_HMAC256_SHA384, "sha512": protocols.USM_AUTH_HMAC384_SHA512}
    priv_protocols = {"des": protocols.USM_PRIV_CBC56_DES, "3des": protocols.USM_PRIV_CBC168_3DES,
                      "aes": protocols.USM_PRIV_CFB128_AES, "aes128": protocols.USM_PRIV_CFB128_AES,
                      "aes192": protocols.USM_PRIV_CFB192_AES, "aes256": protocols.USM_PRIV_CFB256_AES}
    kwargs: dict = {}
    if auth.auth_key:
        kwargs.update(authKey=auth.auth_key,
                      authProtocol=auth_protocols.get(auth.auth_protocol.lower(), protocols.USM_AUTH_HMAC96_SHA))
    if auth.auth_key and auth.priv_key:
        kwargs.update(privKey=auth.priv_key,
                      privProtocol=priv_protocols.get(auth.priv_protocol.lower(), protocols.USM_PRIV_CFB128_AES))
    return UsmUserData(auth.user, **kwargs)


def _text(value) -> str:
    raw = value.asOctets() if hasattr(value, "asOctets") else str(value).encode()
    return " ".join(raw.decode("utf-8", "replace").split())[:500]


async def snmp_system(addrs: list[str], ports: Iterable[int], auth: SnmpAuth, *, timeout: float = 1.0,
                      concurrency: int = 64) -> dict[str, tuple[str, str]]:
    """address -> (sysDescr, sysName) of the agents that answered a GET."""
    from pysnmp.hlapi.v3arch.asyncio import (
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        get_cmd,
    )
    from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

    engine = SnmpEngine()
    credentials = _snmp_auth(auth)
    gate = asyncio.Semaphore(concurrency)
    answers: dict[str, tuple[str, str]] = {}

    async def one(address: str, port: int) -> None:
        async with gate:
            try:
                target = await UdpTransportTarget.create((address, port), timeout=timeout, retries=0)
                error, status, _index, binds = await get_cmd(
                    engine, credentials, target, ContextData(), ObjectType(ObjectIdentity(SYS_DESCR)),
                    ObjectType(ObjectIdentity(SYS_NAME)), lookupMib=False)
            except Exception:  # an unreachable or odd agent is "no answer", never the end of the scan
                return
        if error or status:
            return
        values = {}
        for oid, value in binds:
            if not isinstance(value, (NoSuchObject, NoSuchInstance, EndOfMibView)):
                values[str(oid)] = _text(value)
        if values:
            answers.setdefault(address, (values.get(SYS_DESCR, ""), values.get(SYS_NAME, "")))

    try:
        await asyncio.gather(*(one(a, p) for a in addrs for p in ports))
    finally:
        engine.close_dispatcher()
    return answers


async def reverse_names(addrs: list[str], *, timeout: float = 2.0, concurrency: int = 32) -> dict[str, str]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    names: dict[str, str] = {}

    async def one(address: str) -> None:
        sockaddr = (address, 0, 0, 0) if ":" in address else (address, 0)
        async with gate:
            try:
                host, _port = await asyncio.wait_for(loop.getnameinfo(sockaddr, socket.NI_NAMEREQD), timeout)
            except (TimeoutError, OSError):
                return
        if host and host != address:
            names[address] = host[:200]

    await asyncio.gather(*(one(a) for a in addrs))
    return names


# --- the whole scan ------------------------------------------------------------------------------

Progress = Callable[[str, int], None]


def run_scan(network: str, ports: Ports, *, snmp: SnmpAuth | None = None, timeout: float = 1.0,
             progress: Progress | None = None) -> list[Host]:
    """Scan `network`; returns the hosts that answered anything, by address. `progress(phase,
    found_so_far)` is called between the phases (outside the event loop)."""
    addrs = addresses(network)
    hosts = {a: Host(a) for a in addrs}

    def report(phase: str) -> None:
        if progress is not None:
            progress(phase, sum(1 for h in hosts.values() if h.found))

    report("ping")
    alive, _icmp_usable = asyncio.run(ping_all(addrs, timeout=timeout))
    for address in alive:
        hosts[address].answered.add("icmp")
    report("ports")
    if ports.tcp:
        for address, (open_ports, answered) in asyncio.run(probe_ports(addrs, ports.tcp, timeout=timeout)).items():
            hosts[address].open_ports = open_ports
            if answered:
                hosts[address].answered.add("tcp")
    if snmp is not None and ports.snmp:
        report("snmp")

        def ask(asked: list[str], auth: SnmpAuth) -> None:
            for address, (descr, name) in asyncio.run(snmp_system(asked, ports.snmp, auth, timeout=timeout)).items():
                host = hosts[address]
                host.sys_descr, host.sys_name, host.snmp_version = descr, name, auth.version
                host.answered.add("snmp")

        ask(addrs, snmp)
        # Old devices (UPSes, printers, PDUs) speak only SNMPv1: the hosts that are there but gave
        # no v2c answer are asked again with v1 and the same community.
        silent = [h.address for h in hosts.values() if h.found and "snmp" not in h.answered]
        if snmp.version == "2c" and silent:
            ask(silent, SnmpAuth("1", community=snmp.community))
    found = [h for h in hosts.values() if h.found]
    report("names")
    names = asyncio.run(reverse_names([h.address for h in found])) if found else {}
    for host in found:
        host.hostname = names.get(host.address) or host.sys_name
    return found


def propose_kind(open_ports: Iterable[int], sys_descr: str = "") -> str | None:
    """The slug of the CI kind a host most likely is, or None when nothing tells."""
    ports = set(open_ports)
    descr = (sys_descr or "").lower()
    if descr and any(word in descr for word in NETWORK_WORDS):
        return "network_device"
    if ports & set(DATABASE_PORTS):
        return "database"
    if ports & SERVER_PORTS or any(word in descr for word in SERVER_WORDS):
        return "server"
    if ports & WEB_PORTS:
        return "server"
    return "network_device" if descr else None


def database_engine(open_ports: Iterable[int]) -> str | None:
    ports = set(open_ports)
    return next((engine for port, engine in DATABASE_PORTS.items() if port in ports), None)


def looks_like_windows(open_ports: Iterable[int], sys_descr: str = "") -> bool:
    return bool(set(open_ports) & {3389, 5985, 5986, 9182}) or "windows" in (sys_descr or "").lower()
