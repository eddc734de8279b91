"""The real peers of the check tests, started once per session (per xdist worker: the test modules
are in one xdist group, so one worker starts them) on free ports of 127.0.0.1.

Debian programs (`make test-deps` installs them; a missing one fails the fixture naming its
package): snmpd, prometheus-node-exporter, prometheus-redis-exporter, zabbix_agentd, and
redis-server, PostgreSQL's initdb and postgres, and mariadbd for a primary and a replica of each
of our own. The local PostgreSQL (5432), MariaDB (3306) and Redis (6379) of the test machine are
used as they are. The web, DNS and silent TCP servers are
in peers.py."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .peers import (
    Daemon,
    accepts_tcp,
    free_port,
    need,
    require_tcp,
    start_dns_server,
    start_silent_server,
    start_web_servers,
)

SYS_NAME = "opsdesk-snmp-test"
REDIS_PASSWORD = "master-pass-42"
COUNTER_OID = "1.3.6.1.4.1.99999.1.0"  # a Counter32 served from a file, to reset and wrap at will


@dataclass
class SnmpAgent:
    port: int
    community: str
    user: str
    auth_key: str
    priv_key: str
    counter_file: Path


@pytest.fixture(scope="session")
def snmp_agent(tmp_path_factory) -> SnmpAgent:
    home = tmp_path_factory.mktemp("snmpd")
    agent = SnmpAgent(free_port(socket.SOCK_DGRAM), "opsdesk-ro", "opsv3", "auth-key-123", "priv-key-456",
                      home / "counter")
    agent.counter_file.write_text("1000\n")
    script = home / "counter.sh"
    # snmpd's pass_persist protocol (plain `pass` answers are cached by snmpd): PING is answered
    # PONG, "get" and an OID with the OID, its type and its value, read from the file each time.
    script.write_text(f"""#!/bin/sh
while read -r command; do
  case "$command" in
    PING) echo PONG ;;
    get) read -r oid; if [ "$oid" = ".{COUNTER_OID}" ]; then echo "$oid"; echo counter; cat "{agent.counter_file}"
         else echo NONE; fi ;;
    getnext) read -r oid; echo NONE ;;
    set) read -r oid; read -r value; echo not-writable ;;
    *) exit 0 ;;
  esac
