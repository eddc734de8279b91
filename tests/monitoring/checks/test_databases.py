"""postgresql, mysql and redis against the machine's servers (and a Redis master and replica of
our own for replication)."""

from __future__ import annotations

import time

import pytest

from .conftest import REDIS_PASSWORD
from .peers import run_check, samples, value

pytestmark = pytest.mark.xdist_group("monitoring-checks")


def test_postgresql_connections_sizes_and_rates(local_postgres):
    memo: dict = {}
    first = run_check("postgresql", "127.0.0.1", memo=memo, port=local_postgres, database="test",
                      user="postgres")
    assert (first.state, first.code) == ("ok", "ok"), first.message
    assert value(first, "pg_connections") > 0  # this check's own connection at least
    assert value(first, "pg_max_connections") >= value(first, "pg_connections")
    assert 0 < value(first, "pg_connections_used_percent") <= 100
    assert value(first, "pg_database_size_bytes", database="test") > 1_000_000
    assert value(first, "pg_in_recovery") == 0 and first.params["role"] == "primary"
    assert value(first, "pg_long_running_queries") >= 0
    assert not samples(first, "pg_transactions_per_second")  # a rate needs two runs
    time.sleep(0.2)
    second = run_check("postgresql", "127.0.0.1", memo=memo, port=local_postgres, database="test")
    assert value(second, "pg_transactions_per_second") > 0  # the first run's own queries, at least
    assert value(second, "pg_deadlocks_per_second") >= 0
    only = run_check("postgresql", "127.0.0.1", port=local_postgres, databases=["test"])
    assert {s.labels["database"] for s in samples(only, "pg_database_size_bytes")} == {"test"}
    crowded = run_check("postgresql", "127.0.0.1", port=local_postgres, warning=0.001, critical=100)
    assert (crowded.state, crowded.code) == ("warning", "threshold")
    assert "connections used" in crowded.message


def test_postgresql_failures(local_postgres, closed_port):
    refused = run_check("postgresql", "127.0.0.1", port=closed_port)
    assert (refused.state, refused.code) == ("critical", "refused"), refused.message
    unknown_role = run_check("postgresql", "127.0.0.1", port=local_postgres, user="no_such_role_x",
                             secrets={"password": "s3cret-pw"})
    assert (unknown_role.state, unknown_role.code) == ("critical", "auth_failed"), unknown_role.message
    assert "s3cret-pw" not in unknown_role.message


def test_mysql_threads_sizes_and_uptime(local_mariadb):
    memo: dict = {}
    first = run_check("mysql", "127.0.0.1", memo=memo, port=local_mariadb, user="root")
    assert (first.state, first.code) == ("ok", "ok"), first.message
    assert value(first, "mysql_threads_connected") >= 1
    assert value(first, "mysql_max_connections") > 1
    assert value(first, "mysql_uptime_seconds") > 0
    assert "MariaDB" in first.message
    assert not samples(first, "mysql_replication_lag_seconds")  # not a replica
    time.sleep(0.2)
    second = run_check("mysql", "127.0.0.1", memo=memo, port=local_mariadb)
    assert value(second, "mysql_slow_queries_per_second") >= 0
    assert value(second, "mysql_queries_per_second") > 0
    sizes = {s.labels["database"] for s in samples(second, "mysql_database_size_bytes")}
    assert "mysql" not in sizes and "information_schema" not in sizes


def test_mysql_failures(local_mariadb, closed_port):
    refused = run_check("mysql", "127.0.0.1", port=closed_port)
    assert (refused.state, refused.code) == ("critical", "refused"), refused.message
    denied = run_check("mysql", "127.0.0.1", port=local_mariadb, user="nobody_here", secrets={"password": "pw-xyz"})
    assert (denied.state, denied.code) == ("critical", "auth_failed"), denied.message
    assert "pw-xyz" not in denied.message


def test_redis_info_rates_and_slowlog(local_redis):
    memo: dict = {}
    first = run_check("redis", "127.0.0.1", memo=memo, port=local_redis)
    assert (first.state, first.code) == ("ok", "ok"), first.message
    assert value(first, "redis_connected_clients") >= 1
    assert value(first, "redis_used_memory_bytes") > 100_000
    assert value(first, "redis_slowlog_length") >= 0
    assert samples(first, "redis_info")[0].labels["role"] == "master"
    time.sleep(0.2)
    second = run_check("redis", "127.0.0.1", memo=memo, port=local_redis)
    assert value(second, "redis_ops_per_second") > 0  # the first run's INFO and SLOWLOG at least


def test_redis_replication_seen_from_both_sides(redis_pair):
    master_port, replica_port = redis_pair
    master = run_check("redis", "127.0.0.1", port=master_port, secrets={"password": REDIS_PASSWORD})
    assert master.params["role"] == "master" and value(master, "redis_connected_replicas") == 1
    assert value(master, "redis_replica_lag_bytes", replica=f"127.0.0.1:{replica_port}") >= 0
    assert value(master, "redis_replica_lag_seconds", replica=f"127.0.0.1:{replica_port}") >= 0
    replica = run_check("redis", "127.0.0.1", port=replica_port, lag_warning=1000)
    assert (replica.state, replica.params["role"]) == ("ok", "slave"), replica.message
    assert value(replica, "redis_master_link_up") == 1
    assert 0 <= value(replica, "redis_master_last_io_seconds") < 15
    lagging = run_check("redis", "127.0.0.1", port=replica_port, lag_warning=-1)
    assert (lagging.state, lagging.code) == ("warning", "threshold")


