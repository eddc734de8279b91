"""Lookups remembered for one unit of work: a batch of mail being filed, a bulk action, a sweep.

A ticket opened by mail asks the same questions as the one before it (which team serves this
customer, which contract is in force, which webhooks listen, what the priority matrix says);
inside `memo_scope()` each answer is read from the database once and then reused. Outside a
scope `remember()` simply computes, so code that calls it behaves the same anywhere, and nothing
is kept between units of work: an administrator's change is seen by the next batch.

    with memo_scope():
        for raw in batch:
            intake.process(channel, raw)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_store: ContextVar[dict[Hashable, object] | None] = ContextVar("opsdesk_memo", default=None)


@contextlib.contextmanager
def memo_scope() -> Iterator[None]:
    """Remember lookups until the block ends (a scope inside a scope shares the outer one)."""
    if _store.get() is not None:
        yield
        return
    token = _store.set({})
    try:
        yield
    finally:
        _store.reset(token)


def remember(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or what it returned for `key` earlier in this scope."""
    store = _store.get()
    if store is None:
        return compute()
    if key not in store:
        store[key] = compute()
    return store[key]  # type: ignore[return-value]


def active() -> bool:
    return _store.get() is not None