done
""")
    script.chmod(0o755)
    daemon = _snmpd(home, agent.port, "-v2c", agent.community,
                    f"rocommunity {agent.community} 127.0.0.1\n"
                    f'createUser {agent.user} SHA "{agent.auth_key}" AES "{agent.priv_key}"\n'
                    f"rouser {agent.user} priv\n"
                    f"sysName {SYS_NAME}\nsysLocation test rack\nsysContact ops@example.com\n"
                    f"pass_persist .{COUNTER_OID.rsplit('.', 1)[0]} {script}\n")
    yield agent
    daemon.stop()


def _snmpd(home: Path, port: int, version: str, community: str, conf_text: str) -> Daemon:
    """An snmpd of its own on `port` with `conf_text`, once it answers `snmpget <version>`."""
    snmpd = need("snmpd", "snmpd")
    snmpget = need("snmpget", "snmp")
    conf = home / "snmpd.conf"
    conf.write_text(conf_text + "dontLogTCPWrappersConnects yes\n")
    # Its own persistent directory (v3 users, engine boots) and no MIB loading (only noise).
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(home / "persist"), "MIBS": "", "MIBDIRS": str(home)}
    daemon = Daemon("snmpd", [snmpd, "-f", "-Lo", "-C", "-c", str(conf), f"udp:127.0.0.1:{port}"],
                    home / "snmpd.log", env)

    def ready() -> bool:
        probe = subprocess.run([snmpget, version, "-c", community, "-t", "0.3", "-r", "0", "-On",
                                f"127.0.0.1:{port}", "1.3.6.1.2.1.1.5.0"], capture_output=True, env=env)
        return probe.returncode == 0

    daemon.wait_until(ready)
    return daemon


@dataclass
class SnmpV1Agent:
    port: int
    community: str


@pytest.fixture(scope="session")
def snmp_v1_agent(tmp_path_factory) -> SnmpV1Agent:
    """An snmpd that answers SNMPv1 only (its community is mapped to the v1 security model alone), as
    old UPSes, printers and switches do: a v2c request gets no answer."""
    agent = SnmpV1Agent(free_port(socket.SOCK_DGRAM), "opsdesk-v1only")
    daemon = _snmpd(tmp_path_factory.mktemp("snmpd-v1"), agent.port, "-v1", agent.community,
                    f"com2sec v1user 127.0.0.1 {agent.community}\ngroup v1group v1 v1user\n"
                    'view all included .1\naccess v1group "" v1 noauth exact all none none\n'
                    f"sysName {SYS_NAME}-v1\n")
    yield agent
    daemon.stop()


@pytest.fixture(scope="session")
def node_exporter(tmp_path_factory) -> str:
    binary = need("prometheus-node-exporter", "prometheus-node-exporter")
    port = free_port()
    daemon = Daemon("node_exporter", [binary, f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                    tmp_path_factory.mktemp("node-exporter") / "log")
    url = f"http://127.0.0.1:{port}/metrics"
    daemon.wait_until(lambda: httpx.get(url, timeout=2).status_code == 200)
    yield url
    daemon.stop()


@pytest.fixture(scope="session")
def redis_exporter(tmp_path_factory, local_redis) -> str:
    binary = need("prometheus-redis-exporter", "prometheus-redis-exporter")
    port = free_port()
    daemon = Daemon("redis_exporter", [binary, "-redis.addr", f"redis://127.0.0.1:{local_redis}",
                                       "-web.listen-address", f"127.0.0.1:{port}"],
                    tmp_path_factory.mktemp("redis-exporter") / "log")
    url = f"http://127.0.0.1:{port}/metrics"
    daemon.wait_until(lambda: httpx.get(url, timeout=2).status_code == 200)
    yield url
    daemon.stop()


@pytest.fixture(scope="session")
def zabbix_agent(tmp_path_factory) -> int:
    binary = need("zabbix_agentd", "zabbix-agent")
    home = tmp_path_factory.mktemp("zabbix")
    port = free_port(below=32767)  # the agent refuses a ListenPort above 32767
    conf = home / "zabbix_agentd.conf"
    # AllowRoot: the tests may run as root (CI does), where the agent otherwise refuses to start.
    conf.write_text(f"Server=127.0.0.1\nServerActive=\nListenIP=127.0.0.1\nListenPort={port}\n"
                    f"PidFile={home}/agent.pid\nLogType=file\nLogFile={home}/agent.log\nAllowRoot=1\n"
                    "StartAgents=3\nTimeout=3\nHostname=opsdesk-test\n")
    daemon = Daemon("zabbix_agentd", [binary, "-f", "-c", str(conf)], home / "stdout.log")
    daemon.wait_until(lambda: accepts_tcp(port))
    yield port
    daemon.stop()


@pytest.fixture(scope="session")
def redis_pair(tmp_path_factory) -> tuple[int, int]:
    """A Redis master (with a password) and its replica of our own: the local Redis's replication and
    authentication are not ours to change."""
    binary = need("redis-server", "redis-server")
    home = tmp_path_factory.mktemp("redis-pair")
    master_port, replica_port = free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--repl-diskless-sync", "no",
              "--dir", str(home)]
    master = Daemon("redis master", [binary, "--port", str(master_port), "--requirepass", REDIS_PASSWORD, *common],
                    home / "master.log")
    master.wait_until(lambda: accepts_tcp(master_port))
    replica = Daemon("redis replica", [binary, "--port", str(replica_port), "--replicaof", "127.0.0.1",
                                       str(master_port), "--masterauth", REDIS_PASSWORD, *common],
                     home / "replica.log")

    def linked() -> bool:
        import redis

        client = redis.Redis(port=replica_port, socket_timeout=1)
        try:
            return client.info("replication").get("master_link_status") == "up"
        finally:
            client.close()

    replica.wait_until(linked)
    yield master_port, replica_port
    replica.stop()
    master.stop()


def _postgres_programs() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("initdb is not installed: install the Debian package `postgresql` (make test-deps does)",
                    pytrace=False)
    return found[-1].parent


@pytest.fixture(scope="session")
def postgres_pair() -> tuple[int, int]:
    """A PostgreSQL primary and its streaming replica of our own (initdb, pg_basebackup -R), on free
    ports: the local server's replication is not ours to change. PostgreSQL refuses to run as
    root, so as root (CI) they run as the `postgres` user, in a directory it owns."""
    import shutil
    import tempfile

    bin_dir = _postgres_programs()
    as_user: list[str] = []
    home = Path(tempfile.mkdtemp(prefix="opsdesk-pg-pair-"))
    if os.geteuid() == 0:
        # setpriv execs the program itself (runuser would stand between, and signals with it).
        as_user = [need("setpriv", "util-linux"), "--reuid=postgres", "--regid=postgres", "--clear-groups"]
        shutil.chown(home, "postgres", "postgres")
    primary_port, replica_port = free_port(), free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.fail(f"{args[0]} failed: {done.stdout[-1000:]}{done.stderr[-1000:]}", pytrace=False)

    def server(name: str, data: Path, port: int) -> Daemon:
        daemon = Daemon(f"postgres {name}", [*as_user, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                                              "-k", str(home), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                                              "-c", "wal_level=replica", "-c", "max_wal_senders=4"],
                        home / f"{name}.log")
        daemon.wait_until(lambda: accepts_tcp(port) and subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True).returncode == 0,
            seconds=60)
        return daemon

    # initdb's trust authentication allows replication connections from 127.0.0.1 too.
    run(str(bin_dir / "initdb"), "-D", str(home / "primary"), "-U", "postgres", "-A", "trust", "--no-sync")
    primary = server("primary", home / "primary", primary_port)
    run(str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
        "-D", str(home / "replica"), "-R", "-X", "stream", "--no-sync")
    replica = server("replica", home / "replica", replica_port)

    def streaming() -> bool:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=primary_port, user="postgres", dbname="postgres") as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' "
                                "AND replay_lsn IS NOT NULL").fetchone()[0] > 0

    replica.wait_until(streaming, seconds=30)
    yield primary_port, replica_port
    replica.stop()
    primary.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb_pair() -> tuple[int, int]:
    """A MariaDB primary (binary log on) and its replica of our own, on free ports, root without a
    password on both: the local server's replication is not ours to change."""
    import shutil
    import tempfile

    import pymysql

    install, server = need("mariadb-install-db", "mariadb-server"), need("mariadbd", "mariadb-server")
    home = Path(tempfile.mkdtemp(prefix="opsdesk-mariadb-pair-"))
    as_root = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root unless told
    ports = {"primary": free_port(), "replica": free_port()}
    daemons: dict[str, Daemon] = {}
    for number, (name, port) in enumerate(ports.items(), start=1):
        done = subprocess.run([install, "--no-defaults", f"--datadir={home / name}", "--skip-test-db",
                               "--auth-root-authentication-method=normal", *as_root],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.fail(f"mariadb-install-db failed: {done.stdout[-1000:]}{done.stderr[-1000:]}", pytrace=False)
        extra = ["--log-bin=primary-bin"] if name == "primary" else ["--read-only"]
        daemons[name] = Daemon(f"mariadb {name}", [
            server, "--no-defaults", f"--datadir={home / name}", f"--port={port}", "--bind-address=127.0.0.1",
            f"--socket={home / name}.sock", f"--pid-file={home / name}.pid", f"--server-id={number}",
            "--innodb-buffer-pool-size=16M", "--skip-log-error", *extra, *as_root], home / f"{name}.log")
        daemons[name].wait_until(lambda port=port: accepts_tcp(port), seconds=60)

    def replica_status() -> dict:
        conn = pymysql.connect(host="127.0.0.1", port=ports["replica"], user="root",
                               cursorclass=pymysql.cursors.DictCursor)
        with conn, conn.cursor() as cursor:
            cursor.execute("SHOW SLAVE STATUS")
            return cursor.fetchone() or {}

    conn = pymysql.connect(host="127.0.0.1", port=ports["replica"], user="root")
    with conn, conn.cursor() as cursor:
        cursor.execute(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={ports['primary']}, "
                       "MASTER_USER='root', MASTER_PASSWORD=''")
        cursor.execute("START SLAVE")
    daemons["replica"].wait_until(lambda: replica_status().get("Slave_IO_Running") == "Yes"
                                  and replica_status().get("Slave_SQL_Running") == "Yes", seconds=30)
    yield ports["primary"], ports["replica"]
    for daemon in reversed(daemons.values()):
        daemon.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def local_postgres() -> int:
    require_tcp(5432, "PostgreSQL")
    return 5432


@pytest.fixture(scope="session")
def local_mariadb() -> int:
    require_tcp(3306, "MariaDB")
    return 3306


@pytest.fixture(scope="session")
def local_redis() -> int:
    require_tcp(6379, "Redis")
    return 6379


@pytest.fixture(scope="session")
def web(tmp_path_factory):
    servers, stop = start_web_servers(tmp_path_factory.mktemp("web"))
    yield servers
    stop()


@pytest.fixture(scope="session")
def silent_port() -> int:
    port, stop = start_silent_server()
    yield port
    stop()


@pytest.fixture(scope="session")
def dns_port() -> int:
    port, stop = start_dns_server()
    yield port
    stop()


@pytest.fixture
def closed_port() -> int:
    """A port nobody listens on (bound, then released)."""
    return free_port()
