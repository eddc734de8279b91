"""The senders of a worker process: a few threads that send notifications as soon as the
transaction that wrote them commits, woken in-process, with no task queue in between.

The row is still the truth and this is only the wake-up (docs/architecture.md,
"Background work"): `services.queue` hands the
destination to these threads in `transaction.on_commit`, and so do the sweep, a Celery task that
reaches this process, and a destination's own timer (its rate limit or retry). A process killed
with destinations in hand loses only the wake-ups; the sweep finds the rows.

Why threads of their own rather than Celery tasks: a task waits for the transport's poll (50 ms on
the filesystem queue) and then for a free thread of the pool, and the single-machine worker has
two, one of them filing ingest all along; a task that sent held its thread for as long as its
destination had work (up to 50 requests or 30 s). Measured with bench/alert_latency.py (10,000
rules, PostgreSQL), a notification's row to SENT went from p99 5.1 s to 0.14 s.

Each thread takes one destination, makes one request to it (`delivery.step`) and puts it back at
the end of the line when more may be due, so one busy destination does not hold up the others.
A destination is in one thread's hands at a time; a wake-up for it meanwhile is kept (`_again`)
and it is looked at once more after, so a row committed while its destination was being sent to
goes with the next request, not with the next sweep.

Started in `opsdesk worker` only (Celery's worker_init turns them on; the threads start with the
first wake-up, in whichever process of the worker it comes): the web and the scheduler hand their
wake-ups to the task queue, and a worker takes them from there.
"""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from collections.abc import Callable

from celery.signals import worker_init, worker_process_shutdown, worker_shutdown
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)

Destination = tuple[int, str]  # (channel id, address), as in delivery.py

# Requests in flight at once in one process, to different destinations: a slow receiver (a
# request may take up to its 10-s timeout) holds one thread, not every destination behind it.
THREADS = 3
# After a step failed on something other than the request (the database busy or away), the
# destination is looked at again this much later rather than at the next sweep.
RETRY_AFTER_ERROR_S = 1.0


class Senders:
    """Threads that take woken destinations in turn and run `step(destination)` on each; `step`
    answers whether more may be due (it made a request), and then the destination goes to the
    back of the line."""

    def __init__(self, step: Callable[[Destination], bool], threads: int = THREADS) -> None:
        self.pid = os.getpid()
        self._step = step
        self._count = threads
        self._cond = threading.Condition()
        self._ready: dict[Destination, None] = {}  # an ordered set: first woken, first served
        self._busy: set[Destination] = set()  # in a thread's hands now
        self._again: set[Destination] = set()  # woken while busy: looked at once more after
        self._timers: list[tuple[float, Destination]] = []  # (monotonic time, destination)
        self._stopping = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for n in range(self._count):
            thread = threading.Thread(target=self._run, name=f"notify-sender-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self, destination: Destination, delay: float = 0.0) -> None:
        """Look at the destination now, or after `delay` seconds (when its limit or retry allows)."""
        with self._cond:
            if delay > 0:
                heapq.heappush(self._timers, (time.monotonic() + delay, destination))
            else:
                self._mark(destination)
            self._cond.notify()

    def _mark(self, destination: Destination) -> None:
        if destination in self._busy:
            self._again.add(destination)
        else:
            self._ready[destination] = None

    def take(self, timeout: float | None = None) -> Destination | None:
        """The next destination to look at (it is then busy until `done`), waiting for one; None
        when stopping, or when `timeout` passed with none."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    self._mark(heapq.heappop(self._timers)[1])
                if self._ready:
                    destination = next(iter(self._ready))
                    del self._ready[destination]
                    self._busy.add(destination)
                    return destination
                waits = [t for t in (self._timers[0][0] - now if self._timers else None,
                                     None if end is None else end - now) if t is not None]
                if waits and min(waits) <= 0:
                    return None
                self._cond.wait(min(waits) if waits else None)
            return None

    def done(self, destination: Destination, more: bool) -> None:
        with self._cond:
            self._busy.discard(destination)
            if more or destination in self._again:
                self._again.discard(destination)
                self._ready[destination] = None  # at the back of the line
                self._cond.notify()

    def _run(self) -> None:
        try:
            while True:
                destination = self.take()
                if destination is None:
                    return
                more = False
                try:
                    close_old_connections()  # a connection past its age, or broken, is opened anew
                    more = self._step(destination)
                except Exception:
                    # The rows are untouched or under a lease: nothing is lost, only this wake-up.
                    log.exception("notify sender: destination %s", destination)
                    self.wake(destination, RETRY_AFTER_ERROR_S)
                finally:
                    self.done(destination, more)
        finally:
            connections.close_all()  # this thread's own

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no destination is in hand or waiting now (timers aside); answers whether so."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._busy or self._ready:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    def stop(self, timeout: float) -> None:
        """Let the threads finish the request in hand (its rows settle) and end."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))


# --- the process's senders ---------------------------------------------------------------------

_enabled = False
_senders: Senders | None = None
_lock = threading.Lock()


def enable() -> None:
    """This process is a worker: its wake-ups go to its own sender threads."""
    global _enabled
    _enabled = True


def local() -> Senders | None:
    """This process's senders (started on first use), or None outside a worker."""
    global _senders
    if not _enabled:
        return None
    senders = _senders
    if senders is not None and senders.pid == os.getpid():
        return senders
    with _lock:
        # A forked child (a prefork pool's process) has none of its parent's threads: its own.
        if _senders is None or _senders.pid != os.getpid():
            from opsdesk.notify import delivery

            _senders = Senders(delivery.step)
            _senders.start()
        return _senders


def stop(timeout: float = 12.0) -> None:
    """At the worker's shutdown: a request in flight (10 s at most) is finished and settled."""
    senders = _senders
    if senders is not None and senders.pid == os.getpid():
        senders.stop(timeout)


def _on_worker_init(**kwargs) -> None:
    enable()


def _on_worker_shutdown(**kwargs) -> None:
    stop()


# worker_init comes in the worker's main process before its pool starts (a prefork pool's
# processes inherit the switch); the shutdowns let the threads settle the request in hand.
worker_init.connect(_on_worker_init, weak=False, dispatch_uid="opsdesk.notify.senders.init")
worker_shutdown.connect(_on_worker_shutdown, weak=False, dispatch_uid="opsdesk.notify.senders.shutdown")
worker_process_shutdown.connect(_on_worker_shutdown, weak=False, dispatch_uid="opsdesk.notify.senders.process_shutdown")
