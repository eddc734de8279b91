"""The C reading of a host agent's push (opsdesk/monitoring/_pushscan.c) against the Python way
(ingest.checked_columns, ingest.packed, forwarding.write_request and forwarding.digest): every body
it takes, the Python checks take too, with the same sequence number, samples, series and numbers;
the row it queues holds the Python way's series and doubles to the bit; the remote-write request it
writes is the Python way's, byte for byte; each series' newest sample is the one the digest keeps.
Bodies it is unsure of are left to the Python way (None), good or bad. The push through it is
tested against a real VictoriaMetrics in test_victoria.py and, with the SQL store, by every test
that pushes a host agent's columns (test_push.py, test_filing.py, tests/agent/)."""

from __future__ import annotations

import math
import random
from array import array

import orjson
import pytest

from opsdesk.monitoring import forwarding, ingest
from opsdesk.monitoring.store.victoria import encode_labels
from tests import remote_write

pushscan = pytest.importorskip(
    "opsdesk.monitoring._pushscan", reason="the C accelerator was not built (setup.py: no C compiler or no Python "
    "headers when the package was installed)")

T0 = 1_764_000_000.0


def _body(**fields) -> bytes:
    body = {"seq": 5, "sent_at": T0 + 1.5, "columns": [
        ["cpu_usage_percent", {"cpu": "0", "mode": "user"}, [T0, T0 + 15, T0 + 30], [1, 2.5, -3e-7]],
        ["load1", {}, [T0, T0 + 15, T0 + 30], [0.25, 1e300, 7]],
        ["net_rx_bytes", {"device": "eth0"}, [T0 + 60, T0 + 45, T0 + 50], [9.0, 8.0, 10.0]],
    ]}
    body.update(fields)
    return orjson.dumps(body)


def _python_way(raw: bytes):
    try:
        return ingest.checked_columns(raw)
    except ingest.Invalid:
        return None


def _heads(columns) -> list[bytes]:
    return [encode_labels([("__name__", column[0]), ("opsdesk_series", str(index))])
            for index, column in enumerate(columns)]


def _agrees(raw: bytes) -> None:
    """What the C way answers for `raw` is what the Python way answers."""
    scanned = pushscan.scan(raw)
    if scanned is None:
        return
    python = _python_way(raw)
    assert python is not None, raw
    _body_, head, columns = python
    assert columns is not None, raw
    seq, samples, layout, blob = scanned
    assert seq == head["seq"]
    assert samples == sum(len(column[2]) for column in columns)
    layouts = [orjson.loads(b"[" + part + b"]") for part in layout.split(b"\n")]
    assert layouts == [[name, labels] for name, labels, _t, _v in columns]
    heads = _heads(columns)
    found = list(enumerate(heads))
    made = pushscan.write_request(raw, blob, heads)
    if made is None:  # a time beyond 2^53 milliseconds: the Python way writes it
        return
    block, times, values = made
    assert block == forwarding.write_request(found, columns)
    _kept, (ids, newest_times, newest_values) = forwarding.digest(found, columns, frozenset())
    assert (times, values) == ([float(t) for t in newest_times], [float(v) for v in newest_values])
    assert ids == list(range(len(columns)))


def test_a_good_body_reads_as_the_python_way_reads_it():
    raw = _body()
    assert pushscan.scan(raw) is not None
    _agrees(raw)
    block, times, values = pushscan.write_request(raw, pushscan.scan(raw)[3], _heads(orjson.loads(raw)["columns"]))
    assert remote_write.decode(block)[2] == ({"__name__": "net_rx_bytes", "opsdesk_series": "2"},
                                             [(1764000060000, 9.0), (1764000045000, 8.0), (1764000050000, 10.0)])
    assert remote_write.decode(block)[0][1] == [(1764000000000, 1.0), (1764000015000, 2.5), (1764000030000, -3e-7)]
    # The newest of unordered times is the greatest, not the last.
    assert (times[2], values[2]) == (T0 + 60, 9.0)


