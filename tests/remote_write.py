"""Reading a Prometheus remote-write request back, for tests that check what was sent: the
snappy block, then WriteRequest → TimeSeries → Label and Sample, the only messages opsdesk
writes (store/victoria.py, _pushscan.write_request)."""

from __future__ import annotations

import struct

import cramjam


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _fields(data: bytes):
    """(field number, wire type, value) of each field: an int for a varint, bytes otherwise."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 2:
            length, at = _varint(data, at)
            value, at = data[at:at + length], at + length
        else:
            raise ValueError(f"wire type {wire} is not one remote write uses")
        yield field, wire, value


def decode(block: bytes) -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    """Each TimeSeries of a snappy-compressed WriteRequest: its labels, and its samples as
    (milliseconds, value)."""
    series = []
    for field, _wire, message in _fields(bytes(cramjam.snappy.decompress_raw(block))):
        assert field == 1
        labels: dict[str, str] = {}
        samples: list[tuple[int, float]] = []
        for part, _w, value in _fields(message):
            if part == 1:
                pair = {number: text.decode() for number, _t, text in _fields(value)}
                labels[pair[1]] = pair[2]
            elif part == 2:
                sample = {number: raw for number, _t, raw in _fields(value)}
                millis = sample[2] - (1 << 64) if sample[2] >= 1 << 63 else sample[2]
                samples.append((millis, struct.unpack("<d", sample[1])[0]))
        series.append((labels, samples))
    return series
