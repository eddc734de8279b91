"""How a chunk's samples are packed: all timestamps then all values, as little-endian doubles.

Plain arrays, not a compressed encoding (Gorilla, as Prometheus uses): packing and unpacking cost
one C call each, which is what keeps filing and a 30-day chart fast in Python; the price is 16 bytes
a sample on disk, for the raw retention only (rollups are what is kept for a year)."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence

_SWAP = sys.byteorder != "little"


def pack(ts: Sequence[float], values: Sequence[float]) -> bytes:
    if not _SWAP and type(ts) is type(values) is array and ts.typecode == values.typecode == "d":
        # A filing pass's numbers: copied as they are.
        return ts.tobytes() + values.tobytes()
    both = array("d", ts)
    both.extend(values)
    if _SWAP:
        both.byteswap()
    return both.tobytes()


def unpack(data: bytes) -> tuple[array, array]:
    both = array("d")
    both.frombytes(bytes(data))
    if _SWAP:
        both.byteswap()
    half = len(both) // 2
    return both[:half], both[half:]
