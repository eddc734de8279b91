"""The pushes' POST to the metric store (remote write): HTTP/1.1 over a kept-alive socket per
thread.

Every host agent's push makes one such request (forwarding.py), so its cost is paid per push:
measured posting 37 KB bodies (JSON lines, what a push sent then) to VictoriaMetrics on
127.0.0.1, 131 µs of CPU a request through http.client (most of it building the request and
parsing the answer's headers with the email package), 122 through h11, 73 through pycurl, 32
here. A push's whole budget
is a few hundred (docs/performance.md, "Round eight"), so this one request is written out: the
request is one `sendall` of a head made once and the body; the answer is read as HTTP/1.1 says
(Content-Length, chunked, or until the store closes), its head parsed for the three things that
matter: the status, the length, and whether the connection stays open. Every other request to
the store goes through httpx (victoria.py).
"""

from __future__ import annotations

import socket
import ssl
import threading
from urllib.parse import urlsplit

# An answer's head longer than this is not VictoriaMetrics'.
MAX_HEAD = 64 * 1024
RECEIVE = 65536


class ProtocolError(Exception):
    """The peer's answer is not HTTP/1.x as expected."""


class _Unanswered(ConnectionError):
    """The peer closed the connection without a byte of an answer."""


class PostFailed(Exception):
    """The request failed (its connection is closed). `retry`: it went over a connection kept
    from an earlier request, which the peer closed while idle, and failed before any answer: the
    peer did not read it, and it may be sent once more."""

    def __init__(self, cause: BaseException, retry: bool) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.retry = retry


class ImportPost:
    """POSTs to one URL, a kept-alive connection per calling thread."""

    def __init__(self, base_url: str, path: str, headers: dict[str, str], timeout_s: float) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or ""
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.timeout_s = timeout_s
        host_header = parts.netloc.rpartition("@")[2]
        lines = [f"POST {path} HTTP/1.1", f"Host: {host_header}", *(f"{k}: {v}" for k, v in headers.items())]
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self._local = threading.local()

    def _socket(self) -> tuple[socket.socket, bool]:
        """This thread's connection, and whether it served a request before."""
        sock = getattr(self._local, "sock", None)
        if sock is not None:
            return sock, True
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self._local.sock = sock
        return sock, False

    def close(self) -> None:
        sock = getattr(self._local, "sock", None)
        self._local.sock = None
        if sock is not None:
            sock.close()

    def post(self, body: bytes) -> tuple[int, bytes]:
        """Send the body; answers the status and the answer's body. Raises PostFailed."""
        try:
            sock, reused = self._socket()
        except OSError as exc:
            raise PostFailed(exc, retry=False) from None
        try:
            sock.sendall(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
            status, answer, keep = _read_answer(sock)
        except (OSError, ProtocolError, ValueError) as exc:
            self.close()
            idle_closed = reused and isinstance(exc, (BrokenPipeError, ConnectionResetError, _Unanswered))
            raise PostFailed(exc, retry=idle_closed) from None
        if not keep:
            self.close()
        return status, answer


def _read_answer(sock: socket.socket) -> tuple[int, bytes, bool]:
    data = b""
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(data) > MAX_HEAD:
            raise ProtocolError("answer head too long")
        chunk = sock.recv(RECEIVE)
        if not chunk:
            if data:
                raise ProtocolError("the peer closed the connection within an answer")
            raise _Unanswered("the peer closed the connection before answering")
        data += chunk
    head, rest = data[:end].split(b"\r\n"), data[end + 4:]
    version, _, status_text = head[0].partition(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ProtocolError(f"not an HTTP/1 answer: {head[0][:80]!r}")
    status = int(status_text[:3])
    fields: dict[bytes, bytes] = {}
    for line in head[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    keep = version == b"HTTP/1.1" and fields.get(b"connection", b"").lower() != b"close"
    if status == 204 or status == 304 or 100 <= status < 200:
        return status, b"", keep
    if b"content-length" in fields:
        length = int(fields[b"content-length"])
        while len(rest) < length:
            rest += _more(sock)
        return status, rest[:length], keep
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        return status, _read_chunked(sock, rest), keep
    while chunk := sock.recv(RECEIVE):  # the answer ends when the peer closes
        rest += chunk
    return status, rest, False


def _read_chunked(sock: socket.socket, data: bytes) -> bytes:
    out: list[bytes] = []
    while True:
        while b"\r\n" not in data:
            data += _more(sock)
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            while not (data.startswith(b"\r\n") or b"\r\n\r\n" in data):  # trailer fields, if any
                data += _more(sock)
            return b"".join(out)
        while len(data) < size + 2:
            data += _more(sock)
        out.append(data[:size])
        data = data[size + 2:]


def _more(sock: socket.socket) -> bytes:
    chunk = sock.recv(RECEIVE)
    if not chunk:
        raise ProtocolError("the peer closed the connection within an answer")
    return chunk
