"""A bounded on-disk queue of batches waiting to be pushed.

Each batch is one file named by its sequence number, written atomically (a temporary file,
fsync, rename), so a crash leaves either the whole batch or none of it. Sequence numbers keep
growing across restarts (the last one is kept in a state file), which lets the server drop a
batch it has already stored when the agent sends it again after a timeout. When the spool is
full the oldest batches are dropped first and counted: the newest data matters most once the
server is back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUFFIX = ".batch"
STATE = "state.json"


@dataclass
class SpoolStats:
    pending: int
    bytes: int
    dropped: int
    last_seq: int


class Spool:
    def __init__(self, folder: Path | str, *, max_bytes: int = 50 * 1024 * 1024, max_batches: int = 10_000) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes, self.max_batches = max_bytes, max_batches
        state = self._read_state()
        self.last_seq: int = max(state.get("last_seq", 0), self._highest_on_disk())
        self.dropped: int = state.get("dropped", 0)

    # --- writing ---------------------------------------------------------------------------

    def append(self, payload: dict[str, Any]) -> int:
        """Store a batch and return its sequence number."""
        seq = self.last_seq + 1
        body = json.dumps({"seq": seq, **payload}, separators=(",", ":")).encode()
        self._write_atomically(self._path(seq), body)
        self.last_seq = seq
        self._write_state()
        self._enforce_bounds()
        return seq

    def ack(self, seq: int) -> None:
        """The server has stored every batch up to `seq`: forget them."""
        for number, path in self._batches():
            if number > seq:
                break
            path.unlink(missing_ok=True)

    def discard(self, seq: int) -> None:
        """Give up one batch the server will never take (it answered that the batch is malformed):
        it is dropped and counted, so it does not block every batch behind it."""
        path = self._path(seq)
        if path.exists():
            path.unlink(missing_ok=True)
            self.dropped += 1
            self._write_state()

    # --- reading ---------------------------------------------------------------------------

    def pending(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Batches not yet acknowledged, oldest first. A file that cannot be read (a disk
        error) is dropped and counted rather than blocking every batch behind it."""
        for number, path in self._batches():
            try:
                yield number, json.loads(path.read_bytes())
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
                self.dropped += 1
                self._write_state()

    def stats(self) -> SpoolStats:
        batches = self._batches()
        return SpoolStats(pending=len(batches), bytes=sum(p.stat().st_size for _n, p in batches),
                          dropped=self.dropped, last_seq=self.last_seq)

    # --- internals -------------------------------------------------------------------------

    def _path(self, seq: int) -> Path:
        return self.folder / f"{seq:012d}{SUFFIX}"

    def _batches(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.folder.glob(f"*{SUFFIX}"):
            stem = path.name[: -len(SUFFIX)]
            if stem.isdigit():
                found.append((int(stem), path))
        return sorted(found)

    def _highest_on_disk(self) -> int:
        batches = self._batches()
        return batches[-1][0] if batches else 0

    def _enforce_bounds(self) -> None:
        batches = self._batches()
        total = sum(p.stat().st_size for _n, p in batches)
        while batches and (len(batches) > self.max_batches or total > self.max_bytes):
            _number, oldest = batches.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
            self.dropped += 1
        self._write_state()

    def _read_state(self) -> dict[str, int]:
        try:
            data = json.loads((self.folder / STATE).read_text())
            return {k: int(v) for k, v in data.items() if k in ("last_seq", "dropped")}
        except (OSError, ValueError, TypeError):
            return {}

    def _write_state(self) -> None:
        body = json.dumps({"last_seq": self.last_seq, "dropped": self.dropped}).encode()
        self._write_atomically(self.folder / STATE, body)

    @staticmethod
    def _write_atomically(path: Path, body: bytes) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
