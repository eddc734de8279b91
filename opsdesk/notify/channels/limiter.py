"""Vendor rate limits per destination (one robot, one webhook URL), and the digester that batches
what waits for a destination into one message instead of dropping anything.

    limiter = RateLimiter()                      # clock injectable: RateLimiter(clock=fake)
    digester = Digester(limiter)
    digester.add("dingtalk", config, message)    # queue; nothing is sent here
    for batch, result in deliver(digester, client):   # sends what the limits allow now
        ...                                      # (the delivery log records batch and result)
    digester.next_due()                          # when to call deliver() again (clock time), or None

The limits are sliding windows (DingTalk and WeCom: 20 requests a minute per robot; Feishu: 100 a
minute and 5 a second per bot). When a destination answers "too fast" (SendResult.retry_after, e.g.
DingTalk's 130101, which blocks the robot 10 minutes) or fails, it is blocked until then and its
messages are put back in front of the queue; when the limit allows a request again, ALL waiting
messages for it go as one digest (cut to the vendor's size with "and N more", and those N stay
queued for the next request). Pure logic, no sleeping and no threads: the caller schedules.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from .base import ChannelType, Message, SendResult, Window, scrub

Clock = Callable[[], float]
FAILURE_BACKOFF = 60.0  # seconds a destination waits after a failure that names no retry_after
UNLIMITED = sys.maxsize


class RateLimiter:
    """Counts requests per destination key against sliding windows, and blocks keys on request."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._blocked: dict[str, float] = {}

    def allowed(self, key: str, limits: Sequence[Window]) -> int:
        """How many requests may go to `key` now."""
        now = self.clock()
        if self._blocked.get(key, -float("inf")) > now:
            return 0
        sent = self._recent(key, limits, now)
        free = UNLIMITED
        for window in limits:
            used = sum(1 for at in sent if at > now - window.seconds)
            free = min(free, max(0, window.count - used))
        return free

    def next_at(self, key: str, limits: Sequence[Window]) -> float:
        """When the next request may go to `key` (clock time; now when one may go now)."""
        now = self.clock()
        at = max(now, self._blocked.get(key, now))
        sent = self._recent(key, limits, now)
        for window in limits:
            inside = [t for t in sent if t > now - window.seconds]
            if len(inside) >= window.count:  # the window frees when its count-th newest request leaves it
                at = max(at, inside[len(inside) - window.count] + window.seconds)
        return at

    def record(self, key: str, at: float | None = None) -> None:
        """A request went to `key`."""
        self._sent.setdefault(key, deque()).append(self.clock() if at is None else at)

    def block(self, key: str, seconds: float) -> None:
        """`key` takes nothing for `seconds` from now (a vendor's retry_after)."""
        until = self.clock() + seconds
        self._blocked[key] = max(self._blocked.get(key, until), until)

    def blocked_until(self, key: str) -> float | None:
        until = self._blocked.get(key)
        return until if until is not None and until > self.clock() else None

    def _recent(self, key: str, limits: Sequence[Window], now: float) -> deque[float]:
        sent = self._sent.setdefault(key, deque())
        horizon = max((w.seconds for w in limits), default=0.0)
        while sent and sent[0] <= now - horizon:
            sent.popleft()
        return sent


@dataclass
class Batch:
    """One request's worth: every message that waited for one destination."""

    kind: str
    config: dict
    key: str
    messages: list[Message]


@dataclass
class _Queue:
    kind: str
    config: dict
    messages: list[Message] = field(default_factory=list)
    in_flight: bool = False


class Digester:
    """Queues messages per destination and hands out, when the destination's limits allow one
    request, all its waiting messages as one batch. Nothing is dropped: a failed or cut batch puts
    its unsent messages back in front."""

    def __init__(self, limiter: RateLimiter | None = None, *, channels: Mapping[str, ChannelType] | None = None,
                 failure_backoff: float = FAILURE_BACKOFF) -> None:
        if channels is None:
            from . import CHANNELS as channels
        self.limiter = limiter or RateLimiter()
        self.channels = channels
        self.failure_backoff = failure_backoff
        self._queues: dict[str, _Queue] = {}

    def add(self, kind: str, config: dict, message: Message) -> str:
        """Queues `message` for the destination `config` names; returns the destination key."""
        channel = self._channel(kind)
        key = channel.destination(config)
        queue = self._queues.setdefault(key, _Queue(kind, config))
        queue.config = config  # the newest configuration (a rotated secret) wins
        queue.messages.append(message)
        return key

    def due(self) -> list[Batch]:
        """The batches that may be sent now, each counted against its destination's limits."""
        batches = []
        for key, queue in self._queues.items():
            limits = self._channel(queue.kind).limits
            if queue.messages and not queue.in_flight and self.limiter.allowed(key, limits) > 0:
                batches.append(Batch(queue.kind, queue.config, key, queue.messages))
                queue.messages = []
                queue.in_flight = True
                self.limiter.record(key)
        return batches

    def done(self, batch: Batch, result: SendResult) -> None:
        """What became of a batch from due(): unsent messages go back in front of the queue."""
        queue = self._queues[batch.key]
        queue.in_flight = False
        unsent = batch.messages[result.delivered:] if result.ok else batch.messages
        queue.messages[:0] = unsent
        if result.retry_after is not None:
            self.limiter.block(batch.key, result.retry_after)
        elif not result.ok:
            self.limiter.block(batch.key, self.failure_backoff)

    def next_due(self) -> float | None:
        """The clock time when a waiting message may next go, or None when nothing waits."""
        times = [self.limiter.next_at(key, self._channel(q.kind).limits)
                 for key, q in self._queues.items() if q.messages and not q.in_flight]
        return min(times, default=None)

    def pending(self, key: str | None = None) -> int:
        queues = self._queues.values() if key is None else [self._queues[key]] if key in self._queues else []
        return sum(len(q.messages) for q in queues)

    def _channel(self, kind: str) -> ChannelType:
        try:
            return self.channels[kind]
        except KeyError:
            raise KeyError(f"unknown channel type {kind!r}; the known types are {', '.join(sorted(self.channels))}")


def deliver(digester: Digester, client: httpx.Client, *, wall: Clock = time.time) -> list[tuple[Batch, SendResult]]:
    """Sends every batch that is due now (one request each) and reports what became of each."""
    outcomes = []
    for batch in digester.due():
        channel = digester.channels[batch.kind]
        try:
            result = channel.send(batch.config, batch.messages, client=client, now=wall())
        except Exception as exc:  # a bug or a bad config must not lose the messages
            hide = [str(batch.config.get(name) or "") for name in channel.secrets]
            result = SendResult(ok=False, status=0, detail=scrub(f"{type(exc).__name__}: {exc}", hide))
        digester.done(batch, result)
        outcomes.append((batch, result))
    return outcomes
