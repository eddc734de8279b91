"""postgresql: a PostgreSQL server with psycopg 3 (async).

Params: port, database to connect to, user (the password is the secret `password`), sslmode.
The user needs the pg_monitor role to see other sessions' queries and the replicas.

Samples: pg_connections (sum of numbackends), pg_max_connections, pg_connections_used_percent,
pg_database_size_bytes{database}, pg_transactions_per_second (commits + rollbacks, summed over the databases),
pg_deadlocks_per_second, pg_long_running_queries (active longer than `slow_query_seconds`),
pg_in_recovery (1 on a replica); on a replica pg_replication_lag_seconds (0 when it has replayed
all it received; none while it has replayed nothing since it started) and pg_replication_lag_bytes
(received, not yet replayed); on a primary, per replica, pg_replication_lag_seconds{replica} and
pg_replication_lag_bytes{replica}.
Thresholds: `warning` / `critical` on connections used in percent of max_connections (above);
`lag_warning` / `lag_critical` on the replication lag in seconds (above).
"""

from __future__ import annotations

import time
from typing import Any

from .base import (
    CheckResult,
    CheckSpec,
    CheckType,
    Outcome,
    array,
    counter_rate,
    failure,
    forget_counters,
    gettext_noop,
    integer,
    login,
    number,
    param,
    preload,
    result,
    schema,
    string,
)

SCHEMA = schema({
    "port": integer(gettext_noop("Port"), 5432, 1, 65535),
    "database": string(gettext_noop("Database to connect to"), "postgres"),
    "user": string(gettext_noop("User"), "postgres"),
    "sslmode": string(gettext_noop("TLS mode"), "prefer",
                      enum=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
    "databases": array(gettext_noop("Databases to measure the size of (empty: all)"), {"type": "string"}, []),
    "slow_query_seconds": number(gettext_noop("Long-running query after (seconds)"), 60, 0),
    "warning": number(gettext_noop("Warning above (% of max connections used)"), 80, 0, 100),
    "critical": number(gettext_noop("Critical above (% of max connections used)"), 95, 0, 100),
    "lag_warning": number(gettext_noop("Warning above (seconds of replication lag)"), None, 0),
    "lag_critical": number(gettext_noop("Critical above (seconds of replication lag)"), None, 0),
})

OVERVIEW = """
SELECT (SELECT sum(numbackends) FROM pg_stat_database)::bigint,
       current_setting('max_connections')::int,
       pg_is_in_recovery(),
       (SELECT count(*) FROM pg_stat_activity
         WHERE state <> 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
           AND now() - query_start > make_interval(secs => %s)),
       current_setting('server_version')
"""
# Counted per database, and the rates summed over the databases of both runs: a sum of the
# counters fell whenever a database was dropped (and went without a rate on that run).
COUNTERS = """
SELECT datid, (xact_commit + xact_rollback)::float8, deadlocks::float8 FROM pg_stat_database
"""
# Sizes only of databases the user may connect to: pg_database_size refuses the others.
SIZES = """
SELECT datname, pg_database_size(datname) FROM pg_database
 WHERE datallowconn AND NOT datistemplate AND has_database_privilege(datname, 'CONNECT')
   AND (cardinality(%s::text[]) = 0 OR datname = ANY(%s::text[]))
"""
# The seconds are unknown (NULL) while nothing has been replayed since the replica started; the
# bytes received and not yet replayed are known then too.
REPLICA_LAG = """
SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8
"""
PRIMARY_LAG = """
SELECT coalesce(application_name, '') || coalesce('@' || host(client_addr), ''),
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8, extract(epoch FROM replay_lag)::float8
  FROM pg_stat_replication
"""


def connect_failure(exc: BaseException, timeout: float, where: str) -> CheckResult:
    """libpq reports refusals, timeouts and bad passwords only in its message."""
    text = str(exc)
    lowered = text.lower()
    if "password authentication failed" in lowered or "no pg_hba.conf entry" in lowered or \
            "authentication failed" in lowered or "role" in lowered and "does not exist" in lowered:
        return result("critical", "auth_failed", f"{where}: authentication failed: {text.splitlines()[-1]}")
    if "connection refused" in lowered:
        return result("critical", "refused", f"{where}: connection refused")
    if "timeout expired" in lowered or "timed out" in lowered:
        return result("critical", "timeout", f"{where}: no answer within {timeout:g} s", timeout=timeout)
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return result("critical", "resolve_error", f"{where}: cannot resolve the host name")
    return failure(exc, timeout=timeout, what=where)


async def run(spec: CheckSpec, memo: dict) -> CheckResult:
    import psycopg

    port = param(spec, "port", SCHEMA)
    where = f"postgresql {spec.target}:{port}"
    try:
        conn = await psycopg.AsyncConnection.connect(
            host=spec.target, port=port, dbname=param(spec, "database", SCHEMA), user=login(spec, "user", SCHEMA),
            password=spec.secrets.get("password") or None, sslmode=param(spec, "sslmode", SCHEMA),
            connect_timeout=max(2, int(spec.timeout)), application_name="opsdesk-check", autocommit=True,
            options=f"-c statement_timeout={int(spec.timeout * 1000)}")
    except Exception as exc:
        return connect_failure(exc, spec.timeout, where)
    try:
        async with conn:
            return await _collect(spec, memo, conn)
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what=where)


