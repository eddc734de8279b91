"""`agent run` tick by tick against a peer on 127.0.0.1 (the exact requests it sends): batches,
the log's one line per change of state, the inventory's schedule, and ticks that do not drift."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time

import pytest

from opsdesk.agent import inventory
from opsdesk.agent.runner import Runner, Stop, next_tick
from opsdesk.agent.sender import PUSH_PATH
from opsdesk.agent.state import AgentConfig, NotEnrolled
from opsdesk.agent.transport import Client
from tests.agent.peers import Peer, closed_port_url

HOST = {"hostname": "web-01", "os": {"name": "Debian GNU/Linux", "version": "12 (bookworm)", "id": "debian"},
        "kernel": "6.1.0", "arch": "x86_64", "cpu": {"count": 2, "model": "AMD EPYC"}, "memory_bytes": 2**33,
        "disks": [{"device": "/dev/vda1", "mountpoint": "/", "fstype": "ext4", "total_bytes": 10**11,
                   "used_bytes": 10**10}],
        "addresses": [{"interface": "eth0", "address": "192.0.2.10", "family": "ipv4"}],
        "packages": [{"name": "bash", "version": "5.2.15-2+b7", "arch": "amd64"}],
        "listening": [{"proto": "tcp", "address": "0.0.0.0", "port": 22, "process": "sshd"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def peer():
    running = Peer()
    yield running
    running.stop()


def _runner(folder, server: str, clock: Clock | None = None, host: dict | None = None, **kwargs) -> Runner:
    AgentConfig(server=server, agent=7, token="agent-token").save(folder)
    state = {"host": host or HOST}
    runner = Runner(folder, client=Client(timeout=2), clock=clock or Clock(), collect_inventory=lambda: state["host"],
                    **kwargs)
    runner.host = state  # the test changes the host through this
    return runner


def test_ticks_keep_to_the_start_and_skip_what_was_missed():
    assert next_tick(100.0, 30.0, 0, 100.4) == (1, pytest.approx(29.6))  # the tick's own time is not added
    assert next_tick(100.0, 30.0, 1, 131.0) == (2, pytest.approx(29.0))
    assert next_tick(100.0, 30.0, 2, 190.0) == (4, pytest.approx(30.0))  # tick 3 took no time at all
    number, delay = next_tick(100.0, 30.0, 2, 251.0)  # fell 3 ticks behind: the next one is tick 6, at 280
    assert (number, delay) == (6, pytest.approx(29.0))


def test_not_enrolled_is_said_before_anything_is_made(tmp_path):
    with pytest.raises(NotEnrolled):
        Runner(tmp_path / "state")
    assert not (tmp_path / "state").exists()


def test_a_batch_of_samples_with_their_time_and_labels(tmp_path, peer):
    runner = _runner(tmp_path, peer.url)
    runner.tick()
    time.sleep(0.3)  # CPU time is counted in ticks of 10 ms: let some pass
    runner.tick()
    batches = peer.posts(PUSH_PATH)
    assert [b["body"]["seq"] for b in batches] == [1, 2]
    assert {b["auth"] for b in batches} == {"Bearer agent-token"}
    columns = batches[1]["body"]["columns"]
    names = {name for name, _labels, _times, _values in columns}
    assert {"cpu_usage_percent", "memory_used_percent", "load1", "filesystem_used_percent"} <= names
    assert all(len(times) == len(values) == 1 and isinstance(values[0], float) for _n, _l, times, values in columns)
    assert len({times[0] for _n, _l, times, _v in columns}) == 1  # one time for the batch
    assert runner.spool.stats().pending == 0 and runner.server_state == "up"


def test_an_outage_is_logged_once_and_its_batches_replayed_in_order(tmp_path, peer, caplog):
    caplog.set_level(logging.INFO, logger="opsdesk.agent")
    runner = _runner(tmp_path, closed_port_url())
    for _ in range(3):
        runner.tick()
    assert runner.server_state == "unreachable" and runner.spool.stats().pending == 3
    assert peer.requests == []
    # The server is back (here: at another address, as after `enroll --force`; see test_live for
    # the same address coming back).
    AgentConfig(server=peer.url, agent=7, token="agent-token").save(tmp_path)
    os.utime(tmp_path / "agent.json", (0, 12345))  # a new modification time, whatever the clock's resolution
    runner.tick()
    assert [r["body"]["seq"] for r in peer.posts(PUSH_PATH)] == [1, 2, 3, 4]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable" in m for m in messages) == 1
    assert sum("reachable again" in m and "4 batches replayed" in m for m in messages) == 1
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["server_state"] == "up" and status["pid"] == os.getpid()


def test_a_malformed_batch_is_dropped_and_counted_a_revoked_token_keeps_them(tmp_path, peer, caplog):
    runner = _runner(tmp_path, peer.url)
    peer.status = 400
    runner.tick()
    assert runner.spool.stats().pending == 0 and runner.spool.stats().dropped == 1
    peer.status = 401
    runner.tick()
    runner.tick()
    assert runner.server_state == "refused" and runner.spool.stats().pending == 2
    assert sum("refuses the batches" in r.getMessage() for r in caplog.records) == 1
    peer.status = 200
    runner.tick()
    assert sorted(peer.stored) == [2, 3, 4]


def test_the_inventory_is_sent_at_start_on_a_change_and_when_old(tmp_path, peer):
    clock = Clock()
    runner = _runner(tmp_path, peer.url, clock, inventory_hours=24)
    runner.tick()
    sent = peer.posts(inventory.INVENTORY_PATH)
    assert len(sent) == 1 and sent[0]["auth"] == "Bearer agent-token"
    body = sent[0]["body"]
    assert set(body) == {"collected_at", "hash", "inventory"} and body["inventory"] == HOST
    assert body["hash"] == inventory.digest(HOST)
    kept = json.loads((tmp_path / "inventory.json").read_text())
    assert kept["hash"] == body["hash"]
    assert stat.S_IMODE((tmp_path / "inventory.json").stat().st_mode) == 0o600

    clock.now += 1800
    runner.tick()  # not an hour yet: not even collected
    clock.now += 1800
    runner.host["host"] = {**HOST, "disks": [{**HOST["disks"][0], "used_bytes": 2 * 10**10}]}
    runner.tick()  # checked: only the used space changed, which is no reason to send
    assert len(peer.posts(inventory.INVENTORY_PATH)) == 1
    clock.now += 3600
    nginx = {"name": "nginx", "version": "1.22", "arch": "amd64"}
    runner.host["host"] = {**HOST, "packages": [*HOST["packages"], nginx]}
    runner.tick()  # a package was installed
    assert len(peer.posts(inventory.INVENTORY_PATH)) == 2

    again = _runner(tmp_path, peer.url, clock, host=runner.host["host"])
    again.tick()  # a restart sends it at start, whatever it sent before
    assert len(peer.posts(inventory.INVENTORY_PATH)) == 3
    kept = json.loads((tmp_path / "inventory.json").read_text())
    kept["sent_at"] -= 25 * 3600  # as if it were sent yesterday
    (tmp_path / "inventory.json").write_text(json.dumps(kept))
    again._inventory_sent = kept
    clock.now += 3600
    again.tick()  # unchanged, but older than --inventory-hours
    assert len(peer.posts(inventory.INVENTORY_PATH)) == 4


def test_an_inventory_the_server_does_not_take_is_tried_again_later_not_every_tick(tmp_path, peer, caplog):
    clock = Clock()
    peer.inventory_status = 404  # a server without the endpoint yet
    runner = _runner(tmp_path, peer.url, clock, inventory_retry_s=300)
    runner.tick()
    clock.now += 30
    runner.tick()
    assert len(peer.posts(inventory.INVENTORY_PATH)) == 1
    assert sum("did not take the inventory" in r.getMessage() for r in caplog.records) == 1
    peer.inventory_status = 200
    clock.now += 300
    runner.tick()
    assert len(peer.posts(inventory.INVENTORY_PATH)) == 2
    assert json.loads((tmp_path / "inventory.json").read_text())["hash"] == inventory.digest(HOST)
    assert len(peer.posts(PUSH_PATH)) == 3  # the metrics never waited for it


def test_run_once_exits_1_when_the_batch_waits_in_the_spool(tmp_path):
    runner = _runner(tmp_path, closed_port_url())
    runner.once_window_s = 0.1
    assert runner.run(once=True) == 1
    assert runner.spool.stats().pending == 1


def test_a_stop_ends_the_sleep_at_once():
    stop = Stop()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    assert stop.wait(10.0) is True
    assert time.monotonic() - started < 2
    assert stop.wait(10.0) is True  # and stays asked for
    stop.close()


def test_a_server_that_answers_later_is_waited_for_like_an_absent_one(tmp_path, peer, caplog):
    runner = _runner(tmp_path, peer.url)
    peer.status = 503
    runner.tick()
    runner.tick()
    assert runner.server_state == "unreachable" and runner.spool.stats().pending == 2
    assert sum("cannot take batches now (HTTP 503" in r.getMessage() for r in caplog.records) == 1
    peer.status = 200
    runner.tick()
    assert sorted(peer.stored) == [1, 2, 3] and runner.spool.stats().dropped == 0
