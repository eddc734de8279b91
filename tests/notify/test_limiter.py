"""Vendor limits per destination, and the digester that batches instead of dropping (fake clock)."""

from __future__ import annotations

from opsdesk.notify.channels import Message, SendResult
from opsdesk.notify.channels.base import Window
from opsdesk.notify.channels.limiter import Digester, RateLimiter, deliver

EPOCH = 1718000000.0


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def alert(i: int) -> Message:
    return Message(title=f"alert {i:02d}", text=f"body {i}", severity="major")


def test_the_limiter_counts_sliding_windows_and_blocks():
    clock = Clock()
    limiter = RateLimiter(clock)
    limits = (Window(100, 60.0), Window(5, 1.0))
    assert limiter.allowed("f", limits) == 5
    for _ in range(5):
        limiter.record("f")
    assert limiter.allowed("f", limits) == 0 and limiter.next_at("f", limits) == 1.0
    clock.t = 1.0
    assert limiter.allowed("f", limits) == 5
    limiter.block("f", 600)
    assert limiter.allowed("f", limits) == 0 and limiter.next_at("f", limits) == 601.0
    assert limiter.allowed("other", limits) == 5  # per destination


def test_25_messages_in_a_minute_to_one_dingtalk_robot_make_20_requests_then_one_digest(vendor, client):
    clock = Clock()
    digester = Digester(RateLimiter(clock))
    config = {"access_token": "robot-1", "secret": "SECabc", "base_url": vendor.base_url}
    sent_at = []
    for i in range(1, 26):
        clock.t = float(i)  # one alert a second
        digester.add("dingtalk", config, alert(i))
        for _batch, result in deliver(digester, client, wall=lambda: EPOCH + clock.t):
            assert result.ok
            sent_at.append(clock.t)
    assert len(sent_at) == 20 and digester.pending() == 5
    assert digester.next_due() == 61.0  # the first request leaves the window
    clock.t = 60.0
    assert deliver(digester, client, wall=lambda: EPOCH + clock.t) == []
    clock.t = 61.0
    [(batch, result)] = deliver(digester, client, wall=lambda: EPOCH + clock.t)
    sent_at.append(clock.t)
    assert result.ok and [m.title for m in batch.messages] == [f"alert {i:02d}" for i in range(21, 26)]
    assert digester.pending() == 0 and digester.next_due() is None

    assert len(vendor.requests) == 21
    assert all(sum(1 for t in sent_at if start <= t < start + 60) <= 20 for start in sent_at)
    text = vendor.requests[-1].json()["markdown"]["text"]
    assert all(f"alert {i:02d}" in text for i in range(21, 26))  # none lost
    assert vendor.requests[-1].query["timestamp"] == str(round((EPOCH + 61.0) * 1000))


def test_feishu_five_a_second():
    clock = Clock()
    digester = Digester(RateLimiter(clock))
    config = {"token": "bot"}
    batches = []
    for i in range(12):
        digester.add("feishu", config, alert(i))
        for batch in digester.due():
            batches.append(batch)
            digester.done(batch, SendResult(ok=True, status=200, delivered=len(batch.messages)))
    assert len(batches) == 5 and digester.pending() == 7 and digester.next_due() == 1.0
    clock.t = 0.999
    assert digester.due() == []
    clock.t = 1.0
    [batch] = digester.due()
    assert len(batch.messages) == 7


def test_a_130101_blocks_the_robot_ten_minutes_and_keeps_the_messages(vendor, client):
    clock = Clock()
    digester = Digester(RateLimiter(clock))
    config = {"access_token": "robot-2", "base_url": vendor.base_url}
    vendor.reply(200, {"errcode": 130101, "errmsg": "send too fast"})
    digester.add("dingtalk", config, alert(1))
    [(_, result)] = deliver(digester, client)
    assert result.retry_after == 600 and digester.pending() == 1
    digester.add("dingtalk", config, alert(2))
    assert digester.next_due() == 600.0
    clock.t = 599.0
    assert deliver(digester, client) == []
    clock.t = 600.0
    [(batch, result)] = deliver(digester, client)
    assert result.ok and [m.title for m in batch.messages] == ["alert 01", "alert 02"]
    assert len(vendor.requests) == 2


def test_a_failure_backs_off_and_a_cut_digest_keeps_the_rest_queued():
    clock = Clock()
    digester = Digester(RateLimiter(clock), failure_backoff=30.0)
    config = {"url": "http://127.0.0.1:9/h"}
    for i in range(4):
        digester.add("webhook", config, alert(i))
    [batch] = digester.due()
    digester.add("webhook", config, alert(4))
    assert digester.due() == []  # one request at a time per destination
    digester.done(batch, SendResult(ok=False, status=500))
    assert digester.pending() == 5 and digester.next_due() == 30.0
    clock.t = 30.0
    [batch] = digester.due()
    assert [m.title for m in batch.messages] == [f"alert {i:02d}" for i in range(5)]  # order kept
    digester.done(batch, SendResult(ok=True, status=200, delivered=3))  # "and 2 more"
    assert digester.pending() == 2
    [batch] = digester.due()
    assert [m.title for m in batch.messages] == ["alert 03", "alert 04"]
