"""prometheus: scrape an exporter's /metrics (text exposition format) with httpx.

Every sample is kept, or only those whose metric name matches one of the `include` regular
expressions and none of `exclude` (searched anywhere in the name: anchor them with ^ and $), up
to `max_samples` (a cut is a warning that says how many were left out). NaN and ±Inf values are
left out.

Counters become rates, as Prometheus users chart them with rate(): a cumulative count (bytes
since boot) says nothing on a chart. A sample is a counter when its family's `# TYPE` line says
`counter` (or, untyped, its name ends in `_total`), and so are a histogram's or a summary's
`_bucket`, `_count` and `_sum`. With `counters` at "rate" (the default) each is kept as
`<name without _total>_per_second`, the per-second rate since the previous scrape: none on the
first scrape, none after a reset (the counter went down: an exporter restart). "raw" keeps the
counters as they come (for a Prometheus-compatible metric store queried with PromQL), "both"
keeps both.

The parser is this module's own: prometheus_client.parser builds a Metric object per family and
validates much more, taking about 13 µs a series on node_exporter's output against 3 µs here, and
a collector scrapes on the one event loop that also keeps the schedule of every other check.

Samples: the scraped series, and scrape_duration_seconds, scrape_samples_scraped,
scrape_samples_kept.
Thresholds: `warning` / `critical` on the scrape duration in milliseconds (above).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator

from .base import (
    CheckResult,
    CheckSpec,
    CheckType,
    Outcome,
    array,
    boolean,
    counter_rate,
    failure,
    forget_counters,
    gettext_noop,
    integer,
    login,
    number,
    param,
    result,
    schema,
    string,
)
from .http import client
from .http import prepare as prepare  # the same libraries and TLS contexts

SCHEMA = schema({
    "include": array(gettext_noop("Keep metrics whose name matches (regular expressions; empty: all)"),
                     {"type": "string", "format": "regex"}, []),
    "exclude": array(gettext_noop("Leave out metrics whose name matches (regular expressions)"),
                     {"type": "string", "format": "regex"}, []),
    "max_samples": integer(gettext_noop("At most this many samples per scrape"), 5000, 1, 1_000_000),
    "counters": string(gettext_noop("Counters: per-second rates (rate), as they come (raw), or both"), "rate",
                       enum=["rate", "raw", "both"]),
    "verify": boolean(gettext_noop("Verify the TLS certificate"), True),
    "username": string(gettext_noop("User name (basic authentication)"), ""),
    "warning": number(gettext_noop("Warning above (ms, scrape duration)"), None, 0),
    "critical": number(gettext_noop("Critical above (ms, scrape duration)"), None, 0),
})

ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"

# name, optional {labels}, value, optional timestamp (ignored: the collector stamps its runs).
_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*(\S+)(?:\s+\S+)?\s*\Z")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|\Z)')
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "\\": "\\", '"': '"'}


def parse(text: str, types: dict[str, str] | None = None) -> Iterator[tuple[str, dict[str, str], float] | None]:
    """Yields (name, labels, value) for each sample line, or None for a line it cannot read.
    Values that are not finite (NaN, ±Inf) are left out: a time series holds numbers. `types`,
    when given, gets each family's type from its `# TYPE` line."""
    for line in text.splitlines():
        if not line or line[0] == "#":
            if types is not None and line.startswith("# TYPE "):
                parts = line.split()
                if len(parts) == 4:
                    types[parts[2]] = parts[3]
            continue
        match = _SAMPLE.match(line)
        if match is None:
            if line.strip():
                yield None
            continue
        name, label_text, raw = match.groups()
        labels = _labels(label_text) if label_text else {}
        try:
            value = float(raw)
        except ValueError:
            yield None
            continue
        if labels is None:
            yield None
        elif math.isfinite(value):
            yield name, labels, value


def _labels(text: str) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _LABEL.match(text, position)
        if not match:
            return None
        value = match.group(2)
        labels[match.group(1)] = _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), value) \
            if "\\" in value else value
        position = match.end()
    return labels


_CUMULATIVE_SUFFIXES = ("_bucket", "_count", "_sum")


