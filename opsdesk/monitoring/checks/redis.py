"""redis: a Redis (or Valkey, KeyDB) server with redis.asyncio: INFO and SLOWLOG LEN.

Params: port, tls, user (ACL; the password is the secret `password`).

Samples: redis_info{role, version} 1, redis_uptime_seconds, redis_connected_clients,
redis_used_memory_bytes, redis_maxmemory_bytes, redis_memory_used_percent (when maxmemory is set),
redis_ops_per_second (rate of total_commands_processed; instantaneous_ops_per_sec on a first run),
redis_keyspace_hit_ratio (hits / lookups since the last run, or since start on a first run),
redis_slowlog_length, redis_connected_replicas;
on a replica redis_master_link_up and redis_master_last_io_seconds;
on a master, per replica, redis_replica_lag_seconds{replica} and redis_replica_lag_bytes{replica}.
A changed run_id (a restart) drops the remembered counters.
Thresholds: `warning` / `critical` on memory used in percent of maxmemory (above);
`lag_warning` / `lag_critical` on the replication lag in seconds (above). A replica whose link to
its master is down is critical ("replication_broken").
"""

from __future__ import annotations

import time
from typing import Any

from .base import (
    CheckResult,
    CheckSpec,
    CheckType,
    Outcome,
    boolean,
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
    "port": integer(gettext_noop("Port"), 6379, 1, 65535),
    "tls": boolean(gettext_noop("Use TLS"), False),
    "user": string(gettext_noop("User (ACL; empty: default)"), ""),
    "warning": number(gettext_noop("Warning above (% of maxmemory used)"), 80, 0, 100),
    "critical": number(gettext_noop("Critical above (% of maxmemory used)"), 95, 0, 100),
    "lag_warning": number(gettext_noop("Warning above (seconds of replication lag)"), None, 0),
    "lag_critical": number(gettext_noop("Critical above (seconds of replication lag)"), None, 0),
})


async def run(spec: CheckSpec, memo: dict) -> CheckResult:
    import redis.asyncio
    import redis.exceptions
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    port = param(spec, "port", SCHEMA)
    where = f"redis {spec.target}:{port}"
    client = redis.asyncio.Redis(host=spec.target, port=port, username=login(spec, "user", SCHEMA) or None,
                                 password=spec.secrets.get("password") or None, ssl=param(spec, "tls", SCHEMA),
                                 ssl_cert_reqs="none", socket_timeout=spec.timeout,
                                 socket_connect_timeout=spec.timeout, decode_responses=True,
                                 retry=Retry(NoBackoff(), 0))  # a check reports the first failure, it does not retry
    try:
        info = await client.info("all")
        slowlog = await client.slowlog_len()
    except (redis.exceptions.AuthenticationError, redis.exceptions.AuthenticationWrongNumberOfArgsError) as exc:
        return result("critical", "auth_failed", f"{where}: authentication failed: {exc}")
    except redis.exceptions.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc) or "NOPERM" in str(exc):
            return result("critical", "auth_failed", f"{where}: {exc}")
        return failure(exc, timeout=spec.timeout, what=where)
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what=where)
    finally:
        await client.aclose()
    return judge(spec, memo, info, slowlog, time.monotonic())


def judge(spec: CheckSpec, memo: dict, info: dict[str, Any], slowlog: int, now: float) -> CheckResult:
    outcome = Outcome()
    if memo.get("run_id") != info.get("run_id"):
        memo.pop("counters", None)  # restarted: counters began again
        memo["run_id"] = info.get("run_id")
    role = info.get("role", "")
    outcome.sample("redis_info", 1, role=role, version=info.get("redis_version", ""))
    outcome.sample("redis_uptime_seconds", info.get("uptime_in_seconds"))
    outcome.sample("redis_connected_clients", info.get("connected_clients"))
    used, maxmemory = info.get("used_memory"), info.get("maxmemory") or 0
    outcome.sample("redis_used_memory_bytes", used)
    outcome.sample("redis_maxmemory_bytes", maxmemory)
    used_percent = used / maxmemory * 100 if used is not None and maxmemory else None
    outcome.sample("redis_memory_used_percent", used_percent)
    ops = counter_rate(memo, "commands", info.get("total_commands_processed", 0), now)
    outcome.sample("redis_ops_per_second", ops if ops is not None else info.get("instantaneous_ops_per_sec"))
    outcome.sample("redis_keyspace_hit_ratio", _hit_ratio(memo, info, now))
    outcome.sample("redis_slowlog_length", slowlog)
    outcome.sample("redis_connected_replicas", info.get("connected_slaves", 0))
    lag = _replication(outcome, info)
    outcome.threshold(used_percent, param(spec, "warning", SCHEMA), param(spec, "critical", SCHEMA),
                      what="memory used", unit=" % of maxmemory")
    outcome.threshold(lag, param(spec, "lag_warning", SCHEMA), param(spec, "lag_critical", SCHEMA),
                      what="replication lag", unit=" s")
    memory = f"{used / 1048576:.1f} MiB used" if used is not None else "memory unknown"
    if maxmemory:
        memory += f" of {maxmemory / 1048576:.0f} MiB"
    return outcome.result(f"Redis {info.get('redis_version', '?')} {role}, {info.get('connected_clients')} "
                          f"clients, {memory}", role=role)


def _hit_ratio(memo: dict, info: dict[str, Any], now: float) -> float | None:
    hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
    hit_rate = counter_rate(memo, "hits", hits, now)
    miss_rate = counter_rate(memo, "misses", misses, now)
    if hit_rate is not None and miss_rate is not None:
        return hit_rate / (hit_rate + miss_rate) if hit_rate + miss_rate > 0 else None
    return hits / (hits + misses) if hits + misses > 0 else None


def _replication(outcome: Outcome, info: dict[str, Any]) -> float | None:
    """The replication lag in seconds (the worst replica's on a master), or None."""
    if info.get("role") == "slave":
        link_up = info.get("master_link_status") == "up"
        outcome.sample("redis_master_link_up", int(link_up))
        if not link_up:
            down = info.get("master_link_down_since_seconds")
            since = f" for {down} s" if down not in (None, -1) else ""
            outcome.problem("critical", "replication_broken", f"the link to the master "
                            f"{info.get('master_host')}:{info.get('master_port')} is down{since}")
            return None
        last_io = info.get("master_last_io_seconds_ago")
        outcome.sample("redis_master_last_io_seconds", last_io)
        return float(last_io) if last_io is not None and last_io >= 0 else None
    worst = None
    offset = info.get("master_repl_offset", 0)
    for key, value in info.items():
        # redis-py parses "slave0:ip=..,port=..,state=online,offset=..,lag=.." into a dict.
        if key.startswith("slave") and key[5:].isdigit() and isinstance(value, dict):
            replica = f"{value.get('ip')}:{value.get('port')}"
            outcome.sample("redis_replica_lag_seconds", value.get("lag"), replica=replica)
            outcome.sample("redis_replica_lag_bytes", max(0, offset - int(value.get("offset", 0))), replica=replica)
            worst = max(worst or 0.0, float(value.get("lag", 0)))
    return worst


def prepare() -> None:
    preload("redis.asyncio", "redis.asyncio.retry", "redis.backoff")


CHECK = CheckType(name="redis", label=gettext_noop("Redis server"), run=run, params_schema=SCHEMA,
                  default_interval=60.0, needs_secrets=("username", "password"))
