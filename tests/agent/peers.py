"""Peers the agent's tests talk to on 127.0.0.1: a small HTTP server that answers the push and
inventory endpoints as the server does (keeping batches by sequence number) and records the exact
requests; and a TCP proxy that can be closed and opened again, so an agent in front of a real
server sees "connection refused" exactly as with a stopped server."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opsdesk.agent.inventory import INVENTORY_PATH
from opsdesk.agent.sender import PUSH_PATH


class Peer:
    def __init__(self) -> None:
        self.stored: dict[int, dict] = {}
        self.requests: list[dict] = []
        self.drop_answers = 0  # store, then close without answering (a lost response)
        self.status = 200  # the push endpoint's answer
        self.inventory_status = 200
        self.delay = 0.0  # seconds to think before answering a push
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                peer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if self.path == INVENTORY_PATH:
                    if peer.inventory_status != 200:
                        self._answer(peer.inventory_status, {"detail": "Not found."})
                    else:
                        self._answer(200, {"stored": True})
                    return
                if self.path != PUSH_PATH:
                    self._answer(404, {"detail": "Not found."})
                    return
                if peer.delay:
                    time.sleep(peer.delay)
                if peer.status != 200:
                    self._answer(peer.status, {"seq": ["This batch is malformed."]})
                    return
                peer.stored.setdefault(body["seq"], body)
                if peer.drop_answers:
                    peer.drop_answers -= 1
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._answer(200, {"stored_up_to": body["seq"]})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def posts(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """An address nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


class Proxy:
    """Forwards TCP connections on a fixed local port to (host, port). `close()` stops listening and
    cuts the open connections; `open()` listens on the same port again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener: socket.socket | None = None
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.open()

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the same port again
        listener.settimeout(0.05)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        with self.lock:
            for conn in self.connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self.lock:
                self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass
