"""Where the agent keeps its state, and the files in it.

    <state dir>/agent.json      the enrolment: server address, agent id, agent token (mode 0600)
    <state dir>/inventory.json  the hash of the last inventory the server took, and when
    <state dir>/status.json     what `agent run` last knew of the server (written on changes only)
    <state dir>/spool/          batches waiting to be pushed (see spool.py)

The state directory is `--state-dir`, else $OPSDESK_AGENT_DIR, else /var/lib/opsdesk-agent when
it can be written (the systemd unit's StateDirectory), else ~/.local/state/opsdesk-agent.
Every file is written atomically (a temporary file, fsync, rename), so a crash or a full disk
leaves the previous version or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from opsdesk.env import env_str

ENV_DIR = "OPSDESK_AGENT_DIR"
SYSTEM_DIR = Path("/var/lib/opsdesk-agent")
USER_DIR = Path("~/.local/state/opsdesk-agent")
CONFIG = "agent.json"
INVENTORY = "inventory.json"
STATUS = "status.json"
SPOOL = "spool"


class NotEnrolled(Exception):
    """There is no agent.json in the state directory (exit code 2: run `enroll` first)."""


class StateError(Exception):
    """The state directory or a file in it cannot be read or written (a one-line reason)."""


def resolve_state_dir(option: str | None = None) -> Path:
    if option:
        return Path(option).expanduser()
    given = env_str("OPSDESK_AGENT_DIR")  # ENV_DIR, named literally for the settings check
    if given:
        return Path(given).expanduser()
    if _writable(SYSTEM_DIR):
        return SYSTEM_DIR
    return USER_DIR.expanduser()


def _writable(folder: Path) -> bool:
    if folder.exists():
        return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
    return os.access(folder.parent, os.W_OK | os.X_OK)


def ensure_dir(folder: Path) -> Path:
    """Create the state directory (owner only) if it is missing."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot create the state directory {folder}: {exc.strerror or exc}") from None
    return folder


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Write JSON readable by its owner only (0600), atomically. When root writes into a folder
    that another user owns (`sudo opsdesk agent enroll` into the service's directory), the file is
    given to that user, who runs the agent."""
    body = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # an existing leftover keeps its mode otherwise
            owner = os.stat(path.parent)
            if os.geteuid() == 0 and owner.st_uid != 0:
                os.fchown(fd, owner.st_uid, owner.st_gid)
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StateError(f"cannot write {path}: {exc.strerror or exc}") from None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_json(path: Path) -> dict[str, Any] | None:
    """The file's object, or None when it does not exist; StateError when it cannot be read."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except PermissionError:
        raise StateError(f"cannot read {path}: permission denied (run as the user that owns it)") from None
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise StateError(f"{path} is not valid JSON") from None
    if not isinstance(data, dict):
        raise StateError(f"{path} is not a JSON object")
    return data


@dataclass(frozen=True)
class AgentConfig:
    """What enrolment gave: where to push and with which token."""

    server: str
    agent: int
    token: str
    configuration_item: int | None = None
    hostname: str = ""
    enrolled_at: float = 0.0

    @classmethod
    def load(cls, folder: Path) -> AgentConfig:
        path = folder / CONFIG
        data = read_json(path)
        if data is None:
            raise NotEnrolled(f"not enrolled yet: {path} does not exist")
        try:
            return cls(server=str(data["server"]).rstrip("/"), agent=int(data["agent"]), token=str(data["token"]),
                       configuration_item=data.get("configuration_item"), hostname=str(data.get("hostname", "")),
                       enrolled_at=float(data.get("enrolled_at", 0.0)))
        except (KeyError, TypeError, ValueError):
            raise StateError(f"{path} lacks the server, agent or token: enrol again") from None

    def save(self, folder: Path) -> Path:
        path = ensure_dir(folder) / CONFIG
        write_private(path, asdict(self))
        return path


def config_mtime(folder: Path) -> float:
    try:
        return (folder / CONFIG).stat().st_mtime
    except OSError:
        return 0.0
