"""The agent's push: while the server is away batches wait on disk; when it is back they arrive
in order, each stored once even when an answer was lost and the batch sent again. The peer is a
small HTTP server on 127.0.0.1 that keeps what it receives as the push API will (by sequence
number), so the test checks the exact requests the agent sends."""

from __future__ import annotations

import httpx
import pytest

from opsdesk.agent.sender import PUSH_PATH, push_pending
from opsdesk.agent.spool import Spool
from opsdesk.agent.transport import Client
from tests.agent.peers import Peer, closed_port_url


@pytest.fixture
def peer():
    running = Peer()
    yield running
    running.stop()


@pytest.fixture(params=["agent", "httpx"])
def client(request):
    """The agent's own client; an httpx.Client (the server's tests use one) works the same."""
    with (Client(timeout=2) if request.param == "agent" else httpx.Client(timeout=2)) as http:
        yield http


def _spool_with(tmp_path, count: int) -> Spool:
    spool = Spool(tmp_path)
    for i in range(count):
        spool.append({"samples": [{"name": "load1", "labels": {}, "value": float(i), "ts": 1000.0 + i}]})
    return spool


def test_batches_wait_while_the_server_is_away_and_arrive_in_order_once(tmp_path, client):
    spool = _spool_with(tmp_path, 3)
    away = push_pending(spool, client, closed_port_url(), "tok")
    assert away.sent == 0 and away.seq == 1 and not away.refused
    assert ("Connection refused" if isinstance(client, Client) else "ConnectError") in away.error
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
    assert result.refused and result.error.startswith("HTTP 400") and (result.status, result.seq) == (400, 1)
    assert spool.stats().pending == 1  # the caller decides: the agent drops a malformed batch (test_runner)


def test_a_stop_asked_for_ends_the_round_between_batches(tmp_path, client, peer):
    spool = _spool_with(tmp_path, 3)
    result = push_pending(spool, client, peer.url, "tok", stop=lambda: len(peer.requests) >= 1)
    assert result.sent == 1 and not result.error
    assert spool.stats().pending == 2


def test_an_answer_that_is_not_json_is_retried_later(tmp_path):
    class Garbled:
        def post(self, url, json, headers):
            from opsdesk.agent.transport import Response

            return Response(200, b"<html>a captive portal</html>")

    spool = _spool_with(tmp_path, 1)
    result = push_pending(spool, Garbled(), "http://opsdesk.example", "tok")
    assert result.error and not result.refused and spool.stats().pending == 1
