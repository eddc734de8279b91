"""`opsdesk agent`: enrol this host with an opsdesk server, run the agent, show its state.

Dispatched by opsdesk/cli.py before Django is imported: the agent needs the standard library,
psutil and nothing else, and costs a few tens of MB. Exit codes: 0 done, 1 failed (the server
unreachable or refusing, a file that cannot be written), 2 usage or not enrolled yet.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import time
from urllib.parse import urlsplit

from opsdesk.agent.state import (
    CONFIG,
    ENV_DIR,
    INVENTORY,
    SPOOL,
    STATUS,
    SYSTEM_DIR,
    USER_DIR,
    AgentConfig,
    NotEnrolled,
    StateError,
    ensure_dir,
    read_json,
    resolve_state_dir,
)

PROG = "opsdesk agent"
ENROL_PATH = "/api/monitoring/enrol/"

STATE_DIR_HELP = (f"where the agent keeps its enrolment, spool and state (default: ${ENV_DIR}, else {SYSTEM_DIR} "
                  f"when writable, else {USER_DIR})")


class Failed(Exception):
    """A one-line reason to print; exit code 1 (or `code`)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="The opsdesk host agent: pushes this host's metrics (CPU, memory, disks, "
        "network) and inventory (OS, hardware, packages, listening ports) to an opsdesk server, buffering "
        "on disk while the server is unreachable. Enrol once, then run it (the systemd unit "
        "opsdesk-agent.service runs `opsdesk agent run`).",
        epilog="See docs/agent.md for installation, what is collected and how buffering works.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    enroll = commands.add_parser(
        "enroll", help="enrol this host with a server using a one-time enrolment token",
        description="Spend a one-time enrolment token (made on the server for the host's customer, valid for "
        "7 days) to register this host: the server finds or creates the host's configuration item and answers the "
        "agent's own token, which is written with the server's address to agent.json (mode 0600) in the "
        "state directory.")
    enroll.add_argument("--server", required=True, metavar="URL",
                        help="the opsdesk server's address, for example https://opsdesk.example.com")
    enroll.add_argument("--token", required=True, metavar="TOKEN", help="the one-time enrolment token")
    enroll.add_argument("--hostname", metavar="NAME", default=None,
                        help="the name the host gets on the server; its configuration item is found or created "
                        f"by this name (default: this machine's host name, {socket.gethostname()})")
    enroll.add_argument("--state-dir", metavar="DIR", help=STATE_DIR_HELP)
    enroll.add_argument("--force", action="store_true",
                        help="enrol again although this state directory is enrolled already (a revoked token, "
                        "another server); a running agent picks the new enrolment up at its next interval")

    run = commands.add_parser(
        "run", help="collect and push metrics every interval, and the inventory now and then",
        description="Every interval, measure the host and push the samples as one batch; while the server is "
        "unreachable, batches wait in the spool (at most 10,000 batches or 50 MB, the oldest dropped first) "
        "and are replayed in order once it is back. The inventory is sent at start, when it changes (checked "
        "every hour) and every --inventory-hours. SIGTERM or SIGINT stops after the batch being pushed "
        "(exit 0). The log has one line per change of state, not one per interval.")
    run.add_argument("--interval", type=_positive(1.0), default=30.0, metavar="SECONDS",
                     help="seconds between two measurements (default: %(default)g, at least 1)")
    run.add_argument("--inventory-hours", type=_positive(0.01), default=24.0, metavar="HOURS",
                     help="send the inventory at least this often, changed or not (default: %(default)g)")
    run.add_argument("--state-dir", metavar="DIR", help=STATE_DIR_HELP)
    run.add_argument("--once", action="store_true",
                     help="measure once (over one second), push, send the inventory and exit: 0 when the batch "
                     "was stored, 1 when it waits in the spool")
    run.add_argument("-v", "--verbose", action="store_true", help="log each push too (debugging)")

    status = commands.add_parser(
        "status", help="show the enrolment, whether the agent runs, and what waits in the spool",
        description="Show the enrolment, whether `agent run` is running and how it last found the server, the "
        "batches waiting in the spool and when the inventory was last sent. Exit code 2 when not enrolled.")
    status.add_argument("--state-dir", metavar="DIR", help=STATE_DIR_HELP)
    status.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def _positive(minimum: float):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "enroll":
            return enroll(args)
        if args.command == "run":
            return run(args)
        return status(args)
    except NotEnrolled as exc:
        where = f" --state-dir {args.state_dir}" if args.state_dir else ""
        print(f"{PROG}: {exc}\nEnrol this host first: {PROG} enroll --server URL --token TOKEN{where}", file=sys.stderr)
        return 2
    except (Failed, StateError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return getattr(exc, "code", 1)


# --- enroll ---------------------------------------------------------------------------------------

def server_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Failed(f"--server must be an http:// or https:// address, not {text!r}", code=2)
    return text.strip().rstrip("/")


def enroll(args: argparse.Namespace) -> int:
    from opsdesk.agent.inventory import os_release
    from opsdesk.agent.transport import Client, TransportError

    server = server_url(args.server)
    folder = resolve_state_dir(args.state_dir)
    if (folder / CONFIG).exists() and not args.force:
        current = AgentConfig.load(folder)
        raise Failed(f"already enrolled as agent {current.agent} with {current.server} ({folder / CONFIG}); "
                     "add --force to enrol again")
    # Before the one-time token is spent: the answer must have somewhere to go.
    ensure_dir(folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise Failed(f"cannot write to the state directory {folder}: permission denied")
    hostname = (args.hostname or socket.gethostname()).strip()
    if not hostname:
        raise Failed("--hostname must not be empty", code=2)
    release = os_release()
    os_name = " ".join(filter(None, [release["name"], release["version"]]))[:100]
    if server.startswith("http://") and urlsplit(server).hostname not in ("localhost", "127.0.0.1", "::1"):
        print(f"{PROG}: warning: {server} is not https: the tokens cross the network unencrypted", file=sys.stderr)

    with Client() as client:
        try:
            answer = client.post(server + ENROL_PATH, json={"token": args.token, "hostname": hostname, "os": os_name})
        except TransportError as exc:
            raise Failed(f"cannot reach {server}: {exc.reason}") from None
    if answer.status_code != 201:
        raise Failed(_refusal(server, answer))
    try:
        body = answer.json()
        config = AgentConfig(server=server, agent=int(body["agent"]), token=str(body["token"]),
                             configuration_item=body.get("configuration_item"), hostname=hostname,
                             enrolled_at=time.time())
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Failed(f"{server} answered the enrolment with something that is not an opsdesk answer: "
                     f"{answer.text[:200]!r}") from None
    path = config.save(folder)
    print(f"Enrolled as agent {config.agent} (configuration item {config.configuration_item}, host {hostname}) "
          f"with {server}.\nThe agent's token is in {path} (readable by its owner only).\n"
          f"Next: systemctl enable --now opsdesk-agent, or run it yourself: {PROG} run"
          + ("" if folder == SYSTEM_DIR else f" --state-dir {folder}"))
    return 0


def _refusal(server: str, answer) -> str:
    """One line from a non-201 answer: the server's own message where it gave one."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code == 403 and isinstance(body, dict) and body.get("detail"):
        return f"the server refused the enrolment token: {body['detail']}"
    if answer.status_code == 400 and isinstance(body, dict):
        problems = "; ".join(f"{field}: {' '.join(map(str, errors)) if isinstance(errors, list) else errors}"
                             for field, errors in body.items())
        return f"the server refused the enrolment: {problems}"
    if answer.status_code == 404:
        return f"{server}{ENROL_PATH} does not exist (HTTP 404): is this the address of an opsdesk server?"
    if 300 <= answer.status_code < 400:
        location = answer.headers.get("Location", "")
        return f"{server} redirects (HTTP {answer.status_code}) to {location or 'another address'}: use that address"
    detail = body.get("detail") if isinstance(body, dict) else None
    return f"the server answered HTTP {answer.status_code}: {detail or answer.text[:200].strip()}"


# --- run ------------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    from opsdesk.agent.runner import Runner

    journal = "JOURNAL_STREAM" in os.environ  # set by systemd, not an opsdesk setting: its journal stamps each line
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(message)s" if journal else "%(asctime)s %(levelname)s %(message)s")
    folder = resolve_state_dir(args.state_dir)
    try:
        runner = Runner(folder, interval=args.interval, inventory_hours=args.inventory_hours)
    except OSError as exc:  # the spool cannot be made: a read-only or foreign state directory
        raise Failed(f"cannot use the state directory {folder}: {exc.strerror or exc}") from None
    return runner.run(once=args.once)


# --- status ---------------------------------------------------------------------------------------

def status(args: argparse.Namespace) -> int:
    from opsdesk.agent.spool import Spool

    folder = resolve_state_dir(args.state_dir)
    config = AgentConfig.load(folder)
    report: dict = {"state_dir": str(folder), "server": config.server, "agent": config.agent,
                    "configuration_item": config.configuration_item, "hostname": config.hostname,
                    "enrolled_at": config.enrolled_at}
    last = read_json(folder / STATUS) or {}
    pid = int(last.get("pid") or 0)
    report["running"] = bool(pid) and _alive(pid)
    report["pid"] = pid if report["running"] else None
    report["server_state"] = last.get("server_state") or "unknown"
    report["server_state_since"] = last.get("since")
    report["error"] = last.get("error", "")
    spool = Spool(folder / SPOOL).stats() if (folder / SPOOL).is_dir() else None
    report["spool"] = {"pending": spool.pending, "bytes": spool.bytes, "dropped": spool.dropped,
                       "last_seq": spool.last_seq} if spool else {"pending": 0, "bytes": 0, "dropped": 0, "last_seq": 0}
    sent = read_json(folder / INVENTORY) or {}
    report["inventory"] = {"sent_at": sent.get("sent_at"), "hash": sent.get("hash")}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    lines = [f"state directory:  {folder}",
             f"enrolled:         agent {config.agent} with {config.server} (host {config.hostname or '?'}"
             + (f", since {_when(config.enrolled_at)})" if config.enrolled_at else ")")]
    if report["running"]:
        since = _when(report["server_state_since"])
        state = {"up": f"the server took the last batch (since {since})",
                 "unreachable": f"the server is unreachable since {since}: {report['error']}",
                 "refused": f"the server refuses the batches since {since}: {report['error']}"}.get(
                     report["server_state"], "starting")
        lines.append(f"agent run:        running (pid {pid}); {state}")
    else:
        lines.append("agent run:        not running")
    queue = report["spool"]
    lines.append(f"spool:            {queue['pending']} batches waiting ({queue['bytes'] / 1024:.0f} KB), "
                 f"{queue['dropped']} dropped when full, last sequence number {queue['last_seq']}")
    inventory = report["inventory"]
    lines.append(f"inventory:        last sent {_when(inventory['sent_at'])}"
                 + (f" (hash {inventory['hash'][:12]}…)" if inventory["hash"] else ""))
    print("\n".join(lines))
    return 0


def _alive(pid: int) -> bool:
    """Whether `agent run` with this pid still runs (not another process that got its number)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"agent" in handle.read()
    except FileNotFoundError:
        return False
    except OSError:
        pass  # no /proc here, or hidden: ask the kernel whether the pid exists
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process (the service's): it exists
    return True


def _when(ts: float | None) -> str:
    if not ts:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(float(ts)))
