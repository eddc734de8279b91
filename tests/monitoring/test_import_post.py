"""The pushes' POST to the store (store/import_post.py), against a peer on 127.0.0.1 that answers
with scripted bytes: each way HTTP/1.1 delimits an answer, a connection closed while idle, and
answers that are not HTTP. VictoriaMetrics itself answers it in test_victoria.py."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from opsdesk.monitoring.store.import_post import ImportPost, PostFailed

CLOSE = b"<close>"


class ScriptedPeer:
    """Accepts connections; on each, reads requests (head and Content-Length body) and answers
    each with the next scripted reply: bytes are sent, None closes the connection instead of
    answering, CLOSE + bytes sends the bytes and closes."""

    def __init__(self, replies: list[bytes | None]) -> None:
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.connections = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.replies:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                while self.replies:
                    request = _read_request(conn)
                    if request is None:
                        break
                    self.requests.append(request)
                    reply = self.replies.pop(0)
                    if reply is None:
                        break
                    conn.sendall(reply.removeprefix(CLOSE))
                    if reply.startswith(CLOSE):
                        break

    def close(self) -> None:
        self.server.close()


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture
def peer() -> Iterator:
    made: list[ScriptedPeer] = []

    def make(*replies: bytes | None) -> tuple[ScriptedPeer, ImportPost]:
        made.append(ScriptedPeer(list(replies)))
        return made[-1], ImportPost(f"http://127.0.0.1:{made[-1].port}/vm", "/vm/api/v1/import",
                                    {"Content-Type": "application/stream+json", "Authorization": "Basic dTpw"}, 5.0)

    yield make
    for each in made:
        each.close()


def test_the_request_is_one_post_with_the_head_and_the_body(peer):
    server, post = peer(b"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n")
    assert post.post(b'{"metric":{}}\n') == (204, b"")
    assert server.requests == [b"POST /vm/api/v1/import HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                               b"Content-Type: application/stream+json\r\nAuthorization: Basic dTpw\r\n"
                               b"Content-Length: 14\r\n\r\n{\"metric\":{}}\n" % server.port]


def test_answers_are_read_by_length_and_the_connection_kept(peer):
    server, post = peer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\ncannot read",
                        b"HTTP/1.1 204 No Content\r\n\r\n")
    assert post.post(b"x") == (400, b"cannot read")
    assert post.post(b"y") == (204, b"")
    assert server.connections == 1


def test_a_chunked_answer_is_read_whole(peer):
    server, post = peer(b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n",
                        b"HTTP/1.1 204 No Content\r\n\r\n")
    assert post.post(b"x") == (500, b"hello, world")
    assert post.post(b"y") == (204, b"")
    assert server.connections == 1


def test_an_answer_that_ends_with_the_connection_is_read_to_the_end(peer):
    server, post = peer(CLOSE + b"HTTP/1.0 503 Service Unavailable\r\n\r\nbusy", b"HTTP/1.1 204 No Content\r\n\r\n")
    assert post.post(b"x") == (503, b"busy")
    assert post.post(b"y") == (204, b"")
    assert server.connections == 2


def test_connection_close_is_respected(peer):
    server, post = peer(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", b"HTTP/1.1 204 No Content\r\n\r\n")
    assert post.post(b"x") == (204, b"")
    assert post.post(b"y") == (204, b"")
    assert server.connections == 2


def test_a_connection_closed_while_idle_may_be_retried_a_new_one_may_not(peer):
    server, post = peer(b"HTTP/1.1 204 No Content\r\n\r\n", None)
    assert post.post(b"x") == (204, b"")
    with pytest.raises(PostFailed) as failed:
        post.post(b"y")  # the peer reads it and closes without a word
    assert failed.value.retry is True
    server2, post2 = peer(None)
    with pytest.raises(PostFailed) as failed:
        post2.post(b"x")
    assert failed.value.retry is False


def test_an_answer_that_is_not_http_fails_and_is_not_retried(peer):
    server, post = peer(b"HTTP/1.1 204 No Content\r\n\r\n", b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    post.post(b"x")
    with pytest.raises(PostFailed, match="not an HTTP/1 answer") as failed:
        post.post(b"y")
    assert failed.value.retry is False


def test_an_answer_cut_short_fails_and_is_not_retried(peer):
    server, post = peer(b"HTTP/1.1 204 No Content\r\n\r\n",
                        CLOSE + b"HTTP/1.1 400 Bad Request\r\nContent-Length: 50\r\n\r\nshort")
    post.post(b"x")
    with pytest.raises(PostFailed, match="within an answer") as failed:
        post.post(b"y")
    assert failed.value.retry is False


def test_nothing_listening_fails_and_is_not_retried():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    post = ImportPost(f"http://127.0.0.1:{port}", "/api/v1/import", {}, 2.0)
    with pytest.raises(PostFailed, match="ConnectionRefusedError") as failed:
        post.post(b"x")
    assert failed.value.retry is False