@pytest.mark.parametrize("raw", [
    b'{"seq":1,"columns":[["a",{},[1],[NaN]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[1e999]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[-1E+400]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[123456789012345678901234567890]]]}',  # orjson: beyond 64 bits
    b'{"seq":1,"columns":[["a",{},[1],["1"]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[true]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[null]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[01]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[1.]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[.5]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[+1]]]}',
    b'{"seq":1,"columns":[["a",{},[1, 2],[1]]]}',  # as many values as times
    b'{"seq":1,"columns":[["a",{},[],[]]]}',
    b'{"seq":1,"columns":[]}',
    b'{"seq":1,"columns":[["1a",{},[1],[1]]]}',
    b'{"seq":1,"columns":[["a-b",{},[1],[1]]]}',
    b'{"seq":1,"columns":[["a",{"b-c":"1"},[1],[1]]]}',
    b'{"seq":1,"columns":[["a",{"b":1},[1],[1]]]}',
    b'{"seq":1,"columns":[["a",{"b":"1","b":"2"},[1],[1]]]}',
    b'{"seq":1,"columns":[["a\\u0062",{},[1],[1]]]}',  # an escape: the Python way reads it
    b'{"seq":1,"columns":[["a",{"b":"\xc3\xa9"},[1],[1]]]}',  # UTF-8: the Python way counts its characters
    b'{"seq":1,"columns":[["a",{},[1],[1],5]]}',
    b'{"seq":1,"columns":[["a",{},[1]]]}',
    b'{"seq":0,"columns":[["a",{},[1],[1]]]}',
    b'{"seq":-1,"columns":[["a",{},[1],[1]]]}',
    b'{"seq":1.0,"columns":[["a",{},[1],[1]]]}',
    b'{"seq":9223372036854775808,"columns":[["a",{},[1],[1]]]}',
    b'{"seq":1,"seq":2,"columns":[["a",{},[1],[1]]]}',
    b'{"seq":1,"sent_at":"now","columns":[["a",{},[1],[1]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[1]]],"checks":[]}',
    b'{"columns":[["a",{},[1],[1]]]}',
    b'{"seq":1,"columns":[["a",{},[1],[1]]]} x',
    b'{"seq":1,"columns":[["a",{},[1],[1]]]',
    b'[{"seq":1}]',
    b'',
])
def test_a_body_it_is_unsure_of_goes_the_python_way(raw):
    assert pushscan.scan(raw) is None


def test_limits_are_the_python_checks_limits():
    labels = {f"l{i}": "v" for i in range(32)}
    assert pushscan.scan(_body(columns=[["a", labels, [T0], [1]]])) is not None
    assert pushscan.scan(_body(columns=[["a", {**labels, "x": "v"}, [T0], [1]]])) is None
    assert pushscan.scan(_body(columns=[["a" * 200, {"b" * 200: "v" * 200}, [T0], [1]]])) is not None
    assert pushscan.scan(_body(columns=[["a" * 201, {}, [T0], [1]]])) is None
    assert pushscan.scan(_body(columns=[["a", {"b" * 201: "v"}, [T0], [1]]])) is None
    assert pushscan.scan(_body(columns=[["a", {"b": "v" * 201}, [T0], [1]]])) is None
    times = [T0 + i for i in range(5000)]
    assert pushscan.scan(_body(columns=[["a", {}, times, times], ["b", {}, times, times]])) is not None
    assert pushscan.scan(_body(columns=[["a", {}, times, times], ["b", {}, times + [T0], times + [1]]])) is None
    assert _python_way(_body(columns=[["a", {}, times, times], ["b", {}, times + [T0], times + [1]]])) is None
    assert pushscan.scan(_body(seq=2**63 - 1)) is not None


def test_whitespace_and_key_order_are_read_alike():
    raw = (b' {\n "columns" : [ [ "a" , { "x" : "1" , "y" : "" } , [ 1764000000 , 1764000015.5 ] ,'
           b' [ 1 , -2.5e-3 ] ] ] , "seq" : 3 ,\t"sent_at" : 1 }\r\n')
    assert pushscan.scan(raw) is not None
    _agrees(raw)


def test_random_changes_to_a_good_body_never_pass_what_the_python_way_refuses():
    """Bytes deleted, doubled or replaced by JSON's own characters, thousands of times: whatever
    the C way takes, the Python way takes alike (`_agrees`)."""
    rng = random.Random(20261127)
    good = _body()
    alphabet = b'{}[],:"0123456789.-+eE \\atn'
    taken = 0
    for _round in range(4000):
        raw = bytearray(good)
        for _change in range(rng.randint(1, 3)):
            at = rng.randrange(len(raw))
            kind = rng.randrange(3)
            if kind == 0:
                del raw[at]
            elif kind == 1:
                raw.insert(at, raw[at])
            else:
                raw[at] = rng.choice(alphabet)
        raw = bytes(raw)
        taken += pushscan.scan(raw) is not None
        _agrees(raw)
        _packed_agrees(raw)
    assert taken > 100  # many changes keep a good body good (a digit for a digit): those were compared


def test_times_beyond_what_the_c_way_writes_are_left_to_the_python_way():
    raw = _body(columns=[["a", {}, [1e13], [1]]])
    scanned = pushscan.scan(raw)
    assert scanned is not None
    assert pushscan.write_request(raw, scanned[3], [b"x"]) is None


