"""The host's inventory: what it is and what runs on it, sent to the server now and then.

    POST <server>/api/monitoring/inventory/
    Authorization: Bearer <agent token>
    {"collected_at": 1764000000.0, "hash": "<sha256 hex of the canonical JSON of inventory>",
     "inventory": {"hostname": …, "os": {"name", "version", "id"}, "kernel": …, "arch": …,
                   "cpu": {"count", "model"}, "memory_bytes": …,
                   "disks": [{"device", "mountpoint", "fstype", "total_bytes", "used_bytes"}],
                   "addresses": [{"interface", "address", "family"}],
                   "packages": [{"name", "version", "arch"}],
                   "listening": [{"proto", "address", "port", "process"}]}}

    200 {"stored": true}    (false: the server had this inventory already)

The canonical JSON is the inventory with sorted keys and no spaces, UTF-8 (what the server's
orjson.dumps(…, option=OPT_SORT_KEYS) writes). Every value is a string or an integer, so both
sides write the same bytes. Lists are sorted, so the same host gives the same hash.

Nothing here needs privileges. An unprivileged agent may not learn which process owns a listening
socket of another user: `process` is then "". On Linux the listening sockets are read from
/proc/net (see _listening_procfs: psutil would build every socket of the host first).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from typing import Any

import psutil

from opsdesk.agent.metrics import file_systems

INVENTORY_PATH = "/api/monitoring/inventory/"
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
PACKAGE_TIMEOUT_S = 120

DPKG = ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n"]
RPM = ["rpm", "-qa", "--qf", "%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\n"]
# dpkg's second status letter: the package's files are on disk (installed, or being configured).
DPKG_PRESENT = set("iWtFU")


def collect(*, packages: bool = True) -> dict[str, Any]:
    """This host's inventory, in the documented shape. `packages=False` leaves the package list
    empty (the one expensive part)."""
    uname = os.uname()
    os_info = os_release()
    return {
        "hostname": socket.gethostname(),
        "os": os_info,
        "kernel": uname.release,
        "arch": uname.machine,
        "cpu": {"count": psutil.cpu_count() or 1, "model": cpu_model()},
        "memory_bytes": int(psutil.virtual_memory().total),
        "disks": disks(),
        "addresses": addresses(),
        "packages": installed_packages() if packages else [],
        "listening": listening(),
    }


def canonical(inventory: dict[str, Any]) -> bytes:
    return json.dumps(inventory, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(inventory: dict[str, Any]) -> str:
    """The hash sent with the inventory (sha256 of the canonical JSON)."""
    return hashlib.sha256(canonical(inventory)).hexdigest()


def change_digest(inventory: dict[str, Any]) -> str:
    """The hash that decides whether the inventory changed between two checks: the same, but
    without the disks' used bytes, which change all the time and would send it every hour."""
    disks = [{k: v for k, v in d.items() if k != "used_bytes"} for d in inventory.get("disks", [])]
    return digest({**inventory, "disks": disks})


def payload(inventory: dict[str, Any], collected_at: float) -> dict[str, Any]:
    return {"collected_at": collected_at, "hash": digest(inventory), "inventory": inventory}


# --- the parts ---------------------------------------------------------------------------------

def os_release(paths: tuple[str, ...] = OS_RELEASE) -> dict[str, str]:
    """NAME, VERSION (or VERSION_ID) and ID from os-release (freedesktop.org's format: shell-style
    assignments, values optionally quoted)."""
    fields: dict[str, str] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        for line in lines:
            key, sep, value = line.strip().partition("=")
            if not sep or key.startswith("#"):
                continue
            fields[key] = _unquote(value.strip())
        break
    uname = os.uname()
    return {"name": fields.get("NAME", uname.sysname), "version": fields.get("VERSION", fields.get("VERSION_ID", "")),
            "id": fields.get("ID", uname.sysname.lower())}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
        if value and value[0] != "'":
            for escaped in ('\\"', "\\$", "\\`", "\\\\"):
                value = value.replace(escaped, escaped[1])
    return value


