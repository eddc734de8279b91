"""The push format, read and checked fast: a batch of 1,000 samples must cost well under a millisecond,
so this is plain loops over what orjson parsed (C), not a serializer per sample.

A batch is a JSON object with `seq` (1..2^63-1), optional `sent_at`, and any of:

- `samples`: `[{"name", "labels": {..}, "value", "ts"}]`, one object per sample (the host agent);
- `series`: `[{"name", "labels": {..}, "points": [[ts, value], ...]}]`, samples grouped per series;
- `columns`: `[[name, {labels}, [ts, ...], [value, ...]], ...]`, a series' times and values as two
  lists (the compact form the host agent sends: numbers only, checked with one C call per list);
- `checks`: `[{"id", "state", "code", "message", "params", "ts", "samples": [{"name", "labels", "value"}]}]`,
  the results of checks run by a collector (their samples belong to the check's item).

Errors name the place exactly as a serializer would (`{"samples": {"3": {"name": [..]}}}`), in the
person's language; the first bad sample is enough (the batch is refused whole).
"""

from __future__ import annotations

import json
import math
import re
import struct
import sys
from array import array
from collections.abc import Iterable
from itertools import chain
from typing import Any

import orjson
from django.utils.translation import gettext as _

MAX_SAMPLES = 10_000
MAX_LABELS = 32
MAX_NAME = 200
MAX_LABEL_VALUE = 200
MAX_SEQ = 2**63 - 1
CHECK_STATES = ("ok", "warning", "critical", "unknown")
_name_ok = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*").fullmatch


class Invalid(Exception):
    """The batch is malformed: `errors` is the JSON body of the 400 answer."""

    def __init__(self, errors: dict) -> None:
        super().__init__(errors)
        self.errors = errors