def test_redis_failures(redis_pair, closed_port):
    refused = run_check("redis", "127.0.0.1", port=closed_port)
    assert (refused.state, refused.code) == ("critical", "refused"), refused.message
    master_port, _ = redis_pair
    wrong = run_check("redis", "127.0.0.1", port=master_port, secrets={"password": "wrong-pass-1"})
    assert (wrong.state, wrong.code) == ("critical", "auth_failed"), wrong.message
    assert "wrong-pass-1" not in wrong.message
    missing = run_check("redis", "127.0.0.1", port=master_port)
    assert (missing.state, missing.code) == ("critical", "auth_failed"), missing.message


def _sql(port: int, statement: str, dbname: str = "postgres") -> list[tuple]:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=dbname, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def _wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_postgresql_replication_seen_from_both_sides_and_a_lagging_replica(postgres_pair):
    primary_port, replica_port = postgres_pair
    primary = run_check("postgresql", "127.0.0.1", port=primary_port, user="postgres")
    assert (primary.state, primary.params["role"]) == ("ok", "primary"), primary.message
    assert value(primary, "pg_in_recovery") == 0
    [lag_bytes] = samples(primary, "pg_replication_lag_bytes")
    assert lag_bytes.labels["replica"].endswith("@127.0.0.1") and lag_bytes.value >= 0
    replica = run_check("postgresql", "127.0.0.1", port=replica_port, user="postgres", lag_warning=5)
    assert (replica.state, replica.params["role"]) == ("ok", "replica"), replica.message
    assert value(replica, "pg_in_recovery") == 1
    assert value(replica, "pg_replication_lag_seconds") == 0  # it has replayed all it received

    # A commit the replica replays, then it stops replaying while the primary commits again: it
    # falls behind, seen from both sides.
    _sql(primary_port, "CREATE TABLE IF NOT EXISTS lag_probe (n int)")
    _wait_for(lambda: _sql(replica_port, "SELECT to_regclass('lag_probe') IS NOT NULL")[0][0])
    _sql(replica_port, "SELECT pg_wal_replay_pause()")
    try:
        time.sleep(1.2)
        _sql(primary_port, "INSERT INTO lag_probe VALUES (1)")
        _wait_for(lambda: _sql(replica_port, "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()")[0][0])
        lagging = run_check("postgresql", "127.0.0.1", port=replica_port, user="postgres", lag_warning=0.5,
                            lag_critical=1.0)
        assert (lagging.state, lagging.code) == ("critical", "threshold"), lagging.message
        assert value(lagging, "pg_replication_lag_seconds") >= 1.0
        assert value(lagging, "pg_replication_lag_bytes") > 0
        assert "replication lag" in lagging.message
        _wait_for(lambda: value(run_check("postgresql", "127.0.0.1", port=primary_port, user="postgres"),
                                "pg_replication_lag_bytes", replica=lag_bytes.labels["replica"]) > 0)
    finally:
        _sql(replica_port, "SELECT pg_wal_replay_resume()")
    _wait_for(lambda: value(run_check("postgresql", "127.0.0.1", port=replica_port, user="postgres"),
                            "pg_replication_lag_seconds") == 0)


def _mysql(port: int, statement: str) -> None:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=port, user="root")
    with conn, conn.cursor() as cursor:
        cursor.execute(statement)


def test_mysql_replication_seen_on_the_replica_and_a_stopped_one_is_critical(mariadb_pair):
    primary_port, replica_port = mariadb_pair
    primary = run_check("mysql", "127.0.0.1", port=primary_port, user="root")
    assert (primary.state, primary.code) == ("ok", "ok"), primary.message
    assert not samples(primary, "mysql_replication_lag_seconds")  # a primary replicates from nobody
    _mysql(primary_port, "CREATE DATABASE IF NOT EXISTS lag_probe")
    replica = run_check("mysql", "127.0.0.1", port=replica_port, user="root", lag_warning=30)
    assert (replica.state, replica.code) == ("ok", "ok"), replica.message
    assert value(replica, "mysql_replication_running") == 1
    assert 0 <= value(replica, "mysql_replication_lag_seconds") < 30
    # Its lag against a threshold below it (0 s is above -1): the threshold reads the replica's lag.
    strict = run_check("mysql", "127.0.0.1", port=replica_port, user="root", lag_warning=-1)
    assert (strict.state, strict.code) == ("warning", "threshold"), strict.message
    _mysql(replica_port, "STOP SLAVE SQL_THREAD")
    try:
        stopped = run_check("mysql", "127.0.0.1", port=replica_port, user="root")
        assert (stopped.state, stopped.code) == ("critical", "replication_stopped"), stopped.message
        assert value(stopped, "mysql_replication_running") == 0
    finally:
        _mysql(replica_port, "START SLAVE SQL_THREAD")
    _wait_for(lambda: run_check("mysql", "127.0.0.1", port=replica_port, user="root").state == "ok")


def test_postgresql_rates_go_on_when_a_database_is_dropped(postgres_pair):
    primary_port, _replica = postgres_pair
    _sql(primary_port, "DROP DATABASE IF EXISTS short_lived")
    _sql(primary_port, "CREATE DATABASE short_lived")
    for _ in range(50):  # transactions of its own, more than a check run makes
        _sql(primary_port, "SELECT 1", dbname="short_lived")
    memo: dict = {}
    run_check("postgresql", "127.0.0.1", memo=memo, port=primary_port, user="postgres")
    # Its counters go with it: a sum over all databases fell, and was taken for a reset.
    _sql(primary_port, "DROP DATABASE short_lived")
    time.sleep(0.1)
    after = run_check("postgresql", "127.0.0.1", memo=memo, port=primary_port, user="postgres")
    assert value(after, "pg_transactions_per_second") > 0  # the first run's own queries, at least
    assert value(after, "pg_deadlocks_per_second") == 0
