"""The host's inventory on this machine, in the documented shape, and its hash written the way
the server writes it (orjson with sorted keys), so both sides agree on "unchanged"."""

from __future__ import annotations

import hashlib
import shutil
import socket
import sys

import orjson
import psutil
import pytest

from opsdesk.agent import inventory
from opsdesk.agent.metrics import PSEUDO_FS


@pytest.fixture(scope="module")
def found():
    return inventory.collect()


def test_this_machine_in_the_documented_shape(found):
    assert set(found) == {"hostname", "os", "kernel", "arch", "cpu", "memory_bytes", "disks", "addresses",
                          "packages", "listening"}
    assert found["hostname"] and found["kernel"] and found["arch"]
    assert set(found["os"]) == {"name", "version", "id"} and found["os"]["name"] and found["os"]["id"]
    assert isinstance(found["cpu"]["count"], int) and found["cpu"]["count"] >= 1
    assert isinstance(found["cpu"]["model"], str)
    assert isinstance(found["memory_bytes"], int) and found["memory_bytes"] > 2**20
    assert found["disks"], "at least the root file system"
    for disk in found["disks"]:
        assert set(disk) == {"device", "mountpoint", "fstype", "total_bytes", "used_bytes"}
        assert isinstance(disk["total_bytes"], int) and 0 <= disk["used_bytes"] <= disk["total_bytes"]
        assert disk["fstype"] not in PSEUDO_FS
    assert {"interface": "lo", "address": "127.0.0.1", "family": "ipv4"} in found["addresses"]
    assert all(set(a) == {"interface", "address", "family"} for a in found["addresses"])
    for port in found["listening"]:
        assert set(port) == {"proto", "address", "port", "process"}
        assert port["proto"] in ("tcp", "tcp6", "udp", "udp6") and isinstance(port["port"], int)


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="dpkg-query is not installed (not a Debian-based machine)")
def test_packages_come_from_dpkg(found):
    packages = {p["name"]: p for p in found["packages"]}
    assert len(packages) > 50
    assert packages["dpkg"]["version"] and packages["dpkg"]["arch"]
    assert all(set(p) == {"name", "version", "arch"} for p in found["packages"])
    assert found["packages"] == sorted(found["packages"], key=lambda p: (p["name"], p["arch"]))


def test_the_hash_is_the_servers_canonical_json(found):
    body = inventory.payload(found, 1764000000.0)
    assert body["inventory"] is found and body["collected_at"] == 1764000000.0
    assert body["hash"] == hashlib.sha256(orjson.dumps(found, option=orjson.OPT_SORT_KEYS)).hexdigest()
    chinese = {**found, "hostname": "数据库-01"}
    assert inventory.digest(chinese) == hashlib.sha256(orjson.dumps(chinese, option=orjson.OPT_SORT_KEYS)).hexdigest()


def test_a_change_is_what_a_person_would_call_one(found):
    fuller = {**found, "disks": [{**d, "used_bytes": d["used_bytes"] + 4096} for d in found["disks"]]}
    assert inventory.digest(fuller) != inventory.digest(found)  # sent daily as it is
    assert inventory.change_digest(fuller) == inventory.change_digest(found)  # but no reason to send it now
    upgraded = {**found, "packages": [*found["packages"], {"name": "zzz-new", "version": "1", "arch": "all"}]}
    assert inventory.change_digest(upgraded) != inventory.change_digest(found)


def test_os_release_is_read_as_the_format_says(tmp_path):
    release = tmp_path / "os-release"
    release.write_text('# comment\nNAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID=rocky\nID_LIKE="rhel centos"\n'
                       "PRETTY_NAME='Rocky Linux 9.4'\nBAD LINE\n")
    assert inventory.os_release((str(tmp_path / "missing"), str(release))) == {
        "name": "Rocky Linux", "version": "9.4 (Blue Onyx)", "id": "rocky"}
    minimal = tmp_path / "minimal"
    minimal.write_text("NAME=Alpine\nVERSION_ID=3.20.0\nID=alpine\n")
    assert inventory.os_release((str(minimal),))["version"] == "3.20.0"


def test_the_cpu_model_on_x86_and_arm(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 85\n"
                   "model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n\nprocessor\t: 1\n")
    assert inventory.cpu_model(str(x86)) == "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n\nHardware\t: Kunpeng 920\n")
    assert inventory.cpu_model(str(arm)) == "Kunpeng 920"
    assert inventory.cpu_model(str(tmp_path / "missing")) == ""


def test_removed_packages_with_their_configuration_left_are_not_installed(monkeypatch):
    class Done:
        stdout = (b"ii \tbash\t5.2.15-2+b7\tamd64\nrc \told-thing\t1.0\tamd64\nhi \tpinned\t2.0\tall\n"
                  b"ii \tlibc6\t2.36-9\tamd64\nii \tlibc6\t2.36-9\ti386\n")

    monkeypatch.setattr(inventory.subprocess, "run", lambda *a, **k: Done())
    assert inventory._query(inventory.DPKG, dpkg=True) == [
        {"name": "bash", "version": "5.2.15-2+b7", "arch": "amd64"},
        {"name": "libc6", "version": "2.36-9", "arch": "amd64"},
        {"name": "libc6", "version": "2.36-9", "arch": "i386"},
        {"name": "pinned", "version": "2.0", "arch": "all"}]

    class Rpm:
        stdout = b"bash\t5.1.8-9.el9\tx86_64\nperl-Errno\t0:1.30-481.el9\tx86_64\n"

    monkeypatch.setattr(inventory.subprocess, "run", lambda *a, **k: Rpm())
    assert [p["version"] for p in inventory._query(inventory.RPM, dpkg=False)] == ["5.1.8-9.el9", "0:1.30-481.el9"]


def test_listening_sockets_are_read_from_the_kernels_tables(tmp_path):
    """This test's own sockets: a TCP listener (IPv4 and IPv6), a bound UDP socket, and a TCP
    client that is not listening. /proc/net (Linux) and psutil's list agree on them."""
    me = psutil.Process().name()
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    client = socket.create_connection(tcp.getsockname())
    opened = [tcp, udp, client]
    expected = {("tcp", "127.0.0.1", tcp.getsockname()[1], me), ("udp", "127.0.0.1", udp.getsockname()[1], me)}
    if socket.has_ipv6:
        try:
            tcp6 = socket.create_server(("::1", 0), family=socket.AF_INET6)
        except OSError:
            pass  # no IPv6 on this host
        else:
            opened.append(tcp6)
            expected.add(("tcp6", "::1", tcp6.getsockname()[1], me))
    try:
        client_port = client.getsockname()[1]
        for found in (inventory._listening_procfs(), inventory._listening_psutil()):
            assert expected <= found
            assert not any(port == client_port for _proto, _address, port, _process in found)
        assert {"proto": "tcp", "address": "127.0.0.1", "port": tcp.getsockname()[1], "process": me} in \
            inventory.listening()
    finally:
        for sock in opened:
            sock.close()


def test_addresses_in_the_kernels_tables():
    little = sys.byteorder == "little"
    assert inventory._proc_address("0100007F:0016" if little else "7F000001:0016") == ("127.0.0.1", 22)
    assert inventory._proc_address("00000000:1F90") == ("0.0.0.0", 8080)
    one = "00000000000000000000000001000000" if little else "00000000000000000000000000000001"
    assert inventory._proc_address(f"{one}:01BB") == ("::1", 443)