def parse(raw: bytes) -> Any:
    """The body as Python objects. orjson refuses NaN and Infinity outright; Python's json writes
    them (so an agent may), so such a body is read again leniently for the checks to name the
    sample and the field instead of refusing the whole body as unreadable."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Invalid({"detail": _("The body is not valid JSON: %(error)s") % {"error": exc}}) from None


def _number(value: Any) -> str | None:
    if type(value) is float:
        return None if math.isfinite(value) else _("The number must be finite.")
    if type(value) is int:
        return None if abs(value) < 2**1023 else _("The number must be finite.")
    return _("A number is required.")


def _name(value: Any) -> str | None:
    if type(value) is not str:
        return _("Not a valid string.")
    if len(value) > MAX_NAME:
        return _("Ensure this field has no more than %(max)d characters.") % {"max": MAX_NAME}
    if not _name_ok(value):
        return _("The name must match [a-zA-Z_:][a-zA-Z0-9_:]*.")
    return None


def _labels(value: Any) -> str | None:
    if type(value) is not dict:
        return _("A dictionary of labels is required.")
    if not value:
        return None
    if len(value) > MAX_LABELS:
        return _("At most %(max)d labels are allowed.") % {"max": MAX_LABELS}
    for key, item in value.items():
        if len(key) > MAX_NAME or not _name_ok(key):
            return _("Label names must match [a-zA-Z_:][a-zA-Z0-9_:]* and have at most 200 characters.")
        if type(item) is not str:
            return _("Label values must be strings.")
        if len(item) > MAX_LABEL_VALUE:
            return _("Label values may have at most %(max)d characters.") % {"max": MAX_LABEL_VALUE}
    return None


def _list(value: Any, limit: int) -> str | None:
    if type(value) is not list:
        return _('Expected a list of items but got type "%(type)s".') % {"type": type(value).__name__}
    if len(value) > limit:
        return _("At most %(max)d samples are allowed in one batch.") % {"max": limit}
    return None


def _check_sample(sample: Any, *, with_ts: bool) -> dict | None:
    if type(sample) is not dict:
        return {"non_field_errors": [_("A sample must be an object.")]}
    for field, check in (("name", _name), ("labels", _labels), ("value", _number)):
        if field not in sample:
            return {field: [_("This field is required.")]}
        problem = check(sample[field])
        if problem:
            return {field: [problem]}
    if with_ts:
        if "ts" not in sample:
            return {"ts": [_("This field is required.")]}
        problem = _number(sample["ts"])
        if problem:
            return {"ts": [problem]}
    return None


# --- the fast path --------------------------------------------------------------------------------
# A good batch is checked by the loops below, which only answer yes or no (a "no" runs the checks
# above, which name the problem). Names and label names are checked once per process: a fleet
# sends the same few hundred again and again. Each yes here is a yes of the checks above.
_FINITE = 1.7976931348623157e308  # the largest double: NaN and the infinities fail `-x <= v <= x`
_INT_LIMIT = 2**1023
_good_names: set[str] = set()
_GOOD_NAMES_LIMIT = 100_000


def _good_name(name: Any) -> bool:
    if type(name) is not str:
        return False
    if name in _good_names:
        return True
    if len(name) > MAX_NAME or not _name_ok(name):
        return False
    if len(_good_names) >= _GOOD_NAMES_LIMIT:
        _good_names.clear()
    _good_names.add(name)
    return True


def _good_labels(labels: Any) -> bool:
    if type(labels) is not dict:
        return False
    if not labels:
        return True
    if len(labels) > MAX_LABELS:
        return False
    good = _good_names
    for key, value in labels.items():
        if (key not in good and not _good_name(key)) or type(value) is not str or len(value) > MAX_LABEL_VALUE:
            return False
    return True


def _good_samples(samples: Any, with_ts: bool) -> bool:
    if type(samples) is not list or len(samples) > MAX_SAMPLES:
        return False
    try:
        return _good_sample_loop(samples, with_ts)
    except TypeError:  # e.g. a name that is a list (unhashable): the checks above say what
        return False


def _good_sample_loop(samples: list, with_ts: bool) -> bool:
    good, finite, limit = _good_names, _FINITE, _INT_LIMIT
    for sample in samples:
        if type(sample) is not dict:
            return False
        try:
            name, labels, value = sample["name"], sample["labels"], sample["value"]
            ts = sample["ts"] if with_ts else 0.0
        except KeyError:
            return False
        if name not in good and not _good_name(name):
            return False
        kind = type(value)
        if kind is float:
            if not -finite <= value <= finite:
                return False
        elif kind is not int or not -limit < value < limit:
            return False
        kind = type(ts)
        if kind is float:
            if not -finite <= ts <= finite:
                return False
        elif kind is not int or not -limit < ts < limit:
            return False
        if not _good_labels(labels):
            return False
    return True


def _good_series(series: Any) -> bool:
    if type(series) is not list or len(series) > MAX_SAMPLES:
        return False
    finite, limit = _FINITE, _INT_LIMIT
    for item in series:
        if type(item) is not dict:
            return False
        name, labels, points = item.get("name"), item.get("labels"), item.get("points")
        if not (_good_name(name) and _good_labels(labels)) or type(points) is not list or not points:
            return False
        for point in points:
            if type(point) is not list or len(point) != 2:
                return False
            for number in point:
                kind = type(number)
                if kind is float:
                    if not -finite <= number <= finite:
                        return False
                elif kind is not int or not -limit < number < limit:
                    return False
    return True


def _check_samples(samples: Any, *, with_ts: bool, limit: int = MAX_SAMPLES) -> dict | list | None:
    if limit == MAX_SAMPLES and _good_samples(samples, with_ts):
        return None
    problem = _list(samples, limit)
    if problem:
        return [problem]
    for index, sample in enumerate(samples):
        bad = _check_sample(sample, with_ts=with_ts)
        if bad:
            return {str(index): bad}
    return None


def _check_series(series: Any) -> dict | list | None:
    if _good_series(series):
        return None
    problem = _list(series, MAX_SAMPLES)
    if problem:
        return [problem]
    for index, item in enumerate(series):
        if type(item) is not dict:
            return {str(index): {"non_field_errors": [_("A series must be an object.")]}}
        for field, check in (("name", _name), ("labels", _labels)):
            problem = check(item.get(field)) if field in item else _("This field is required.")
            if problem:
                return {str(index): {field: [problem]}}
        points = item.get("points")
        if type(points) is not list or not points:
            return {str(index): {"points": [_("A non-empty list of [time, value] pairs is required.")]}}
        for number, point in enumerate(points):
            if type(point) is not list or len(point) != 2:
                return {str(index): {"points": {str(number): [_("A [time, value] pair is required.")]}}}
            problem = _number(point[0]) or _number(point[1])
            if problem:
                return {str(index): {"points": {str(number): [problem]}}}
    return None


def _check_columns(columns: Any) -> dict | list | None:
    problem = _list(columns, MAX_SAMPLES)
    if problem:
        return [problem]
    for index, item in enumerate(columns):
        where = str(index)
        if type(item) is not list or len(item) != 4:
            return {where: {"non_field_errors": [_("A series must be a list of its name, labels, times and values.")]}}
        name, labels, times, values = item
        for field, value, check in (("name", name, _name), ("labels", labels, _labels)):
            problem = check(value)
            if problem:
                return {where: {field: [problem]}}
        for field, numbers in (("times", times), ("values", values)):
            if type(numbers) is not list or not numbers:
                return {where: {field: [_("A non-empty list of numbers is required.")]}}
            for number, value in enumerate(numbers):
                problem = _number(value)
                if problem:
                    return {where: {field: {str(number): [problem]}}}
        if len(times) != len(values):
            return {where: {"values": [_("As many values as times are required.")]}}
    return None


def _check_checks(checks: Any) -> dict | list | None:
    problem = _list(checks, MAX_SAMPLES)
    if problem:
        return [problem]
    for index, item in enumerate(checks):
        where = str(index)
        if type(item) is not dict:
            return {where: {"non_field_errors": [_("A check result must be an object.")]}}
        if type(item.get("id")) is not int or item["id"] < 1:
            return {where: {"id": [_("A check id is required.")]}}
        if item.get("state") not in CHECK_STATES:
            return {where: {"state": [_("One of ok, warning, critical or unknown is required.")]}}
        problem = _number(item.get("ts"))
        if problem:
            return {where: {"ts": [problem]}}
        for field, limit in (("code", 40), ("message", 500)):
            value = item.get(field, "")
            if type(value) is not str or len(value) > limit:
                return {where: {field: [_("A string of at most %(max)d characters is required.") % {"max": limit}]}}
        if type(item.get("params", {})) is not dict:
            return {where: {"params": [_("An object is required.")]}}
        bad = _check_samples(item.get("samples", []), with_ts=False)
        if bad:
            return {where: {"samples": bad}}
    return None


def validate(body: Any) -> dict[str, Any]:
    """Check a parsed batch; answer it unchanged, or raise Invalid naming the first problem."""
    if type(body) is not dict:
        raise Invalid({"non_field_errors": [_("A JSON object is required.")]})
    seq = body.get("seq")
    if seq is None:
        raise Invalid({"seq": [_("This field is required.")]})
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        raise Invalid({"seq": [_("A whole number from 1 to 2^63-1 is required.")]})
    if "sent_at" in body and _number(body["sent_at"]):
        raise Invalid({"sent_at": [_number(body["sent_at"])]})
    if not any(key in body for key in ("samples", "series", "columns", "checks")):
        raise Invalid({"samples": [_("This field is required.")]})
    for key, check in (("samples", lambda v: _check_samples(v, with_ts=True)),
                       ("series", _check_series), ("columns", _check_columns), ("checks", _check_checks)):
        if key in body:
            bad = check(body[key])
            if bad:
                raise Invalid({key: bad})
    if count_samples(body) > MAX_SAMPLES:
        raise Invalid({"samples": [_("At most %(max)d samples are allowed in one batch.") % {"max": MAX_SAMPLES}]})
    return body


# --- what is stored ------------------------------------------------------------------------------
# The samples of a good batch are stored packed (`PACKED`): a header (JSON: the sequence number,
# sent_at, and each series' name, labels and number of samples) and then each series' times and
# values as little-endian doubles, in time order (times shared with the series before are not
# repeated: see `packed`). The filer copies those bytes into its chunks as they are,
# without a Python number per sample (reading the numbers back with orjson, then packing them again
# for the chunk, was a third of its CPU), and the row is about half the size of the JSON. A host
# agent's `samples` are grouped per series first, in the loop that checks them (it skips the label
# checks of a series it has seen in the batch). The marker bytes start no JSON text, so a client's
# body (stored as received in every other case: `series`, `checks`) never passes for one.
# `COLUMNS` marks rows stored before, as JSON columns; they are read as ever.
PACKED = b"\x02"
COLUMNS = b"\x01"
# In a packed row's head: its samples are in the metric store already (a push forwarded them,
# monitoring/forwarding.py); the row carries what filing still needs of them, and filing writes
# none of them again: the columns of the metrics alert rules watch, and after their numbers
# (`LATEST`, a count) the newest sample of every other series, by series id: the ids (int64),
# then the times, then the values (doubles). `FORWARDED` is how many samples the batch carried.
IN_STORE = "in_store"
LATEST = "latest"
FORWARDED = "forwarded"
_COLUMN_KEYS = {"seq", "sent_at", "samples"}
_HEAD_SIZE = struct.Struct("<I")
_SWAP = sys.byteorder != "little"


def packed(head: dict[str, Any], columns: Iterable[tuple[str, dict, list, list]],
           latest: tuple[list[int], list[float], list[float]] | None = None) -> bytes:
    """The stored form of checked columns (name, labels, times, values) with the batch's `head`,
    and of the newest samples of series by id (`latest`: ids, times, values; see IN_STORE)."""
    series: list[tuple] = []
    # All numbers in one list, packed by one struct call: an array per list cost 86 µs for 1,000
    # samples, one array of all 55 (ints converted one by one), struct 31.
    flat: list[float] = []
    # An agent reads all its series at the same moments: a series whose times are those of the
    # series before is stored without them (a fourth field, 1, in its header entry). A 1,000-sample
    # batch of 100 series then takes 12.8 KB instead of 20.7, and PostgreSQL's insert of it 40 µs
    # of the server's CPU instead of 55-60 (docs/performance.md, round seven: within the noise of
    # the whole benchmark's rates, though).
    previous: list | None = None
    for name, labels, times, values in columns:
        if len(times) > 1 and times != sorted(times):
            order = sorted(range(len(times)), key=times.__getitem__)
            times, values = [times[i] for i in order], [values[i] for i in order]
        if times == previous:
            series.append((name, labels, len(times), 1))
        else:
            series.append((name, labels, len(times)))
            flat += times
            previous = times
        flat += values
    tail = b""
    if latest is not None:
        ids, times, values = latest
        head = {**head, LATEST: len(ids)}
        tail = array("q", ids).tobytes() + _doubles(2 * len(ids)).pack(*times, *values)
        if _SWAP:
            tail = _little_endian(tail, len(ids))
    header = orjson.dumps({**head, "series": series})
    return b"".join([PACKED, _HEAD_SIZE.pack(len(header)), header, _doubles(len(flat)).pack(*flat), tail])


def _little_endian(tail: bytes, count: int) -> bytes:
    ids = array("q", tail[:8 * count])
    ids.byteswap()
    return ids.tobytes() + tail[8 * count:]


_structs: dict[int, struct.Struct] = {}


def _doubles(count: int) -> struct.Struct:
    """The struct of `count` little-endian doubles (kept: a fleet's batches have a few sizes)."""
    found = _structs.get(count)
    if found is None:
        if len(_structs) > 1000:
            _structs.clear()
        found = _structs[count] = struct.Struct(f"<{count}d")
    return found


def _unpacked(payload: bytes | memoryview) -> dict[str, Any]:
    """A packed row as the filer reads it: the head, and `packed`: (name, labels, times, values)
    per series, the numbers as views of little-endian doubles in the row."""
    view = memoryview(payload)
    (size,) = _HEAD_SIZE.unpack_from(view, 1)
    start = 1 + _HEAD_SIZE.size + size
    head = orjson.loads(view[1 + _HEAD_SIZE.size:start])
    series = []
    times = view[0:0]
    for entry in head.pop("series"):
        name, labels, count = entry[0], entry[1], entry[2]
        if len(entry) > 3:  # the times of the series before (see `packed`)
            end = start + 8 * count
            series.append((name, labels, times, view[start:end]))
        else:
            middle, end = start + 8 * count, start + 16 * count
            times = view[start:middle]
            series.append((name, labels, times, view[middle:end]))
        start = end
    head["packed"] = series
    if LATEST in head:
        count = head[LATEST]
        head[LATEST] = (view[start:start + 8 * count], view[start + 8 * count:start + 16 * count],
                        view[start + 16 * count:start + 24 * count])
    return head


def latest_samples(body: dict[str, Any]) -> list[tuple[int, float, float]]:
    """The (series id, time, value) of a forwarded batch's newest samples (see IN_STORE)."""
    if LATEST not in body:
        return []
    ids, times, values = (array(kind, bytes(part)) for kind, part in zip("qdd", body[LATEST], strict=True))
    if _SWAP:
        for numbers in (ids, times, values):
            numbers.byteswap()
    return list(zip(ids, times, values, strict=True))


def stored_columns(payload: bytes | memoryview) -> list[list]:
    """The columns of a stored row (packed or JSON columns), numbers as floats: what tests compare."""
    body = stored_body(payload)
    if "packed" not in body:
        return body.get("columns", [])
    answer = []
    for name, labels, times, values in body["packed"]:
        numbers = array("d", bytes(times) + bytes(values))
        if _SWAP:
            numbers.byteswap()
        half = len(numbers) // 2
        answer.append([name, labels, numbers[:half].tolist(), numbers[half:].tolist()])
    return answer


def _good_columns(samples: list) -> dict | None:
    """The samples grouped per series (name, labels, times, values), or None when one is not good."""
    groups: dict[Any, tuple[str, dict, list, list]] = {}
    good, finite, limit = _good_names, _FINITE, _INT_LIMIT
    for sample in samples:
        if type(sample) is not dict:
            return None
        try:
            name, labels, value, ts = sample["name"], sample["labels"], sample["value"], sample["ts"]
        except KeyError:
            return None
        if type(labels) is not dict:
            return None
        # Only checked names and string label values are in `groups`, so a key found there
        # (equal name and label pairs) is a checked one.
        key = (name, *labels.items()) if labels else name
        group = groups.get(key)
        if group is None:
            if (name not in good and not _good_name(name)) or not _good_labels(labels):
                return None
            group = groups[key] = (name, labels, [], [])
        kind = type(value)
        if kind is float:
            if not -finite <= value <= finite:
                return None
        elif kind is not int or not -limit < value < limit:
            return None
        kind = type(ts)
        if kind is float:
            if not -finite <= ts <= finite:
                return None
        elif kind is not int or not -limit < ts < limit:
            return None
        group[2].append(ts)
        group[3].append(value)
    return groups


_NUMBERS = frozenset((int, float))
_COLUMNS_PUSH_KEYS = {"seq", "sent_at", "columns"}


def _good_head(body: dict) -> bool:
    seq, sent_at = body.get("seq"), body.get("sent_at", 0.0)
    return type(seq) is int and 1 <= seq <= MAX_SEQ and type(sent_at) in _NUMBERS


def _good_column_list(columns: Any) -> bool:
    """Yes or no for a `columns` list parsed by orjson, which reads no NaN, no infinity and no
    integer beyond 64 bits: a number's type is all there is to check, one C call per list
    (`set(map(type, …))`), so a sample costs a few tens of nanoseconds here."""
    if type(columns) is not list or len(columns) > MAX_SAMPLES:
        return False
    good, total = _good_names, 0
    numbers: list[list] = []
    append = numbers.append
    shared: list = []  # the times of the series before
    unsure = False
    for item in columns:
        if type(item) is not list or len(item) != 4:
            return False
        name, labels, times, values = item
        if type(name) is not str or (name not in good and not _good_name(name)) or not _good_labels(labels):
            return False
        if type(times) is not list or type(values) is not list or len(times) != len(values) or not times:
            return False
        # An agent reads its series at the same moments: times equal to the series' before are
        # numbers already checked (one C comparison instead of checking each), unless they hold a
        # 0 or 1, which `false` and `true` equal.
        if times != shared or unsure:
            append(times)
            shared, unsure = times, 0 in times or 1 in times
        append(values)
        total += len(times)
    # All the batch's numbers in one C loop: a quarter less than two per series.
    return total <= MAX_SAMPLES and set(map(type, chain.from_iterable(numbers))) <= _NUMBERS


Column = tuple[str, dict, list, list]


def checked_columns(raw: bytes) -> tuple[dict[str, Any], dict[str, Any] | None, list[Column] | None]:
    """Parse and check a pushed body (raising Invalid as `validate` does); answers the body and,
    for a host agent's samples (a `columns` body, or `samples` grouped into columns here), the
    batch's head (its sequence number and sent_at) and its columns (name, labels, times, values);
    None and None for every other body, which is stored as received."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return validate(parse(raw)), None, None  # NaN, a huge integer or no JSON at all: named by the checks
    if type(body) is dict:
        keys = body.keys()
        if keys <= _COLUMNS_PUSH_KEYS and "columns" in body and _good_head(body) \
                and _good_column_list(body["columns"]):
            return body, {key: value for key, value in body.items() if key != "columns"}, body["columns"]
        if keys <= _COLUMN_KEYS and type(body.get("samples")) is list and len(body["samples"]) <= MAX_SAMPLES:
            try:
                groups = _good_columns(body["samples"])
            except TypeError:  # e.g. a name that is a list (unhashable): the checks say what
                groups = None
            if groups is not None:
                head = {key: value for key, value in body.items() if key != "samples"}
                validate({**head, "samples": []})  # the sequence number and sent_at, named as ever
                return body, head, list(groups.values())
    return validate(body), None, None


def checked(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """Parse and check a pushed body (raising Invalid as `validate` does); answers the body and
    what to store: its samples `packed` (see `checked_columns`), or the body as received."""
    body, head, columns = checked_columns(raw)
    if columns is None:
        return body, raw
    return body, packed(head, columns)


def stored_body(payload: bytes | memoryview) -> dict[str, Any]:
    """A stored batch as the filer reads it: `packed` (see `_unpacked`) for packed rows, else
    `samples`, `series`, `columns` and `checks` as pushed (or `columns` made by `checked` before
    rows were packed)."""
    marker = payload[:1]
    if marker == PACKED:
        return _unpacked(payload)
    if marker == COLUMNS:
        return orjson.loads(payload[1:])
    body = orjson.loads(payload)
    if "columns" in body and not _good_column_list(body["columns"]):
        # Stored before `columns` was a push format, when an unknown key went unchecked: never filed.
        del body["columns"]
    return body


def count_samples(body: dict[str, Any]) -> int:
    return (len(body.get("samples", ())) + sum(len(s["points"]) for s in body.get("series", ()))
            + sum(len(c[2]) for c in body.get("columns", ()))
            + sum(len(c.get("samples", ())) for c in body.get("checks", ())))
