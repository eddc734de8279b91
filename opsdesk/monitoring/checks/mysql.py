"""mysql: a MySQL or MariaDB server with aiomysql (asyncio, on PyMySQL).

Params: port, user (the password is the secret `password`), database sizes to report. The user
needs PROCESS (sizes of all schemas) and REPLICATION CLIENT (replica status) or SLAVE MONITOR.

Samples: mysql_threads_connected, mysql_max_connections, mysql_connections_used_percent,
mysql_threads_running, mysql_slow_queries_per_second, mysql_queries_per_second, mysql_uptime_seconds,
mysql_database_size_bytes{database}; on a replica mysql_replication_lag_seconds
(Seconds_Behind_Master / Seconds_Behind_Source) and mysql_replication_running (1 when both the IO
and SQL threads run).
Thresholds: `warning` / `critical` on connections used in percent of max_connections (above);
`lag_warning` / `lag_critical` on the replication lag in seconds (above). A replica whose
threads stopped is critical ("replication_stopped").
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
    "port": integer(gettext_noop("Port"), 3306, 1, 65535),
    "user": string(gettext_noop("User"), "root"),
    "databases": array(gettext_noop("Databases to measure the size of (empty: all)"), {"type": "string"}, []),
    "warning": number(gettext_noop("Warning above (% of max connections used)"), 80, 0, 100),
    "critical": number(gettext_noop("Critical above (% of max connections used)"), 95, 0, 100),
    "lag_warning": number(gettext_noop("Warning above (seconds of replication lag)"), None, 0),
    "lag_critical": number(gettext_noop("Critical above (seconds of replication lag)"), None, 0),
})

STATUS = ("Threads_connected", "Threads_running", "Slow_queries", "Questions", "Uptime")
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
ACCESS_DENIED = {1044, 1045, 1698}


async def run(spec: CheckSpec, memo: dict) -> CheckResult:
    import aiomysql
    import pymysql

    port = param(spec, "port", SCHEMA)
    where = f"mysql {spec.target}:{port}"
    try:
        conn = await aiomysql.connect(host=spec.target, port=port, user=login(spec, "user", SCHEMA),
                                      password=spec.secrets.get("password") or "", connect_timeout=spec.timeout,
                                      autocommit=True, cursorclass=aiomysql.DictCursor)
    except pymysql.err.OperationalError as exc:
        if exc.args and exc.args[0] in ACCESS_DENIED:
            return result("critical", "auth_failed", f"{where}: {exc.args[1]}")
        return failure(exc, timeout=spec.timeout, what=where)
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what=where)
    try:
        return await _collect(spec, memo, conn)
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what=where)
    finally:
        conn.close()


async def _query(conn: Any, sql: str, args: Any = None) -> list[dict]:
    async with conn.cursor() as cursor:
        await cursor.execute(sql, args)
        return list(await cursor.fetchall())


async def _collect(spec: CheckSpec, memo: dict, conn: Any) -> CheckResult:
    outcome = Outcome()
    now = time.monotonic()
    rows = await _query(conn, f"SHOW GLOBAL STATUS WHERE Variable_name IN ({_marks(STATUS)})", STATUS)
    status = {row["Variable_name"]: float(row["Value"]) for row in rows}
    (settings,) = await _query(conn, "SELECT @@max_connections AS max_connections, VERSION() AS version")
    connected, max_connections = status.get("Threads_connected"), int(settings["max_connections"])
    used = connected / max_connections * 100 if connected is not None and max_connections else None
    outcome.sample("mysql_threads_connected", connected)
    outcome.sample("mysql_max_connections", max_connections)
    outcome.sample("mysql_connections_used_percent", used)
    outcome.sample("mysql_threads_running", status.get("Threads_running"))
    outcome.sample("mysql_uptime_seconds", status.get("Uptime"))
    for name, key in (("Slow_queries", "mysql_slow_queries_per_second"), ("Questions", "mysql_queries_per_second")):
        if name in status:
            outcome.sample(key, counter_rate(memo, name, status[name], now))
    await _sizes(conn, outcome, param(spec, "databases", SCHEMA))
    lag = await _replication(conn, outcome)
    outcome.threshold(used, param(spec, "warning", SCHEMA), param(spec, "critical", SCHEMA),
                      what="connections used", unit=" %")
    outcome.threshold(lag, param(spec, "lag_warning", SCHEMA), param(spec, "lag_critical", SCHEMA),
                      what="replication lag", unit=" s")
    lag_text = f", replication lag {lag:.0f} s" if lag is not None else ""
    return outcome.result(f"{settings['version']}, {connected:.0f}/{max_connections} connections{lag_text}",
                          connections=connected, max_connections=max_connections)


async def _sizes(conn: Any, outcome: Outcome, databases: list[str]) -> None:
    sql = ("SELECT table_schema AS db, SUM(data_length + index_length) AS size FROM information_schema.tables "
           f"WHERE table_schema NOT IN ({_marks(SYSTEM_SCHEMAS)})"
           + (f" AND table_schema IN ({_marks(databases)})" if databases else "") + " GROUP BY table_schema")
    for row in await _query(conn, sql, (*SYSTEM_SCHEMAS, *databases)):
        outcome.sample("mysql_database_size_bytes", float(row["size"] or 0), database=row["db"])


def _marks(values: Any) -> str:
    return ", ".join(["%s"] * len(values))


async def _replication(conn: Any, outcome: Outcome) -> float | None:
    """The replica's lag in seconds, or None when this server replicates from nobody."""
    import pymysql

    try:
        rows = await _query(conn, "SHOW REPLICA STATUS")  # MySQL 8.0.22+, MariaDB 10.5.1+
    except pymysql.err.ProgrammingError:
        rows = await _query(conn, "SHOW SLAVE STATUS")
    if not rows:
        return None
    row = rows[0]
    running = all(str(row.get(k, row.get(k.replace("Replica", "Slave"), ""))).lower() == "yes"
                  for k in ("Replica_IO_Running", "Replica_SQL_Running"))
    outcome.sample("mysql_replication_running", int(running))
    lag = row.get("Seconds_Behind_Source", row.get("Seconds_Behind_Master"))
    if not running:
        error = row.get("Last_IO_Error") or row.get("Last_SQL_Error") or ""
        outcome.problem("critical", "replication_stopped", f"replication is stopped {error}".strip())
    if lag is None:
        return None
    outcome.sample("mysql_replication_lag_seconds", float(lag))
    return float(lag)


def prepare() -> None:
    preload("aiomysql")


CHECK = CheckType(name="mysql", label=gettext_noop("MySQL / MariaDB server"), run=run, params_schema=SCHEMA,
                  default_interval=60.0, needs_secrets=("username", "password"))
