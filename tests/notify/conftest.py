"""A stand-in for the vendors' servers on 127.0.0.1: records each request, answers what the test set."""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest


@dataclass
class Request:
    method: str
    path: str  # without the query
    raw_query: str  # exactly as sent
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Vendor:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.replies: list[tuple[int, dict, dict]] = []  # consumed in order; then the default
        self.default: tuple[int, dict, dict] = (200, {"errcode": 0, "errmsg": "ok"}, {})
        self.lock = threading.Lock()
        self.base_url = ""
        # A test may hold the answers (a slow vendor: the request is in flight until released);
        # `arrived` is set when a request is in, and the most requests in flight at once is kept.
        self.release: threading.Event | None = None
        self.arrived = threading.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    def reply(self, status: int, body: dict, headers: dict | None = None) -> None:
        self.replies.append((status, body, headers or {}))

    def reset(self, default: dict | None = None) -> None:
        with self.lock:
            self.requests.clear()
            self.replies.clear()
            self.default = (200, default or {"errcode": 0, "errmsg": "ok"}, {})
            self.release = None
            self.arrived.clear()
            self.in_flight = self.most_in_flight = 0

    def keys(self) -> list[str]:
        """The notification keys received, one per message, in order (generic webhook bodies)."""
        with self.lock:
            return [m["key"] for r in self.requests for m in r.json().get("messages", [])]


@pytest.fixture(scope="session")
def vendor_server():
    vendor = Vendor()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            path, _, raw_query = self.path.partition("?")
            with vendor.lock:
                vendor.requests.append(Request("POST", path, raw_query, dict(urllib.parse.parse_qsl(raw_query)),
                                               {k.lower(): v for k, v in self.headers.items()}, body))
                status, answer, headers = vendor.replies.pop(0) if vendor.replies else vendor.default
                vendor.in_flight += 1
                vendor.most_in_flight = max(vendor.most_in_flight, vendor.in_flight)
                release = vendor.release
            vendor.arrived.set()
            if release is not None:
                release.wait(30)
            with vendor.lock:
                vendor.in_flight -= 1
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    vendor.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield vendor
    server.shutdown()
    server.server_close()


@pytest.fixture
def vendor(vendor_server):
    vendor_server.reset()
    return vendor_server


@pytest.fixture(scope="session")
def client():
    with httpx.Client() as c:
        yield c