def is_counter(name: str, types: dict[str, str]) -> bool:
    """Whether a sample of this name counts up (see the module's docstring)."""
    kind = types.get(name)
    if kind is not None:
        return kind == "counter"
    for suffix in ("_total", *_CUMULATIVE_SUFFIXES):
        if name.endswith(suffix):
            family = types.get(name[:-len(suffix)])
            if family is not None:
                return family == "counter" if suffix == "_total" else family in ("histogram", "summary")
    return name.endswith("_total")


def rate_name(name: str) -> str:
    return (name[:-6] if name.endswith("_total") else name) + "_per_second"


def _matcher(spec: CheckSpec) -> tuple[list[re.Pattern], list[re.Pattern]]:
    return ([re.compile(p) for p in param(spec, "include", SCHEMA)],
            [re.compile(p) for p in param(spec, "exclude", SCHEMA)])


async def run(spec: CheckSpec, memo: dict) -> CheckResult:
    import httpx

    if not spec.target.lower().startswith(("http://", "https://")):
        return result("unknown", "bad_target", f"not an http:// or https:// URL: {spec.target!r}")
    try:
        include, exclude = _matcher(spec)
    except re.error as exc:
        return result("unknown", "bad_params", f"invalid regular expression: {exc}")
    username = login(spec, "username", SCHEMA)
    auth = httpx.BasicAuth(username, spec.secrets.get("password", "")) if username else None
    headers = {"Accept": ACCEPT}
    if spec.secrets.get("token"):
        headers["Authorization"] = f"Bearer {spec.secrets['token']}"
    started = time.perf_counter()
    try:
        async with client(param(spec, "verify", SCHEMA)) as http:
            response = await http.get(spec.target, headers=headers, auth=auth, timeout=spec.timeout)
    except Exception as exc:
        return failure(exc, timeout=spec.timeout, what=spec.target)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        return result("critical", "http_status", f"HTTP {response.status_code} from {spec.target}",
                      status=response.status_code)

    outcome = Outcome()
    limit = param(spec, "max_samples", SCHEMA)
    counters = param(spec, "counters", SCHEMA)
    now = time.time()
    types: dict[str, str] = {}
    # A name's verdicts (kept, a counter to rate), worked out once: a family repeats its name many
    # times, and its `# TYPE` line comes before its samples.
    verdicts: dict[str, tuple[bool, bool]] = {}
    seen: list[tuple] = []
    scraped = bad = wanted = 0
    for parsed in parse(response.text, types):
        if parsed is None:
            bad += 1
            continue
        scraped += 1
        name, labels, value = parsed
        verdict = verdicts.get(name)
        if verdict is None:
            keep = (not include or any(p.search(name) for p in include)) and \
                not any(p.search(name) for p in exclude)
            verdict = verdicts[name] = (keep, keep and counters != "raw" and is_counter(name, types))
        keep, counter = verdict
        if not keep:
            continue
        wanted += 1
        if wanted > limit:
            continue
        if not counter or counters == "both":
            outcome.sample(name, value, **labels)
        if counter:
            key = (name, *sorted(labels.items()))
            seen.append(key)
            outcome.sample(rate_name(name), counter_rate(memo, key, value, now), **labels)
    forget_counters(memo, seen)
    kept = len(outcome.samples)
    outcome.sample("scrape_duration_seconds", elapsed)
    outcome.sample("scrape_samples_scraped", scraped)
    outcome.sample("scrape_samples_kept", kept)
    if wanted > kept:
        outcome.problem("warning", "samples_cut", f"kept the first {kept} of {wanted} samples (max_samples): "
                        f"narrow `include` or raise the limit", kept=kept, total=wanted)
    if bad:
        outcome.note(f"{bad} lines could not be read")
    outcome.threshold(elapsed * 1000, param(spec, "warning", SCHEMA), param(spec, "critical", SCHEMA),
                      what="scrape duration", unit=" ms")
    return outcome.result(f"{scraped} samples scraped, {kept} kept, in {elapsed * 1000:.0f} ms",
                          scraped=scraped, kept=kept)


CHECK = CheckType(name="prometheus", label=gettext_noop("Prometheus exporter"), run=run, params_schema=SCHEMA,
                  default_interval=60.0, needs_secrets=("username", "password", "token"))
