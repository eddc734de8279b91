"""The agent's push: while the server is away batches wait on disk; when it is back they arrive
in order, each stored once even when an answer was lost and the batch sent again. The peer is a
small HTTP server on 127.0.0.1 that keeps what it receives as the push API will (by sequence
number), so the test checks the exact requests the agent sends."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from opsdesk.agent.sender import PUSH_PATH, push_pending
from opsdesk.agent.spool import Spool


class Peer:
    def __init__(self) -> None:
        self.stored: dict[int, dict] = {}
        self.requests: list[dict] = []
        self.drop_answers = 0  # store, then close without answering (a lost response)
        self.status = 200
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                peer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if peer.status != 200:
                    self.send_response(peer.status)
                    self.end_headers()
                    self.wfile.write(b'{"seq": ["This batch is malformed."]}')
                    return
                peer.stored.setdefault(body["seq"], body)
                if peer.drop_answers:
                    peer.drop_answers -= 1
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                answer = json.dumps({"stored_up_to": body["seq"]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer():
    running = Peer()
    yield running
    running.stop()


@pytest.fixture
def client():
    with httpx.Client(timeout=2) as http:
        yield http


def _spool_with(tmp_path, count: int) -> Spool:
    spool = Spool(tmp_path)
    for i in range(count):
        spool.append({"samples": [{"name": "load1", "labels": {}, "value": float(i), "ts": 1000.0 + i}]})
    return spool


def test_batches_wait_while_the_server_is_away_and_arrive_in_order_once(tmp_path, client):
    spool = _spool_with(tmp_path, 3)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    away = push_pending(spool, client, closed, "tok")
    assert away.sent == 0 and "ConnectError" in away.error and not away.refused
    assert spool.stats().pending == 3

    running = Peer()
    try:
        back = push_pending(spool, client, running.url, "tok")
        assert back.sent == 3 and back.stored_up_to == 3
        assert [r["body"]["seq"] for r in running.requests] == [1, 2, 3]
        assert [r["body"]["samples"][0]["value"] for r in running.requests] == [0.0, 1.0, 2.0]
        assert {r["path"] for r in running.requests} == {PUSH_PATH}
        assert {r["auth"] for r in running.requests} == {"Bearer tok"}
        assert spool.stats().pending == 0
    finally:
        running.stop()


def test_a_lost_answer_sends_the_batch_again_and_it_is_stored_once(tmp_path, client, peer):
    spool = _spool_with(tmp_path, 2)
    peer.drop_answers = 1
    first = push_pending(spool, client, peer.url, "tok")
    assert first.sent == 0 and first.error
    assert spool.stats().pending == 2  # not acknowledged: it stays
    second = push_pending(spool, client, peer.url, "tok")
    assert second.sent == 2
    assert [r["body"]["seq"] for r in peer.requests] == [1, 1, 2]
    assert sorted(peer.stored) == [1, 2]


def test_a_batch_the_server_refuses_is_reported_not_retried_as_if_it_were_down(tmp_path, client, peer):
    spool = _spool_with(tmp_path, 1)
    peer.status = 400
    result = push_pending(spool, client, peer.url, "tok")
    assert result.refused and result.error.startswith("HTTP 400")
    assert spool.stats().pending == 1  # kept for a person to look at; the agent reports it
