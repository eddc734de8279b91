"""IMAP IDLE (RFC 2177): a mailbox whose server offers it rings as soon as mail arrives, and the
fetch runs at once instead of at the next minute's beat. It is only a doorbell: the fetch task
does the work, and the beat's fetch every 60 s still runs, so a watcher that dies loses nothing.

The worker's main process runs one supervisor thread (started when the worker is ready) that
keeps one watcher thread per enabled mailbox; a watcher logs in with imaplib, then speaks IDLE on
the socket itself (imaplib of Python 3.11 has no IDLE), re-issues it every 25 minutes (servers
drop an IDLE after 30), and reconnects with a growing pause when the connection breaks."""

from __future__ import annotations

import logging
import re
import select
import socket
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connection

from opsdesk.servicedesk.mail import connections
from opsdesk.servicedesk.mail.fetch import quote_folder
from opsdesk.servicedesk.models import MailChannel

log = logging.getLogger(__name__)

RENEW_SECONDS = 25 * 60
EXISTS = re.compile(rb"^\* \d+ (EXISTS|RECENT)\b", re.IGNORECASE)
MAX_PAUSE = 300.0


class NoIdle(Exception):
    """The server does not offer IDLE: the beat's fetch is all this mailbox gets."""


class LineReader:
    """CRLF lines from a socket, with a timeout per line (None when it passes)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf = sock, b""

    def readline(self, timeout: float) -> bytes | None:
        end = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            pending = self.sock.pending() if hasattr(self.sock, "pending") else 0
            if not pending:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return None
                readable, _w, _x = select.select([self.sock], [], [], min(remaining, 1.0))
                if not readable:
                    continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk
        line, _sep, self.buf = self.buf.partition(b"\r\n")
        return line


def idle_once(reader: LineReader, tag: bytes, stop: threading.Event, renew: float = RENEW_SECONDS) -> bool:
    """One IDLE: True when the server announced new mail, False when it was renewed or stopped."""
    reader.sock.sendall(tag + b" IDLE\r\n")
    line = reader.readline(connections.TIMEOUT)
    if line is None or not line.startswith(b"+"):
        raise NoIdle(repr(line)[:200])
    got = False
    deadline = time.monotonic() + renew
    while not stop.is_set() and not got and time.monotonic() < deadline:
        line = reader.readline(1.0)
        if line is not None and EXISTS.match(line):
            got = True
    reader.sock.sendall(b"DONE\r\n")
    while True:
        line = reader.readline(connections.TIMEOUT)
        if line is None:
            raise TimeoutError("no answer to DONE")
        if EXISTS.match(line):
            got = True
        if line.startswith(tag + b" "):
            if not line[len(tag) + 1:].upper().startswith(b"OK"):
                raise ConnectionError(line[:200].decode("ascii", "replace"))
            return got


class Watcher(threading.Thread):
    """Watches one mailbox until `stop` is set; `ring(channel_id)` for each arrival (and once
    after each login, for what came while nobody watched)."""

    def __init__(self, channel_id: int, ring: Callable[[int], None], stop: threading.Event | None = None,
                 renew: float = RENEW_SECONDS) -> None:
        super().__init__(name=f"mail-idle-{channel_id}", daemon=True)
        self.channel_id, self.ring, self.renew = channel_id, ring, renew
        self.stop = stop or threading.Event()
        self.supported = True
        self.sessions = 0

    def run(self) -> None:
        pause = 5.0
        while not self.stop.is_set():
            try:
                self.session()
                pause = 5.0
            except NoIdle:
                log.info("mailbox %s: the server offers no IDLE; fetched every minute", self.channel_id)
                self.supported = False
                return
            except Exception as exc:
                log.warning("mailbox %s IDLE: %s: %s", self.channel_id, type(exc).__name__, exc)
                self.stop.wait(pause)
                pause = min(pause * 2, MAX_PAUSE)
            finally:
                close_old_connections()

    def session(self) -> None:
        channel = MailChannel.objects.filter(pk=self.channel_id, enabled=True).first()
        connection.close()  # no database connection held while waiting for mail
        if channel is None:
            self.stop.set()
            return
        conn = connections.imap(channel)
        try:
            if "IDLE" not in conn.capabilities:
                raise NoIdle("IDLE not in CAPABILITY")
            typ, data = conn.select(quote_folder(channel.folder), readonly=True)
            if typ != "OK":
                raise ConnectionError(f"SELECT {channel.folder}: {data!r}"[:300])
            self.sessions += 1
            self.ring(self.channel_id)
            reader = LineReader(conn.sock)
            n = 0
            while not self.stop.is_set():
                n += 1
                if idle_once(reader, b"OPSIDLE%d" % n, self.stop, self.renew):
                    self.ring(self.channel_id)
        finally:
            connections.logout(conn)


class Supervisor(threading.Thread):
    """One watcher per enabled mailbox, checked every minute (a mailbox added, disabled or
    removed is picked up)."""

    def __init__(self, ring: Callable[[int], None], interval: float = 60.0) -> None:
        super().__init__(name="mail-idle", daemon=True)
        self.ring, self.interval = ring, interval
        self.stop = threading.Event()
        self.watchers: dict[int, Watcher] = {}

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                enabled = set(MailChannel.objects.filter(enabled=True).values_list("pk", flat=True))
            except Exception as exc:
                log.warning("mail IDLE supervisor: %s", exc)
                enabled = set(self.watchers)
            finally:
                connection.close()
            for pk, watcher in list(self.watchers.items()):
                if pk not in enabled:
                    watcher.stop.set()
                    del self.watchers[pk]
                elif not watcher.is_alive() and watcher.supported:
                    del self.watchers[pk]
            for pk in enabled - set(self.watchers):
                watcher = Watcher(pk, self.ring)
                self.watchers[pk] = watcher
                watcher.start()
            self.stop.wait(self.interval)
        for watcher in self.watchers.values():
            watcher.stop.set()


_supervisor: Supervisor | None = None


def start_in_worker(**kwargs) -> None:
    """Celery's worker_ready: watch the mailboxes from the worker's main process."""
    global _supervisor
    if _supervisor is not None or not getattr(settings, "OPSDESK_MAIL_IDLE", True):
        return

    def ring(channel_id: int) -> None:
        from opsdesk.servicedesk.mail import tasks

        tasks.fetch_mailbox.delay(channel_id)

    _supervisor = Supervisor(ring)
    _supervisor.start()
