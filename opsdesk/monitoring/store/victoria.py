"""The Prometheus-compatible back end: VictoriaMetrics (also Prometheus with its remote-write
receiver, or Mimir behind one URL).

- `write` sends Prometheus remote write (a protobuf WriteRequest, snappy block-compressed) to
  `URL/api/v1/write`. Each series carries `__name__`, its own labels and three of opsdesk's:
  `opsdesk_series` (the Series row's id, the selector it is read back with), `ci` and `customer`.
  An error answer or an unreachable store raises MetricStoreError, so the filer's transaction
  rolls back and its batches are filed again on the next pass (at least once: the same sample
  sent twice is harmless). That includes 400, which the remote-write specification says not to
  retry: VictoriaMetrics also answers 400 to a wrong path (a URL with a stray prefix), and
  dropping samples on it would lose everything without a word. The price: a store that refuses
  samples for good (Prometheus without out-of-order ingestion, for samples older than what it
  has) stops filing until an administrator acts (the error is in the worker's log, and the
  unfiled batches pile up).
- `write_block` sends a host agent's push the same way, from the push itself (forwarding.py): its
  WriteRequest written in C, in a snappy block that stores it uncompressed (`snappy_stored`), over
  a kept-alive socket per thread (import_post.py).
- `query` and `averages` are PromQL over HTTP (`/api/v1/query_range`, `/api/v1/query`), with
  `avg_over_time`, `min_over_time` and `max_over_time` over windows of one step. They ask with
  `nocache=1`: VictoriaMetrics answers step-aligned ranges older than five minutes from a response
  cache that does not see samples arriving late (an agent's spool after an outage; measured with
  1.79: a few seconds). Our evaluation times end a millisecond before each bucket, which it does
  not cache anyway; the parameter keeps it so. Prometheus ignores it.
- Retention, downsampling and compaction are the store's own: `housekeeping` does nothing.

The WriteRequest is encoded here by hand rather than with the `protobuf` package: only three
message types are written (TimeSeries, Label, Sample), a series' labels never change so their
bytes are cached per series, and a series' samples are packed by one precompiled struct call.
Measured on 10,000 samples (docs/performance.md, "Monitoring ingest"): 0.4 µs a sample against
1.1–1.8 µs with protobuf's upb messages (10 samples per series), 1.7 against 6.9 µs (one sample
per series, where the labels dominate).
"""

from __future__ import annotations

import base64
import math
import struct
import threading
from urllib.parse import unquote, urlsplit, urlunsplit

import cramjam
import httpx
import orjson

from opsdesk.monitoring.store.base import (
    MAX_POINTS,
    RAW,
    MetricStoreError,
    Points,
    SeriesData,
    choose_step,
)
from opsdesk.monitoring.store.import_post import ImportPost, PostFailed

WRITE_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "opsdesk",
}
# One remote-write request carries at most about this many samples (VictoriaMetrics refuses
# requests over 32 MB by default; 50,000 samples are about 1 MB before compression).
SAMPLES_PER_REQUEST = 50_000
# Series per PromQL request: the regex of their ids must stay well within the store's limit on
# the length of a query (VictoriaMetrics: 16 KB).
SERIES_PER_QUERY = 500
RAW_MIN_STEP = 15
LABEL_CACHE_LIMIT = 100_000
# opsdesk's own labels; a series' own label of the same name (or any starting with "__", which
# Prometheus reserves) is kept as exported_<name>, as Prometheus does with a scrape's labels.
OWN_LABELS = ("opsdesk_series", "ci", "customer")




# --- the remote-write encoding ----------------------------------------------------------------

def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 as protobuf writes it: two's complement, ten bytes
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _string(field: int, text: str) -> bytes:
    data = text.encode()
    return bytes(((field << 3) | 2,)) + _varint(len(data)) + data


def encode_labels(pairs: list[tuple[str, str]]) -> bytes:
    """TimeSeries field 1, one Label message per pair (sorted by name, as the specification asks)."""
    out = []
    for name, value in sorted(pairs):
        label = _string(1, name) + _string(2, value)
        out.append(b"\x0a" + _varint(len(label)) + label)
    return b"".join(out)


def series_labels(points: Points) -> list[tuple[str, str]]:
    return labels_of(points.series_id, points.item_id, points.customer_id, points.name, points.labels)


