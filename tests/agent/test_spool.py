"""The agent's on-disk buffer: order, sequence numbers across restarts, bounds, torn files."""

from __future__ import annotations

from opsdesk.agent.spool import Spool


def test_batches_come_back_in_order_until_acknowledged(tmp_path):
    spool = Spool(tmp_path)
    seqs = [spool.append({"samples": [i]}) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert [payload["samples"] for _seq, payload in spool.pending()] == [[0], [1], [2], [3], [4]]
    spool.ack(3)
    assert [seq for seq, _payload in spool.pending()] == [4, 5]


def test_sequence_numbers_keep_growing_after_a_restart(tmp_path):
    spool = Spool(tmp_path)
    spool.append({"samples": []})
    spool.append({"samples": []})
    spool.ack(2)  # all sent: nothing on disk but the state file
    again = Spool(tmp_path)
    assert again.append({"samples": []}) == 3  # the server's de-duplication relies on this


def test_a_full_spool_drops_the_oldest_and_counts_them(tmp_path):
    spool = Spool(tmp_path, max_batches=3)
    for i in range(5):
        spool.append({"samples": [i]})
    assert [payload["samples"] for _seq, payload in spool.pending()] == [[2], [3], [4]]
    assert spool.stats().dropped == 2
    assert Spool(tmp_path).stats().dropped == 2  # kept across restarts


def test_the_byte_bound_holds(tmp_path):
    spool = Spool(tmp_path, max_bytes=2_000)
    for _ in range(20):
        spool.append({"samples": ["x" * 300]})
    stats = spool.stats()
    assert stats.bytes <= 2_000
    assert stats.pending >= 1 and stats.dropped == 20 - stats.pending


def test_a_torn_batch_is_dropped_not_blocking_the_rest(tmp_path):
    spool = Spool(tmp_path)
    spool.append({"samples": [1]})
    spool.append({"samples": [2]})
    (tmp_path / "000000000001.batch").write_bytes(b'{"seq": 1, "sam')  # a disk error, not our own write
    assert [payload["samples"] for _seq, payload in spool.pending()] == [[2]]
    assert spool.stats().dropped == 1