def test_times_outside_the_six_byte_varints_are_written_as_the_python_way_writes_them():
    for times in ([0.001, 1e9], [-1.5, -1e12], [2e10, 4.5e12]):  # before 2001, before 1970, after 2109
        raw = _body(columns=[["a", {}, times, [1, 2]]])
        _agrees(raw)
        block, _times, _values = pushscan.write_request(raw, pushscan.scan(raw)[3], _heads([["a"]]))
        assert [millis for millis, _v in remote_write.decode(block)[0][1]] == [round(t * 1000) for t in times]


def test_write_request_refuses_columns_that_are_not_the_bodys():
    raw = _body()
    blob = pushscan.scan(raw)[3]
    with pytest.raises(ValueError):
        pushscan.write_request(raw, blob, [b"x"])  # three series, one head
    with pytest.raises(ValueError):
        pushscan.write_request(raw[:20], blob, [b"x", b"y", b"z"])


def _doubles(numbers) -> bytes:
    return array("d", [float(x) for x in numbers]).tobytes()


def _packed_agrees(raw: bytes) -> None:
    """The row the C way queues holds what the Python way's holds, to the bit."""
    scanned = pushscan.scan(raw)
    if scanned is None:
        return
    payload = pushscan.packed(raw, scanned[3], scanned[0])
    _body_, head, columns = _python_way(raw)
    if payload is None:  # times out of order: the Python way sorts them
        assert any(column[2] != sorted(column[2]) for column in columns)
        return
    assert ingest.stored_body(payload)["seq"] == head["seq"]
    mine = ingest.stored_columns(payload)
    theirs = ingest.stored_columns(ingest.packed(head, columns))
    assert [(name, labels) for name, labels, _t, _v in mine] == [(name, labels) for name, labels, _t, _v in theirs]
    assert [(_doubles(t), _doubles(v)) for _n, _l, t, v in mine] == \
        [(_doubles(t), _doubles(v)) for _n, _l, t, v in theirs]


def test_the_queued_row_is_the_python_ways_to_the_bit():
    raw = _body(columns=[["a", {"x": "1"}, [T0, T0 + 15], [-0, -0.0]], ["b", {}, [T0, T0 + 15], [1e-300, 5e22]],
                         ["c", {}, [T0 + 15.5], [123456789012345678]]])
    _packed_agrees(raw)
    payload = pushscan.packed(raw, pushscan.scan(raw)[3], 5)
    values = ingest.stored_columns(payload)[0][3]
    assert [math.copysign(1, v) for v in values] == [1, -1]  # orjson's -0 is the integer 0; -0.0 stays
    # Times out of order are left to the Python way, which sorts them with their values.
    assert pushscan.packed(_body(), pushscan.scan(_body())[3], 5) is None
    _packed_agrees(_body())


def test_numbers_are_read_as_python_reads_them():
    """Written every way JSON allows, from random doubles and integers: the C way's doubles are
    float(text)'s (float(int(text)) for an integer), in the queued row and the newest samples."""
    rng = random.Random(7)
    texts = []
    for _number in range(3000):
        value = rng.choice([rng.uniform(-1e3, 1e3), rng.uniform(-1e-5, 1e-5), rng.uniform(0, 1e18),
                            10 ** rng.uniform(-300, 300), rng.randint(-10**17, 10**17), rng.randint(-100, 100)])
        if isinstance(value, int):
            texts.append(str(value))
        else:
            texts.append(rng.choice([repr(value), f"{value:.17g}", f"{value:.3f}", f"{value:e}", f"{value:.25f}",
                                     f"{value:.1E}", f"{value:.17e}"]))
    texts = [t for t in texts if len(t.split("e")[0].split("E")[0].replace("-", "").replace(".", "")) <= 300]
    columns = [b'["m%d",{},[%d],[%s]]' % (index, 1_764_000_000 + index, text.encode())
               for index, text in enumerate(texts)]
    body = b'{"seq":1,"columns":[' + b",".join(columns) + b"]}"
    scanned = pushscan.scan(body)
    assert scanned is not None
    stored = ingest.stored_columns(pushscan.packed(body, scanned[3], 1))
    expected = [float(int(text)) if text.lstrip("-").isdigit() else float(text) for text in texts]
    assert _doubles(v for _n, _l, _t, (v,) in stored) == _doubles(expected)
    _block, _times, newest = pushscan.write_request(body, scanned[3], [b"x"] * len(texts))
    assert _doubles(newest) == _doubles(expected)