def labels_of(series_id: int, item_id: int, customer_id: int, name: str,
              labels: dict[str, str]) -> list[tuple[str, str]]:
    """A series' labels in the store: its name, opsdesk's three and its own."""
    pairs = {"__name__": name, "opsdesk_series": str(series_id), "ci": str(item_id), "customer": str(customer_id)}
    for label, value in labels.items():
        if value == "":  # Prometheus: an empty value is no label
            continue
        if label in OWN_LABELS or label.startswith("__"):
            label = f"exported_{label}"
        pairs.setdefault(label, value)
    return list(pairs.items())


# A Sample of a time stamp in milliseconds between 2^35 and 2^42 (2001-09-09 to 2109-05-15) is
# always 18 bytes: 0x12 0x10 (field 2 of TimeSeries, 16 bytes), 0x10 + the time stamp as a 6-byte
# varint (field 2), 0x09 + the value as a double (field 1). Fields may come in any order, so the
# time stamp goes first, and each sample packs as "<QHd": 0x12 0x10 0x10 + varint bytes 0-4 in
# the Q, varint byte 5 + 0x09 in the H, then the double.
_TS_LOW, _TS_HIGH = 1 << 35, 1 << 42
_HEAD = 0x12 | (0x10 << 8) | (0x10 << 16)
# Varint bytes 0 and 1 (time stamp bits 0-13) in their place in the Q.
_LOW_BITS = [(((i & 0x7F) | 0x80) | ((((i >> 7) & 0x7F) | 0x80) << 8)) << 24 for i in range(1 << 14)]
_high_bits: dict[int, tuple[int, int]] = {}
_structs: dict[int, struct.Struct] = {}
_double = struct.Struct("<d").pack


def _high(h: int) -> tuple[int, int]:
    """Varint bytes 2-4 (in place in the Q) and byte 5 with the 0x09 after it (the H), for time
    stamp bits 14 and up. Samples of one pass share a few of these, so they are kept."""
    if len(_high_bits) > 100_000:
        _high_bits.clear()
    found = _high_bits[h] = ((((h & 0x7F) | 0x80) << 40) | ((((h >> 7) & 0x7F) | 0x80) << 48)
                             | ((((h >> 14) & 0x7F) | 0x80) << 56), (h >> 21) | 0x0900)
    return found


def encode_samples(ts: list[float], values: list[float]) -> bytes:
    """TimeSeries field 2: one Sample per (time in seconds, value)."""
    millis = [int(t * 1000.0 + 0.5) if t >= 0 else math.floor(t * 1000.0 + 0.5) for t in ts]
    if min(millis) >= _TS_LOW and max(millis) < _TS_HIGH:
        count = len(millis)
        packer = _structs.get(count)
        if packer is None:
            packer = struct.Struct("<" + "QHd" * count)
            if len(_structs) < 4096:
                _structs[count] = packer
        args: list = []
        extend = args.extend
        low, high_bits, high = _LOW_BITS, _high_bits, _high
        for t, value in zip(millis, values, strict=True):
            top = high_bits.get(t >> 14) or high(t >> 14)
            extend((_HEAD | low[t & 0x3FFF] | top[0], top[1], value))
        return packer.pack(*args)
    out = []
    for t, value in zip(millis, values, strict=True):
        sample = b"\x09" + _double(value) + b"\x10" + _varint(t)
        out.append(b"\x12" + _varint(len(sample)) + sample)
    return b"".join(out)


def timeseries(labels: bytes, samples: bytes) -> bytes:
    """A WriteRequest's field 1: one TimeSeries of encoded labels and samples."""
    return b"\x0a" + _varint(len(labels) + len(samples)) + labels + samples


def snappy_stored(data: bytes) -> bytes:
    """`data` as a snappy block that stores it as one literal, without compressing it: what a
    push's request is sent as (forwarding.py). Remote write must be snappy, and on 127.0.0.1
    compressing a push's 20 KB cost the web process more than the store saved reading fewer bytes
    (docs/performance.md, round thirteen). Up to 4 GB, as _pushscan.write_request writes it."""
    length = len(data)
    if length == 0:
        return b"\x00"
    size = 3 if length <= 1 << 24 else 4
    return _varint(length) + bytes(((59 + size) << 2,)) + (length - 1).to_bytes(size, "little") + data


# --- the store --------------------------------------------------------------------------------

