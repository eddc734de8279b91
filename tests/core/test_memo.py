"""Lookups remembered for one unit of work (opsdesk.core.memo)."""

from __future__ import annotations

from opsdesk.core.memo import active, memo_scope, remember


def counter():
    calls = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    return calls, compute


def test_outside_a_scope_every_call_computes():
    calls, compute = counter()
    assert [remember("k", compute), remember("k", compute)] == [1, 2]
    assert not active()


def test_inside_a_scope_a_key_is_computed_once_and_forgotten_after():
    calls, compute = counter()
    with memo_scope():
        assert active()
        assert [remember("k", compute), remember("k", compute), remember("other", compute)] == [1, 1, 2]
    assert remember("k", compute) == 3
    assert len(calls) == 3


def test_a_scope_inside_a_scope_shares_the_outer_one():
    calls, compute = counter()
    with memo_scope():
        remember("k", compute)
        with memo_scope():
            assert remember("k", compute) == 1
        assert active()
    assert len(calls) == 1
