"""Peers of the check tests that no Debian package gives: plain and HTTPS web servers (with a
self-signed certificate of known expiry), a DNS server built on dnspython's wire format, and a TCP
server that accepts and never says a word. All real sockets on 127.0.0.1, served from threads.
Also the helpers that start the Debian daemons and run a check."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from opsdesk.monitoring import checks
from opsdesk.monitoring.checks.base import CheckResult, CheckSpec, execute

PAGE = b"<html><body>opsdesk test page: all systems nominal</body></html>"
CERT_DAYS = 10


def free_port(kind: int = socket.SOCK_STREAM, *, below: int | None = None) -> int:
    """A port free now on 127.0.0.1 (the kernel's pick, or a random one under `below`)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", random.randrange(20_000, below) if below else 0))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port found")


def run_check(type_: str, target: str, *, memo: dict | None = None, timeout: float = 5.0,
              secrets: dict | None = None, spec_id: int = 1, **params) -> CheckResult:
    """One run of a check type through the same guard the engine uses."""
    spec = CheckSpec(id=spec_id, type=type_, target=target, params=params, timeout=timeout, secrets=secrets or {})
    return asyncio.run(execute(checks.get(type_), spec, {} if memo is None else memo))


def samples(result: CheckResult, name: str) -> list:
    return [s for s in result.samples if s.name == name]


def value(result: CheckResult, name: str, **labels) -> float:
    found = [s.value for s in samples(result, name) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert found, f"no sample {name}{labels or ''} in {[s.name for s in result.samples][:40]}"
    return found[0]


# --- Debian daemons ---------------------------------------------------------------------------

def need(program: str, package: str) -> str:
    path = shutil.which(program) or next((p for d in ("/usr/sbin", "/usr/bin", "/sbin")
                                          if Path(p := f"{d}/{program}").exists()), None)
    if path is None:
        pytest.fail(f"{program} is not installed: install the Debian package `{package}` (make test-deps does)",
                    pytrace=False)
    return path


class Daemon:
    """A program started for the session, its output in a log file, stopped at the end."""

    def __init__(self, name: str, args: list[str], log: Path, env: dict | None = None) -> None:
        self.name, self.log = name, log
        self.handle = log.open("wb")
        self.proc = subprocess.Popen(args, stdout=self.handle, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)

    def wait_until(self, ready: Callable[[], bool], seconds: float = 15.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"{self.name} exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}",
                            pytrace=False)
            try:
                if ready():
                    return
            except (OSError, httpx.TransportError):  # not listening yet (httpx's are no OSError)
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{self.name} not ready within {seconds:g} s: {self.log.read_text()[-2000:]}",
                            pytrace=False)
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()


def accepts_tcp(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


def require_tcp(port: int, what: str) -> None:
    try:
        accepts_tcp(port)
    except OSError as exc:
        pytest.fail(f"{what} does not answer on 127.0.0.1:{port} ({exc}); the tests use the local server",
                    pytrace=False)


# --- Web servers ----------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/status/"):
            self._send(int(self.path.rsplit("/", 1)[1]), b"status page")
        elif self.path == "/slow":
            time.sleep(3)
            self._send(200, PAGE)
        elif self.path == "/big":
            self._send(200, b"x" * 200_000)
        else:
            self._send(200, PAGE)

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 drops a burst of checks' connects (SYN retried after 1 s)

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up mid-answer (a check past its timeout) is expected


@dataclass
class WebServers:
    http_url: str
    https_url: str
    not_after: dt.datetime


def self_signed_certificate(directory: Path, days: float) -> tuple[Path, Path, dt.datetime]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    not_after = now + dt.timedelta(days=days)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, not_after.replace(microsecond=0)


def start_web_servers(directory: Path) -> tuple[WebServers, Callable[[], None]]:
    plain = _QuietServer(("127.0.0.1", 0), _Handler)
    secure = _QuietServer(("127.0.0.1", 0), _Handler)
    cert, key, not_after = self_signed_certificate(directory, CERT_DAYS)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    for server in (plain, secure):
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        for server in (plain, secure):
            server.shutdown()
            server.server_close()

    return WebServers(f"http://127.0.0.1:{plain.server_address[1]}",
                      f"https://127.0.0.1:{secure.server_address[1]}", not_after), stop


# --- A TCP server that never answers --------------------------------------------------------

class _Silent(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(30)
        try:
            self.request.recv(1024)  # waits for the client to give up
        except OSError:
            pass


class _SilentServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True


def start_silent_server() -> tuple[int, Callable[[], None]]:
    server = _SilentServer(("127.0.0.1", 0), _Silent)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return server.server_address[1], stop


# --- DNS ------------------------------------------------------------------------------------

ZONE = {"www.opsdesk.test.": ["192.0.2.10", "192.0.2.11"]}
SILENT_NAME = "slow.opsdesk.test."  # never answered: the query times out


def start_dns_server() -> tuple[int, Callable[[], None]]:
    """Answers A queries for ZONE, NXDOMAIN for other names, nothing for SILENT_NAME."""
    import dns.message
    import dns.rcode
    import dns.rdatatype
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    running = threading.Event()
    running.set()

    def serve() -> None:
        while running.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(wire)
            question = query.question[0]
            name = question.name.to_text()
            if name == SILENT_NAME:
                continue
            answer = dns.message.make_response(query)
            if name in ZONE:
                if question.rdtype == dns.rdatatype.A:
                    answer.answer.append(dns.rrset.from_text_list(name, 60, "IN", "A", ZONE[name]))
            else:
                answer.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(answer.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop() -> None:
        running.clear()
        thread.join(2)
        sock.close()

    return sock.getsockname()[1], stop