def _split_url(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """The base URL without its credentials (safe to show), and the basic auth they give."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("OPSDESK_METRICS_URL must be an http:// or https:// URL")
    auth = None
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username is not None or parts.password is not None:
        auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return base, auth


def _number(text: str) -> float:
    return float(text)


class VictoriaMetricsStore:
    name = "victoria"
    needs_labels = True
    takes_pushes = True  # a host agent's push is written here directly (forwarding.py)

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.base_url, self._auth = _split_url(url)
        self.shown_url = self.base_url
        self._timeout_s = timeout
        # The pushes' way in (forwarding.py): remote write over a kept-alive socket per thread.
        push_headers = dict(WRITE_HEADERS)
        if self._auth is not None:
            creds = urlsplit(url.strip())
            pair = f"{unquote(creds.username or '')}:{unquote(creds.password or '')}".encode()
            push_headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        self._pusher = ImportPost(self.base_url, f"{urlsplit(self.base_url).path}/api/v1/write", push_headers, timeout)
        self._timeout = httpx.Timeout(timeout, connect=5.0)
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        # (series id, customer id) -> the encoded labels of the series (they never change).
        self._labels: dict[tuple[int, int], bytes] = {}

    def __repr__(self) -> str:
        return f"VictoriaMetricsStore({self.shown_url!r})"

    @property
    def client(self) -> httpx.Client:
        """One client per process, made on first use (after a fork, never before it)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(base_url=self.base_url, auth=self._auth, timeout=self._timeout,
                                                limits=httpx.Limits(max_connections=16,
                                                                    max_keepalive_connections=8))
        return self._client

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise MetricStoreError(f"metric store {self.shown_url} unreachable ({type(exc).__name__}: {exc})") from None

    # --- writing ------------------------------------------------------------------------------

    def _series_bytes(self, points: Points) -> bytes:
        key = (points.series_id, points.customer_id)
        labels = self._labels.get(key)
        if labels is None:
            if len(self._labels) >= LABEL_CACHE_LIMIT:
                self._labels.clear()
            labels = self._labels[key] = encode_labels(series_labels(points))
        return timeseries(labels, encode_samples(points.ts, points.values))

    def encode(self, points: list[Points]) -> list[tuple[bytes, int]]:
        """The WriteRequests (uncompressed) for the points, with their samples, in requests of
        about SAMPLES_PER_REQUEST samples."""
        requests: list[tuple[bytes, int]] = []
        parts: list[bytes] = []
        count = 0
        for item in points:
            if not item.ts:
                continue
            parts.append(self._series_bytes(item))
            count += len(item.ts)
            if count >= SAMPLES_PER_REQUEST:
                requests.append((b"".join(parts), count))
                parts, count = [], 0
        if parts:
            requests.append((b"".join(parts), count))
        return requests

    def write(self, points: list[Points]) -> None:
        for body, count in self.encode(points):
            answer = self._request("POST", "/api/v1/write", content=bytes(cramjam.snappy.compress_raw(body)),
                                   headers=WRITE_HEADERS)
            if answer.status_code >= 300:
                raise MetricStoreError(f"metric store {self.shown_url} answered {answer.status_code} to a write "
                                       f"of {count} samples: {answer.text[:300]}")

    def write_block(self, body: bytes, count: int) -> None:
        """Send a push's WriteRequest (`count` samples, already a snappy block: snappy_stored) as
        `write` does, over this thread's kept-alive socket. Raises MetricStoreError for an error
        answer or an unreachable store."""
        for attempt in (1, 2):
            try:
                status, text = self._pusher.post(body)
            except PostFailed as exc:
                # A kept-alive connection the store closed while idle fails before the store
                # reads the request: once more on a new one. Anything else is the store's trouble.
                if attempt == 1 and exc.retry:
                    continue
                raise MetricStoreError(f"metric store {self.shown_url} unreachable ({exc})") from None
            if status >= 300:
                raise MetricStoreError(f"metric store {self.shown_url} answered {status} to a write "
                                       f"of {count} samples: {text[:300].decode(errors='replace')}")
            return

    # --- reading ------------------------------------------------------------------------------

    def _promql(self, path: str, form: dict[str, str]) -> list[dict]:
        answer = self._request("POST", path, data=form)
        try:
            body = orjson.loads(answer.content)
        except orjson.JSONDecodeError:
            body = {}
        if answer.status_code != 200 or body.get("status") != "success":
            raise MetricStoreError(f"metric store {self.shown_url} answered {answer.status_code} to a query: "
                                   f"{body.get('error') or answer.text[:300]}")
        return body["data"]["result"]

    @staticmethod
    def _selector(ids: list[int]) -> str:
        if len(ids) == 1:
            return f'{{opsdesk_series="{ids[0]}"}}'
        return '{opsdesk_series=~"' + "|".join(str(i) for i in ids) + '"}'

    def query(self, series: list[tuple[int, str, dict[str, str]]], start: float, end: float,
              step: int | None = None) -> dict[int, SeriesData]:
        """Buckets of `step` seconds aligned as the SQL store's rollups ([ts, ts + step), ts a
        multiple of the step), each with the average, minimum and maximum of its samples. Where
        choose_step says raw samples, the step is the span / 1,500, at least 15 s: a Prometheus
        query cannot answer raw samples, and a chart shows no more points than that anyway."""
        ids = sorted({item[0] for item in series})
        chosen = choose_step(start, end, step)
        if chosen == RAW:
            chosen = max(RAW_MIN_STEP, math.ceil((end - start) / MAX_POINTS))
        found: dict[int, dict[str, list]] = {i: {} for i in ids}
        first = start - start % chosen
        last = end - end % chosen
        if last < first:
            last = first
        # A PromQL window (t - step, t] evaluated at t = bucket + step - 1 ms is [bucket, bucket + step)
        # for time stamps in milliseconds, which is what the SQL rollups hold.
        window = f"{chosen}s"
        for offset in range(0, len(ids), SERIES_PER_QUERY):
            selector = self._selector(ids[offset:offset + SERIES_PER_QUERY])
            promql = " or ".join(f'label_replace({agg}_over_time({selector}[{window}]), "opsdesk_agg", "{agg}", "", "")'
                                 for agg in ("avg", "min", "max"))
            result = self._promql("/api/v1/query_range", {
                "query": promql, "start": f"{first + chosen - 0.001:.3f}", "end": f"{last + chosen - 0.001:.3f}",
                "step": f"{chosen}s", "nocache": "1"})
            for row in result:
                metric = row["metric"]
                try:
                    series_id = int(metric.get("opsdesk_series", ""))
                except ValueError:
                    continue
                if series_id in found:
                    found[series_id][metric.get("opsdesk_agg", "avg")] = row["values"]
        answer = {}
        shift = chosen - 0.001
        for series_id, by_agg in found.items():
            avg = by_agg.get("avg", [])
            low = dict(by_agg.get("min", []))
            high = dict(by_agg.get("max", []))
            ts, avgs, mins, maxs = [], [], [], []
            for at, value in avg:
                ts.append(round(at - shift, 3))
                number = _number(value)
                avgs.append(number)
                mins.append(_number(low[at]) if at in low else number)
                maxs.append(_number(high[at]) if at in high else number)
            answer[series_id] = SeriesData(step=chosen, ts=ts, avg=avgs, min=mins, max=maxs)
        return answer

    def averages(self, series: list[tuple[int, str, dict[str, str]]], start: float, end: float) -> dict[int, float]:
        ids = sorted({item[0] for item in series})
        window = f"{max(1, round((end - start) * 1000))}ms"
        wanted = set(ids)
        found: dict[int, float] = {}
        for offset in range(0, len(ids), SERIES_PER_QUERY):
            selector = self._selector(ids[offset:offset + SERIES_PER_QUERY])
            result = self._promql("/api/v1/query", {"query": f"avg_over_time({selector}[{window}])",
                                                     "time": f"{end:.3f}", "nocache": "1"})
            for row in result:
                try:
                    found[int(row["metric"].get("opsdesk_series", ""))] = _number(row["value"][1])
                except (ValueError, KeyError, IndexError):
                    continue
        return {i: v for i, v in found.items() if i in wanted and math.isfinite(v)}

    # --- the rest -----------------------------------------------------------------------------

    def housekeeping(self, now: float | None = None) -> dict[str, int]:
        return {}  # retention and downsampling are the store's own

    def health(self) -> tuple[bool, str]:
        last = ""
        for path in ("/health", "/-/healthy"):  # VictoriaMetrics; Prometheus and Mimir
            try:
                answer = self.client.get(path, timeout=5.0)
            except httpx.HTTPError as exc:
                return False, f"{self.shown_url} unreachable ({type(exc).__name__})"
            if answer.status_code == 200:
                return True, f"Prometheus-compatible store at {self.shown_url}"
            last = f"{self.shown_url}{path} answered {answer.status_code}"
        return False, last

