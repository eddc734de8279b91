"""How a chunk's samples are packed: all timestamps then all values, as little-endian doubles.

Plain arrays, not a compressed encoding (Gorilla, as Prometheus uses): packing and unpacking cost
one C call each, which is what keeps filing and a 30-day chart fast in Python; the price is 16 bytes
a sample on disk, for the raw retention only (rollups are what is kept for a year)."""

from __future__ import annotations

import sys
from array import array

_SWAP = sys.byteorder != "little"


def pack(ts: list[float], values: list[float]) -> bytes:
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