def cpu_model(path: str = "/proc/cpuinfo") -> str:
    """The processor's model name (x86: "model name"; ARM and others use other keys)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return ""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if sep and value.strip() and key not in found:
            found[key] = value.strip()
    for key in ("model name", "hardware", "cpu model", "model", "processor", "cpu"):
        value = found.get(key, "")
        if value and not value.isdigit():  # "processor: 0" on x86 is an index, not a name
            return value
    return ""


def disks() -> list[dict[str, Any]]:
    found = []
    for part in file_systems():
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:
            continue  # an unreadable mount (a stale network share) is left out
        found.append({"device": part.device, "mountpoint": part.mountpoint, "fstype": part.fstype,
                      "total_bytes": int(usage.total), "used_bytes": int(usage.used)})
    return sorted(found, key=lambda d: (d["mountpoint"], d["device"]))


FAMILIES = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}


def addresses() -> list[dict[str, str]]:
    found = []
    for interface, entries in psutil.net_if_addrs().items():
        for entry in entries:
            family = FAMILIES.get(entry.family)
            if family is None:
                continue  # link-layer (MAC) addresses are not IP addresses
            found.append({"interface": interface, "address": entry.address.split("%")[0], "family": family})
    return sorted(found, key=lambda a: (a["interface"], a["family"], a["address"]))


def installed_packages() -> list[dict[str, str]]:
    """Installed packages from dpkg (Debian, Ubuntu) or rpm (RHEL, SUSE…), whichever exists;
    none on a system with neither, or when the query fails."""
    if shutil.which("dpkg-query"):
        return _query(DPKG, dpkg=True)
    if shutil.which("rpm"):
        return _query(RPM, dpkg=False)
    return []


def _query(command: list[str], *, dpkg: bool) -> list[dict[str, str]]:
    try:
        done = subprocess.run(command, capture_output=True, timeout=PACKAGE_TIMEOUT_S, check=False,
                              env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return []
    packages = {}
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        fields = line.split("\t")
        if dpkg:
            if len(fields) != 4 or fields[0][1:2] not in DPKG_PRESENT:
                continue  # not installed: removed with its configuration kept ("rc"), or half-removed
            fields = fields[1:]
        if len(fields) != 3:
            continue
        name, version, arch = fields
        packages[(name, arch)] = {"name": name, "version": version, "arch": arch}
    return [packages[key] for key in sorted(packages)]


def listening() -> list[dict[str, Any]]:
    """Listening TCP sockets and bound UDP sockets with no peer. Without privileges the kernel
    still lists every socket, but not always which process has it: `process` is then ""."""
    found = _listening_procfs() if os.path.exists(PROC_NET[0][1]) else _listening_psutil()
    return [{"proto": proto, "address": address, "port": port, "process": process}
            for proto, address, port, process in sorted(found)]


# Linux's socket tables: read line by line, keeping only the listening sockets. psutil's
# net_connections() would build an object for every socket of the host first: 8,000 sockets took
# 3.5 MB of the agent's memory (a busy web server has tens of thousands).
PROC_NET = (("tcp", "/proc/net/tcp"), ("tcp6", "/proc/net/tcp6"), ("udp", "/proc/net/udp"),
            ("udp6", "/proc/net/udp6"))
TCP_LISTEN = "0A"


def _listening_procfs() -> set[tuple[str, str, int, str]]:
    sockets: dict[str, tuple[str, str, int]] = {}  # "socket:[inode]" -> (proto, address, port)
    for proto, path in PROC_NET:
        try:
            handle = open(path, encoding="ascii", errors="replace")
        except OSError:
            continue  # no IPv6 on this host
        with handle:
            next(handle, None)  # the header
            for line in handle:
                fields = line.split()
                if len(fields) < 10:
                    continue
                local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
                if proto.startswith("tcp") and state != TCP_LISTEN:
                    continue
                if proto.startswith("udp") and not remote.endswith(":0000"):
                    continue  # a connected UDP socket is a client
                try:
                    sockets[f"socket:[{inode}]"] = (proto, *_proc_address(local))
                except ValueError:
                    continue
    owners = _socket_owners(set(sockets))
    return {(proto, address, port, owners.get(key, "")) for key, (proto, address, port) in sockets.items()}


def _proc_address(text: str) -> tuple[str, int]:
    """"0100007F:0016" -> ("127.0.0.1", 22): the address is printed as 32-bit words in the host's
    byte order, the port as a number."""
    address, port = text.split(":")
    raw = bytes.fromhex(address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw), int(port, 16)


def _socket_owners(wanted: set[str]) -> dict[str, str]:
    """Which process has each socket ("socket:[inode]" -> process name), from the processes'
    file descriptors. Unprivileged, only the agent's own user's processes can be looked into."""
    owners: dict[str, str] = {}
    names: dict[int, str] = {}
    if not wanted:
        return owners
    try:
        processes = os.scandir("/proc")
    except OSError:
        return owners
    with processes:
        for process in processes:
            if not process.name.isdigit():
                continue
            try:
                descriptors = os.scandir(f"/proc/{process.name}/fd")
            except OSError:
                continue  # another user's process, or gone
            with descriptors:
                for descriptor in descriptors:
                    try:
                        target = os.readlink(descriptor.path)
                    except OSError:
                        continue
                    if target in wanted and target not in owners:
                        owners[target] = _process_name(int(process.name), names)
    return owners


def _listening_psutil() -> set[tuple[str, str, int, str]]:
    """Elsewhere (BSD, macOS): psutil's list of every socket."""
    try:
        connections = psutil.net_connections(kind="inet")
    except (psutil.AccessDenied, OSError):
        return set()  # macOS refuses the whole list to an unprivileged user
    names: dict[int, str] = {}
    found = set()
    for conn in connections:
        if conn.type == socket.SOCK_STREAM:
            if conn.status != psutil.CONN_LISTEN:
                continue
            proto = "tcp"
        elif conn.type == socket.SOCK_DGRAM:
            if conn.raddr:
                continue  # a connected UDP socket is a client
            proto = "udp"
        else:
            continue
        if not conn.laddr:
            continue
        if conn.family == socket.AF_INET6:
            proto += "6"
        found.add((proto, conn.laddr.ip, int(conn.laddr.port), _process_name(conn.pid, names)))
    return found


def _process_name(pid: int | None, cache: dict[int, str]) -> str:
    if not pid:
        return ""
    if pid not in cache:
        try:
            cache[pid] = psutil.Process(pid).name()
        except (psutil.Error, OSError):
            cache[pid] = ""
    return cache[pid]