async def _collect(spec: CheckSpec, memo: dict, conn: Any) -> CheckResult:
    outcome = Outcome()
    now = time.monotonic()
    cursor = await conn.execute(OVERVIEW, (param(spec, "slow_query_seconds", SCHEMA),))
    backends, max_connections, in_recovery, long_running, version = await cursor.fetchone()
    used = backends / max_connections * 100 if max_connections else None
    outcome.sample("pg_connections", backends)
    outcome.sample("pg_max_connections", max_connections)
    outcome.sample("pg_connections_used_percent", used)
    transactions, deadlocks = await _rates(conn, memo, now)
    outcome.sample("pg_transactions_per_second", transactions)
    outcome.sample("pg_deadlocks_per_second", deadlocks)
    outcome.sample("pg_long_running_queries", long_running)
    outcome.sample("pg_in_recovery", int(in_recovery))
    databases = param(spec, "databases", SCHEMA)
    cursor = await conn.execute(SIZES, (databases, databases))
    for name, size in await cursor.fetchall():
        outcome.sample("pg_database_size_bytes", size, database=name)

    lag = await _replication(conn, outcome, in_recovery)
    outcome.threshold(used, param(spec, "warning", SCHEMA), param(spec, "critical", SCHEMA),
                      what="connections used", unit=" %")
    outcome.threshold(lag, param(spec, "lag_warning", SCHEMA), param(spec, "lag_critical", SCHEMA),
                      what="replication lag", unit=" s")
    if long_running:
        outcome.note(f"{long_running} long-running queries")
    role = "replica" if in_recovery else "primary"
    lag_text = f", replication lag {lag:.1f} s" if lag is not None else ""
    return outcome.result(f"PostgreSQL {version} {role}, {backends}/{max_connections} connections{lag_text}",
                          connections=backends, max_connections=max_connections, role=role)


async def _rates(conn: Any, memo: dict, now: float) -> tuple[float | None, float | None]:
    """Transactions and deadlocks per second, summed over the databases seen by this run and the
    one before (none on a first run)."""
    cursor = await conn.execute(COUNTERS)
    transactions: list[float] = []
    deadlocks: list[float] = []
    keys = []
    for datid, xacts, locks in await cursor.fetchall():
        for name, value, rates in (("transactions", xacts, transactions), ("deadlocks", locks, deadlocks)):
            keys.append((name, datid))
            rate = counter_rate(memo, keys[-1], value or 0.0, now)
            if rate is not None:
                rates.append(rate)
    forget_counters(memo, keys)
    return (sum(transactions) if transactions else None), (sum(deadlocks) if deadlocks else None)


async def _replication(conn: Any, outcome: Outcome, in_recovery: bool) -> float | None:
    """The replication lag in seconds (the worst replica's on a primary), or None without replication."""
    if in_recovery:
        cursor = await conn.execute(REPLICA_LAG)
        lag, behind = await cursor.fetchone()
        lag = float(lag) if lag is not None else None
        outcome.sample("pg_replication_lag_seconds", lag)
        outcome.sample("pg_replication_lag_bytes", behind)
        return lag
    cursor = await conn.execute(PRIMARY_LAG)
    worst = None
    for replica, lag_bytes, lag_seconds in await cursor.fetchall():
        outcome.sample("pg_replication_lag_bytes", lag_bytes, replica=replica)
        outcome.sample("pg_replication_lag_seconds", lag_seconds or 0.0, replica=replica)
        worst = max(worst or 0.0, lag_seconds or 0.0)
    return worst


def prepare() -> None:
    preload("psycopg")


CHECK = CheckType(name="postgresql", label=gettext_noop("PostgreSQL server"), run=run, params_schema=SCHEMA,
                  default_interval=60.0, needs_secrets=("username", "password"))
