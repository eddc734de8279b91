"""`opsdesk agent run`: every interval, measure the host, spool the samples as one batch and push
what the spool holds; now and then, send the inventory.

Ticks are counted from the start (start + n × interval), so the agent does not drift by the time
each tick takes; a tick that falls behind (a long replay, a suspended machine) skips the ticks it
missed rather than running them back to back. While the server is unreachable, batches wait in
the bounded spool and are replayed in order once it is back. SIGTERM or SIGINT ends the loop
after the batch being pushed (exit 0).

The log has one line per change of state (server unreachable, back, batches replayed, the spool
full, the inventory sent or refused), never one per tick, so a quiet journal means all is well.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsdesk import __version__
from opsdesk.agent import inventory as inventory_module
from opsdesk.agent.metrics import HostMetrics, Sample
from opsdesk.agent.sender import describe, push_pending, transport_errors
from opsdesk.agent.spool import Spool
from opsdesk.agent.state import (
    INVENTORY,
    SPOOL,
    STATUS,
    AgentConfig,
    StateError,
    config_mtime,
    read_json,
    write_private,
)
from opsdesk.agent.transport import Client

log = logging.getLogger("opsdesk.agent")

DEFAULT_INTERVAL_S = 30.0
DEFAULT_INVENTORY_HOURS = 24.0
INVENTORY_CHECK_S = 3600.0  # how often the inventory is collected to see whether it changed
INVENTORY_RETRY_S = 300.0  # after the server did not take it
MAX_LABEL_VALUE = 200  # the push API's limit
# A batch answered with one of these is malformed: the server will never take it, so it is dropped
# (and counted) instead of blocking every batch behind it. 401 and 403 (the token) keep it.
DISCARD_STATUS = {400, 413, 422}


def next_tick(start: float, interval: float, done: int, now: float) -> tuple[int, float]:
    """The number of the next tick and the seconds until it: tick n is at start + n × interval.
    Ticks already past are skipped."""
    number = done + 1
    if start + number * interval <= now:
        number = int((now - start) // interval) + 1
    return number, max(0.0, start + number * interval - now)


def sample_column(sample: Sample, ts: float) -> list[Any]:
    """A sample in the push's `columns` form ([name, labels, times, values]): the server checks
    and stores it with a C call per list instead of Python work per sample."""
    labels = {key: value[:MAX_LABEL_VALUE] for key, value in sample.labels.items()}
    return [sample.name, labels, [ts], [sample.value]]


class Stop:
    """"Stop" asked for by SIGTERM, SIGINT or `set()`, and a sleep it ends at once.

    The signal handler only sets a flag: an Event would deadlock if the signal came while the
    main thread held the Event's own lock inside wait(). The sleep is a select() on a pipe that
    the interpreter writes to when a signal arrives (signal.set_wakeup_fd), so it ends at once."""

    def __init__(self) -> None:
        self.asked = False
        self._pipe: tuple[int, int] | None = None  # made when first needed, closed by close()

    def _fds(self) -> tuple[int, int]:
        if self._pipe is None:
            read, write = os.pipe()
            os.set_blocking(read, False)
            os.set_blocking(write, False)
            self._pipe = (read, write)
        return self._pipe

    def set(self, *_args: object) -> None:
        self.asked = True
        if self._pipe is not None:
            try:
                os.write(self._pipe[1], b"\0")
            except OSError:  # the pipe is full: a wake-up is already waiting
                pass

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when a stop was asked for."""
        read, _write = self._fds()  # before looking at the flag: a set() from now on wakes the select
        if not self.asked and seconds > 0:
            select.select([read], [], [], seconds)
            try:
                while os.read(read, 512):
                    pass
            except OSError:
                pass  # empty (EAGAIN)
        return self.asked

    def install(self) -> Callable[[], None]:
        """Catch SIGTERM and SIGINT (main thread only); returns what puts the old handlers back."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {number: signal.signal(number, self.set) for number in (signal.SIGTERM, signal.SIGINT)}
        previous_fd = signal.set_wakeup_fd(self._fds()[1], warn_on_full_buffer=False)

        def restore() -> None:
            signal.set_wakeup_fd(previous_fd)
            for number, handler in previous.items():
                signal.signal(number, handler)

        return restore

    def close(self) -> None:
        pipe, self._pipe = self._pipe, None
        for fd in pipe or ():
            os.close(fd)


class Runner:
    once_window_s = 1.0  # `run --once` measures rates over this time

    def __init__(self, folder: Path, *, interval: float = DEFAULT_INTERVAL_S,
                 inventory_hours: float = DEFAULT_INVENTORY_HOURS, client: Any = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 inventory_check_s: float = INVENTORY_CHECK_S, inventory_retry_s: float = INVENTORY_RETRY_S,
                 collect_inventory: Callable[[], dict[str, Any]] = inventory_module.collect) -> None:
        self.folder = folder
        self.config = AgentConfig.load(folder)  # NotEnrolled before anything is created
        self._config_mtime = config_mtime(folder)
        self.spool = Spool(folder / SPOOL)
        self.client = client if client is not None else Client()
        self.interval = interval
        self.clock, self.wall = clock, wall
        self.metrics = HostMetrics(clock=clock)
        self.stopped = Stop()
        # The server as last seen: "" (not yet tried), "up", "unreachable" or "refused".
        self.server_state = ""
        self._state_since = wall()
        self._last_error = ""
        self._dropped_at_outage = self.spool.dropped
        self._spool_full_noted = False
        self._spool_error = ""
        # Inventory: collected at start, then every check; sent when new, changed, or old.
        self._collect_inventory = collect_inventory
        self._inventory_max_age = inventory_hours * 3600.0
        self._inventory_check_s = min(inventory_check_s, self._inventory_max_age)
        self._inventory_retry_s = inventory_retry_s
        self._inventory_next_check = clock()
        self._inventory_first = True
        self._inventory_pending: tuple[dict[str, Any], str] | None = None
        self._inventory_retry_at = 0.0
        self._inventory_error = ""
        try:
            self._inventory_sent = read_json(folder / INVENTORY) or {}
        except StateError:
            self._inventory_sent = {}

    # --- the loop ----------------------------------------------------------------------------

    def stopping(self) -> bool:
        return self.stopped.asked

    def stop(self) -> None:
        """Ask the loop to end (from another thread; in the process itself SIGTERM does it)."""
        self.stopped.set()

    def run(self, *, once: bool = False) -> int:
        restore = self.stopped.install()
        try:
            return self._run(once)
        finally:
            restore()
            self.stopped.close()

    def _run(self, once: bool) -> int:
        log.info("opsdesk agent %s started: agent %s pushing to %s every %g s; state in %s", __version__,
                 self.config.agent, self.config.server, self.interval, self.folder)
        self._write_status()
        if once:
            # One complete batch: rates need two measurements, so take them a second apart.
            self.metrics.collect()
            if not self.stopped.wait(self.once_window_s):
                self.tick()
            self._write_status(stopped=True)
            return 0 if self.server_state == "up" or self.stopping() else 1
        start, done = self.clock(), 0
        while not self.stopping():
            self.tick()
            done, delay = next_tick(start, self.interval, done, self.clock())
            if self.stopped.wait(delay):
                break
        log.info("stopped (%d batches wait in the spool)", self.spool.stats().pending)
        self._write_status(stopped=True)
        return 0

    def tick(self) -> None:
        self._reload_config()
        now = self.wall()
        batch = {"columns": [sample_column(sample, now) for sample in self.metrics.collect()]}
        self._spool(batch)
        self.push()
        if not self.stopping():
            self.inventory_step()

    # --- metrics -----------------------------------------------------------------------------

    def _spool(self, batch: dict[str, Any]) -> None:
        try:
            self.spool.append(batch)
        except OSError as exc:  # a full or read-only disk: keep pushing what is there
            if not self._spool_error:
                log.error("cannot write to the spool in %s (%s): this interval's samples are lost",
                          self.spool.folder, exc.strerror or exc)
            self._spool_error = str(exc)
            return
        if self._spool_error:
            log.info("the spool can be written again")
            self._spool_error = ""
        if self.spool.dropped > self._dropped_at_outage and not self._spool_full_noted:
            log.warning("the spool is full (%d batches or %d MB at most): the oldest batches are dropped",
                        self.spool.max_batches, self.spool.max_bytes // 2**20)
            self._spool_full_noted = True

    def push(self) -> None:
        """Push everything the spool holds (in rounds of 100) until it is empty, the server fails,
        or a stop is asked for."""
        sent = 0
        while True:
            result = push_pending(self.spool, self.client, self.config.server, self.config.token,
                                  stop=self.stopping)
            sent += result.sent
            log.debug("pushed %d batches%s", result.sent, f", then {result.error}" if result.error else "")
            if result.refused and result.status in DISCARD_STATUS:
                self.spool.discard(result.seq)
                log.error("the server refused batch %d as malformed; it was dropped (%s)", result.seq, result.error)
                continue
            if result.error or result.sent == 0 or self.stopping():
                break
        if not result.error:
            self._server_is("up", "", sent)
        else:
            self._server_is("refused" if result.refused else "unreachable", result.error, sent, answered=result.status)

    def _server_is(self, state: str, error: str, sent: int, *, answered: int = 0) -> None:
        before = self.server_state
        if state == before:
            if state == "up" and sent > 1:
                log.info("replayed %d batches", sent)
            return
        dropped = self.spool.dropped - self._dropped_at_outage
        if state == "up":
            if before:
                away = _duration(self.wall() - self._state_since)
                extra = f"; {dropped} older batches were dropped while the spool was full" if dropped else ""
                log.info("the server is reachable again after %s: %d batches replayed%s", away, sent, extra)
                self._inventory_retry_at = self.clock()  # an inventory that waited goes now
            else:
                log.info("connected to %s: %d %s stored", self.config.server, sent, "batch" if sent == 1 else "batches")
            self._dropped_at_outage = self.spool.dropped
            self._spool_full_noted = False
        elif state == "unreachable":  # no answer, or one that says "later" (5xx, 429)
            log.warning("the server %s (%s): batches wait in %s", "cannot take batches now" if answered
                        else "is unreachable", error, self.spool.folder)
        else:
            log.error("the server refuses the batches (%s); they wait in %s. If the agent's token was revoked, "
                      "enrol again: opsdesk agent enroll --force --server URL --token TOKEN", error, self.spool.folder)
        if state != "up" and before == "up":
            self._dropped_at_outage = self.spool.dropped
        self.server_state, self._state_since = state, self.wall()
        self._last_error = error
        self._write_status()

    def _reload_config(self) -> None:
        """A new enrolment (enroll --force) while the agent runs takes effect at the next tick."""
        mtime = config_mtime(self.folder)
        if mtime == self._config_mtime:
            return
        try:
            self.config = AgentConfig.load(self.folder)
        except Exception as exc:  # keep the enrolment it had
            log.error("cannot read the new enrolment, keeping agent %s: %s", self.config.agent, exc)
        else:
            log.info("enrolment changed: now agent %s pushing to %s", self.config.agent, self.config.server)
        self._config_mtime = mtime

    # --- inventory ---------------------------------------------------------------------------

    def inventory_step(self) -> None:
        now = self.clock()
        if now >= self._inventory_next_check:
            self._inventory_next_check = now + self._inventory_check_s
            self._check_inventory()
        if self._inventory_pending and self.clock() >= self._inventory_retry_at and self.server_state != "unreachable":
            self._send_inventory()

    def _check_inventory(self) -> None:
        try:
            found = self._collect_inventory()
        except Exception as exc:  # the metrics go on without it
            log.error("collecting the inventory failed: %s: %s", type(exc).__name__, exc)
            return
        change = inventory_module.change_digest(found)
        age = self.wall() - float(self._inventory_sent.get("sent_at", 0.0))
        if self._inventory_first or change != self._inventory_sent.get("change_hash") or age >= self._inventory_max_age:
            self._inventory_pending = (inventory_module.payload(found, self.wall()), change)
            self._inventory_retry_at = self.clock()
        self._inventory_first = False

    def _send_inventory(self) -> None:
        assert self._inventory_pending is not None
        body, change = self._inventory_pending
        url = self.config.server + inventory_module.INVENTORY_PATH
        try:
            response = self.client.post(url, json=body, headers={"Authorization": f"Bearer {self.config.token}"})
        except transport_errors() as exc:
            error = describe(exc)
        else:
            if 200 <= response.status_code < 300:
                try:
                    stored = bool(response.json().get("stored", True))
                except (ValueError, AttributeError):
                    stored = True
                self._inventory_sent = {"hash": body["hash"], "change_hash": change, "sent_at": self.wall(),
                                        "stored": stored}
                try:
                    write_private(self.folder / INVENTORY, self._inventory_sent)
                except StateError as exc:
                    log.error("%s", exc)
                self._inventory_pending = None
                self._inventory_error = ""
                log.info("inventory sent (%d packages, %s)", len(body["inventory"].get("packages", [])),
                         "stored" if stored else "unchanged on the server")
                return
            error = f"HTTP {response.status_code}: {response.text[:200]}"
        self._inventory_retry_at = self.clock() + self._inventory_retry_s
        if error != self._inventory_error:
            log.warning("the server did not take the inventory (%s): trying again every %s", error,
                        _duration(self._inventory_retry_s))
            self._inventory_error = error

    # --- status ------------------------------------------------------------------------------

    def _write_status(self, *, stopped: bool = False) -> None:
        status = {"pid": 0 if stopped else os.getpid(), "server": self.config.server, "agent": self.config.agent,
                  "server_state": self.server_state, "since": self._state_since,
                  "error": self._last_error, "written_at": self.wall()}
        try:
            write_private(self.folder / STATUS, status)
        except StateError as exc:
            log.error("%s", exc)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
