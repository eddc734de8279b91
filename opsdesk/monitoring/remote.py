"""A collector inside a customer's network: `opsdesk collector enroll` and `opsdesk collector remote`.

It runs the same engine and check modules as the central collector, but knows no database: it
asks the server for its checks (`GET /api/monitoring/collector/checks/`, credentials included)
and pushes their results with the agents' push API, buffered in the agents' on-disk spool while
the server is away. Nothing here imports Django: it runs from the same package on a small host.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from opsdesk.env import env_str

PROG = "opsdesk collector"
ENV_DIR = "OPSDESK_COLLECTOR_DIR"
SYSTEM_DIR = Path("/var/lib/opsdesk-collector")
USER_DIR = Path("~/.local/state/opsdesk-collector")
CHECKS_PATH = "/api/monitoring/collector/checks/"
ENROL_PATH = "/api/monitoring/enrol/"

log = logging.getLogger("opsdesk.collector")


def state_dir(option: str | None) -> Path:
    if option:
        return Path(option).expanduser()
    given = env_str("OPSDESK_COLLECTOR_DIR")  # ENV_DIR, named literally for the settings check
    if given:
        return Path(given).expanduser()
    if SYSTEM_DIR.is_dir() and os.access(SYSTEM_DIR, os.W_OK):
        return SYSTEM_DIR
    return USER_DIR.expanduser()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    enrol = sub.add_parser("enroll", help="enrol this host as a collector of the token's customer")
    enrol.add_argument("--server", required=True, help="the opsdesk address, e.g. https://ops.example.com")
    enrol.add_argument("--token", required=True, help="a one-time enrolment token of the customer")
    enrol.add_argument("--name", default="", help="the collector's name (default: this host's name)")
    enrol.add_argument("--state-dir", help=f"where to keep its token and spool (default: ${ENV_DIR}, "
                                           f"{SYSTEM_DIR} if writable, else {USER_DIR})")
    run = sub.add_parser("remote", help="run the checks the server names for this collector, and push their results")
    run.add_argument("--state-dir", help="as for enroll")
    run.add_argument("--concurrency", type=int, default=500, help="checks running at once at most (default: 500)")
    run.add_argument("--refresh", type=float, default=60.0, help="seconds between check list reloads (default: 60)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from opsdesk.agent.state import AgentConfig, NotEnrolled, StateError

    folder = state_dir(args.state_dir)
    if args.command == "enroll":
        return enroll(args, folder)
    try:
        config = AgentConfig.load(folder)
    except (NotEnrolled, StateError) as exc:
        print(f"{PROG}: {exc}\nEnrol first: {PROG} enroll --server URL --token TOKEN", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run(config, folder, concurrency=args.concurrency, refresh=args.refresh))
    return 0


def enroll(args: argparse.Namespace, folder: Path) -> int:
    from opsdesk.agent.state import AgentConfig, ensure_dir
    from opsdesk.agent.transport import Client, TransportError

    server = args.server.strip().rstrip("/")
    if not server.startswith(("http://", "https://")):
        print(f"{PROG}: --server must be an http:// or https:// address", file=sys.stderr)
        return 2
    ensure_dir(folder)
    name = (args.name or socket.gethostname()).strip()
    with Client() as client:
        try:
            answer = client.post(server + ENROL_PATH, json={"token": args.token, "hostname": name,
                                                            "kind": "collector"})
        except TransportError as exc:
            print(f"{PROG}: cannot reach {server}: {exc.reason}", file=sys.stderr)
            return 1
    if answer.status_code != 201:
        print(f"{PROG}: {server} refused the enrolment (HTTP {answer.status_code}): {answer.text[:300]}",
              file=sys.stderr)
        return 1
    body = answer.json()
    path = AgentConfig(server=server, agent=int(body["agent"]), token=str(body["token"]), hostname=name,
                       enrolled_at=time.time()).save(folder)
    print(f"enrolled as collector {body['agent']}; token kept in {path}")
    return 0


def _spec(data: dict[str, Any]):
    from opsdesk.monitoring.checks.base import CheckSpec

    return CheckSpec(id=int(data["id"]), type=str(data["type"]), target=str(data["target"]),
                     params=dict(data.get("params") or {}), interval=float(data["interval"]),
                     timeout=float(data["timeout"]), secrets=dict(data.get("secrets") or {}))


async def run(config, folder: Path, *, concurrency: int, refresh: float) -> None:
    import httpx

    from opsdesk.agent.sender import push_pending
    from opsdesk.agent.spool import Spool
    from opsdesk.agent.transport import Client
    from opsdesk.monitoring.collector.engine import Collector
    from opsdesk.monitoring.results import batches_of, record_to_result

    spool = Spool(folder / "spool")
    headers = {"Authorization": f"Bearer {config.token}"}
    client = httpx.AsyncClient(timeout=30.0, headers=headers)
    pusher = Client()
    known: list = []

    async def source() -> list:
        nonlocal known
        try:
            answer = await client.get(config.server + CHECKS_PATH)
            answer.raise_for_status()
            known = [_spec(item) for item in answer.json()["checks"]]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            # Keep running what we had: the customer's network must not go dark with the server.
            log.warning("could not reload the check list from %s (%s); keeping %d checks",
                        config.server, exc, len(known))
        return known

    async def sink(records) -> None:
        for body in batches_of([record_to_result(r) for r in records]):
            spool.append(body)
        outcome = await asyncio.to_thread(push_pending, spool, pusher, config.server, config.token)
        if outcome.error:
            log.warning("push stopped at batch %s: %s (kept in the spool)", outcome.seq, outcome.error)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("collector %s running against %s", config.agent, config.server)
    try:
        await Collector(source, sink, max_concurrency=concurrency, refresh_interval=refresh).run(stop)
    finally:
        await client.aclose()
        pusher.close()
