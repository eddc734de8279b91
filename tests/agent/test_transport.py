"""The agent's HTTP client (urllib, not httpx: see transport.py): every HTTP answer comes back as
a response, no answer at all is a TransportError, and a redirect is shown, not followed."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opsdesk.agent.transport import USER_AGENT, Client, TransportError
from tests.agent.peers import closed_port_url


@pytest.fixture
def server():
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if self.path == "/moved/":
                self.send_response(301)
                self.send_header("Location", "https://opsdesk.example/moved/")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/slow/":
                threading.Event().wait(1.0)
            else:
                data = b'{"detail": "Not found."}' if self.path == "/missing/" else b'{"ok": true}'
                self.send_response(404 if self.path == "/missing/" else 200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


def test_json_goes_out_and_every_status_comes_back(server):
    url, seen = server
    client = Client(timeout=2)
    ok = client.post(url + "/ok/", json={"a": "é"}, headers={"Authorization": "Bearer t"})
    assert ok.status_code == 200 and ok.json() == {"ok": True}
    assert seen[0]["body"] == b'{"a":"\\u00e9"}'
    assert seen[0]["headers"]["Authorization"] == "Bearer t"
    assert seen[0]["headers"]["Content-Type"] == "application/json"
    assert seen[0]["headers"]["User-Agent"] == USER_AGENT
    missing = client.post(url + "/missing/", json={})
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}


def test_a_redirect_is_answered_not_followed(server):
    url, seen = server
    moved = Client(timeout=2).post(url + "/moved/", json={})
    assert moved.status_code == 301 and moved.headers["Location"] == "https://opsdesk.example/moved/"
    assert [r["path"] for r in seen] == ["/moved/"]


def test_no_answer_is_a_transport_error(server):
    url, _seen = server
    with pytest.raises(TransportError) as refused:
        Client(timeout=2).post(closed_port_url() + "/", json={})
    assert refused.value.reason == "Connection refused" and refused.value.kind == "ConnectionRefusedError"
    with pytest.raises(TransportError, match="timed out"):
        Client(timeout=0.2).post(url + "/slow/", json={})

